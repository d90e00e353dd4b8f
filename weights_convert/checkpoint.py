"""Recognise what an unpickled checkpoint holds and gather what it says about the model.

Three kinds of file are accepted:

* ``whole-model``: ``torch.save(model)`` of a sudo_rm_rf model; its class names
  the variant and its attributes the hyper-parameters;
* ``asteroid``: an Asteroid package ``{"model_name", "model_args", "state_dict",
  "infos"}``; ``model_name`` names the variant, ``model_args`` the hyper-parameters;
* ``state-dict``: a bare state dict, possibly wrapped as ``{"state_dict": ...}``,
  ``{"model_state_dict": ...}`` or ``{"model": ...}`` and with DataParallel's
  ``module.`` prefix; it says nothing but its tensors.

What a checkpoint *declares* is kept apart from what its tensors show, so that
the converter can check one against the other.
"""
import math
from dataclasses import dataclass, field

import numpy as np

from npsep import architectures
from npsep.errors import ConvertError

from . import modules
from .torch_zip import ModuleStandIn

WHOLE_MODEL_CLASSES = {
    "sudo_rm_rf.dnn.models.sudormrf.SuDORMRF": "original",
    "sudo_rm_rf.dnn.models.improved_sudormrf.SuDORMRF": "improved",
    "sudo_rm_rf.dnn.models.groupcomm_sudormrf_v2.GroupCommSudoRmRf": "groupcomm",
}

ASTEROID_MODELS = {"SuDORMRFNet": "asteroid_sudormrf", "SuDORMRFImprovedNet": "asteroid_improved"}

ASTEROID_ARGS = {"n_src": "num_sources", "bn_chan": "out_channels", "in_chan": "in_channels",
                 "num_blocks": "num_blocks", "upsampling_depth": "upsampling_depth",
                 "kernel_size": "enc_kernel_size", "n_filters": "enc_num_basis",
                 "mask_act": "mask_act"}
"""Asteroid ``model_args`` name -> npsep hyper-parameter name."""

_FREE_FILTERBANKS = ("free", "FreeFB")
_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model")


@dataclass
class Checkpoint:
    """The tensors of a checkpoint and what it declares about itself."""
    kind: str
    tensors: dict
    variant: str = None
    hparams: dict = field(default_factory=dict)
    sample_rate: int = None
    origin: str = "the checkpoint"


def read(obj, depth=0):
    """Classify the unpickled ``obj``; raise :class:`ConvertError` if it is none of the kinds."""
    if isinstance(obj, ModuleStandIn):
        return _whole_model(obj)
    if not isinstance(obj, dict) or not obj:
        raise ConvertError(f"not a SuDoRM-RF checkpoint: it holds {_describe(obj)}")
    if "model_name" in obj and "state_dict" in obj:
        return _asteroid(obj)
    if all(isinstance(v, np.ndarray) for v in obj.values()):
        return Checkpoint("state-dict", _state_dict(obj, "the state dict"))
    for key in _WRAPPER_KEYS:
        if key in obj and depth < 2:
            return read(obj[key], depth + 1)
    keys = ", ".join(repr(k) for k in list(obj)[:4])
    raise ConvertError(f"not a SuDoRM-RF checkpoint: a dict with keys {keys}, "
                       "neither tensors nor a model")


def _whole_model(model):
    """A ``torch.save(model)`` pickle of one of :data:`WHOLE_MODEL_CLASSES`."""
    variant = WHOLE_MODEL_CLASSES.get(model.class_path)
    if variant is None:
        raise ConvertError(f"not a SuDoRM-RF checkpoint: the pickled model is a "
                           f"{model.class_path}")
    origin = f"the pickled {model.class_path.rsplit('.', 1)[1]}"
    declared = _declared(((name, modules.attribute(model, name)) for name in architectures.HPARAMS),
                         origin)
    tensors = _state_dict(modules.state_dict(model), origin)
    if "group_size" in architectures.hparam_names(variant):
        declared.update(_declared_group_size(model))
    return Checkpoint("whole-model", tensors, variant, declared, origin=origin)


def _declared_group_size(model):
    """``group_size`` from the ``num_group`` attribute of the GC blocks (all must agree)."""
    blocks = modules.children(modules.submodule(model, "sm"))
    sizes = [_declared([("num_group", modules.attribute(block, "num_group"))],
                       "a group-communication block").get("num_group") for block in blocks]
    sizes = [size for size in sizes if size is not None]
    if any(size != sizes[0] for size in sizes):
        raise ConvertError(f"the group-communication blocks disagree on num_group: {sizes}")
    return {"group_size": sizes[0]} if sizes else {}


def _asteroid(package):
    """An Asteroid ``serialize()`` package of SuDORMRFNet or SuDORMRFImprovedNet."""
    name = package["model_name"]
    variant = ASTEROID_MODELS.get(name) if isinstance(name, str) else None
    if variant is None:
        raise ConvertError(f"the Asteroid model {_short(name)} is not SuDoRM-RF "
                           f"(expected {' or '.join(ASTEROID_MODELS)})")
    args = package.get("model_args")
    if not isinstance(args, dict):
        raise ConvertError("the Asteroid package has no model_args dict")
    _check_filterbank(args)
    declared = _declared(((ASTEROID_ARGS[k], v) for k, v in args.items() if k in ASTEROID_ARGS),
                         "the Asteroid package")
    return Checkpoint("asteroid", _state_dict(package["state_dict"], "the package's state_dict"),
                      variant, declared, _sample_rate(args, package.get("infos")),
                      origin="the Asteroid package")


def _check_filterbank(args):
    """npsep implements Asteroid's free filterbank with hop ``kernel_size // 2`` only."""
    fb_name = args.get("fb_name", "free")
    if not isinstance(fb_name, str) or fb_name not in _FREE_FILTERBANKS:
        raise ConvertError(f"the Asteroid filterbank {_short(fb_name)} is not supported: "
                           "npsep needs a learned ('free') filterbank")
    kernel, stride = args.get("kernel_size"), args.get("stride")
    if stride is not None and isinstance(kernel, int) and (type(stride) is not int
                                                           or stride != kernel // 2):
        raise ConvertError(f"the Asteroid filterbank has stride {_short(stride)}; npsep needs "
                           f"kernel_size // 2 = {kernel // 2}")


def _sample_rate(args, infos):
    """The sample rate a package declares, or ``None``.

    Looked up in ``model_args``, then ``infos``, then the recipe's
    ``infos.training_config.data``; ``8000.0`` is fine, ``8000.5`` is not.
    """
    training = _get(infos, "training_config")
    for rate in (args.get("sample_rate"), _get(infos, "sample_rate"),
                 _get(_get(training, "data"), "sample_rate")):
        if rate is None:
            continue
        if (isinstance(rate, bool) or not isinstance(rate, (int, float))
                or not 0 < rate < math.inf or rate != int(rate)):
            raise ConvertError("the Asteroid package declares an unusable sample_rate "
                               f"{_short(rate)}")
        return int(rate)
    return None


def _get(mapping, key):
    """``mapping[key]`` if ``mapping`` is a dict that has it, else ``None``."""
    return mapping.get(key) if isinstance(mapping, dict) else None


def _declared(pairs, origin):
    """Declared hyper-parameters from ``(name, value)`` pairs, ``None`` values left out.

    Pickles can hold anything; only integers (strings for ``mask_act``) are
    hyper-parameters, so that comparing them with the shapes is well defined.
    """
    declared = {}
    for name, value in pairs:
        if value is None:
            continue
        kind = str if name == "mask_act" else int
        if type(value) is not kind:
            raise ConvertError(f"{origin} gives {name} as {_short(value)}, "
                               f"not {'a string' if kind is str else 'an integer'}")
        declared[name] = value
    return declared


def _state_dict(tensors, what):
    """A dict name -> array, without DataParallel's ``module.`` prefix."""
    if not isinstance(tensors, dict) or not tensors:
        raise ConvertError(f"{what} is {_describe(tensors)}, not a dict of tensors")
    for name, value in tensors.items():
        if not isinstance(name, str) or not isinstance(value, np.ndarray):
            raise ConvertError(f"{what} holds {_describe(value)} under {str(name)[:60]!r}, "
                               "not a tensor")
    if all(name.startswith("module.") for name in tensors):
        return {name[len("module."):]: value for name, value in tensors.items()}
    return dict(tensors)


def _short(value):
    """A one-line, bounded ``repr`` of a value read from a pickle, for messages."""
    text = " ".join(repr(value).split())
    return text if len(text) <= 40 else text[:37] + "..."


def _describe(obj):
    if isinstance(obj, ModuleStandIn):
        return f"a {obj.class_path}"
    if isinstance(obj, dict) and not obj:
        return "an empty dict"
    return f"a {type(obj).__name__}"
