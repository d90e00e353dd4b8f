"""Turn a pickled module tree (of :class:`ModuleStandIn`) into a state dict.

``torch.save(model)`` pickles each module's ``__dict__``: tensors live in its
``_parameters`` and ``_buffers`` ordered dicts, children in ``_modules``, and
hyper-parameters are plain attributes. ``state_dict`` rebuilds what
``model.state_dict()`` would return, with the same dotted names.
"""
from collections import OrderedDict

from npsep.errors import ConvertError

from .torch_zip import ModuleStandIn


def state_dict(module, prefix=""):
    """The tensors of ``module`` and its children, as ``model.state_dict()`` names them."""
    state = _module_state(module, prefix)
    tensors = OrderedDict()
    skipped = state.get("_non_persistent_buffers_set")
    skipped = skipped if isinstance(skipped, (set, frozenset)) else set()
    for name, value in state["_parameters"].items():
        if value is not None:
            tensors[f"{prefix}{name}"] = value
    for name, value in state["_buffers"].items():
        if value is not None and name not in skipped:
            tensors[f"{prefix}{name}"] = value
    for name, child in state["_modules"].items():
        if child is not None:
            tensors.update(state_dict(child, f"{prefix}{name}."))
    return tensors


def submodule(module, name):
    """The direct child ``name`` of a pickled module (``None`` if there is none)."""
    return _child_dict(module).get(name)


def children(module):
    """The direct child modules of a pickled module (none if it is ``None``)."""
    return [child for child in _child_dict(module).values() if child is not None]


def attribute(module, name):
    """A plain attribute of a pickled module (``None`` if absent)."""
    return getattr(module, "state", {}).get(name)


def _child_dict(module):
    found = getattr(module, "state", {}).get("_modules")
    return found if isinstance(found, dict) else {}


def _module_state(module, prefix):
    """The pickled ``__dict__`` of a module, checked to look like one of ``nn.Module``."""
    where = f"'{prefix[:-1]}'" if prefix else "the top-level object"
    if not isinstance(module, ModuleStandIn) or not hasattr(module, "state"):
        raise ConvertError(f"{where} of the checkpoint is not a torch.nn.Module")
    state = module.state
    for key in ("_parameters", "_buffers", "_modules"):
        if not isinstance(state.get(key), dict):
            raise ConvertError(f"{where} ({module.class_path}) has no {key} dict: "
                               "not a pickled torch.nn.Module")
    return state
