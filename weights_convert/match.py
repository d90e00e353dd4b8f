"""Check a state dict against :mod:`npsep.architectures` and keep exactly the tensors npsep needs.

The result has the names of :func:`npsep.architectures.expected_shapes`, every one
float32. Extra entries are handled so that nothing is silently lost:

* an Asteroid filterbank duplicate (``encoder.encoder.filterbank._filters``
  beside ``encoder.filterbank._filters``) must equal the one kept; it is dropped;
* an integer or boolean buffer (``num_batches_tracked``-like) carries no weights;
  it is dropped with a note;
* anything else is an error: the file is not the model it looks like.
"""
import numpy as np

from npsep import architectures
from npsep.errors import ConvertError

from .infer import FILTERBANK


def select_tensors(variant, hp, tensors, note):
    """The float32 tensors of ``variant`` with ``hp``; ``note(text)`` is told what is dropped."""
    try:
        expected = architectures.expected_shapes(variant, hp)
    except ValueError as e:
        raise ConvertError(f"inconsistent {variant} checkpoint: {e}") from None
    selected = {}
    for name, shape in expected.items():
        if name not in tensors:
            raise ConvertError(f"tensor {name!r} is missing (a {variant} model {_summary(hp)} "
                               "needs it)")
        if not architectures.shape_matches(shape, tensors[name].shape):
            raise ConvertError(f"tensor {name!r} has shape {tuple(tensors[name].shape)}, "
                               f"expected {architectures.describe_shape(shape)} for a {variant} model "
                               f"{_summary(hp)}")
        selected[name] = _float32(name, tensors[name])
    for name in tensors:
        if name not in expected:
            _drop(name, tensors, selected, variant, note)
    return selected


def _drop(name, tensors, selected, variant, note):
    """Account for a tensor npsep does not need, or refuse it."""
    value = tensors[name]
    filterbanks = architectures.architecture(variant).encoder_weight.endswith(FILTERBANK)
    if filterbanks and name.endswith(FILTERBANK):
        kept = name.split(".", 1)[0] + FILTERBANK
        if kept not in selected or not np.array_equal(value, tensors[kept]):
            raise ConvertError(f"tensor {name!r} should duplicate {kept!r} but differs from it")
    elif value.dtype.kind in "biu":
        note(f"ignored integer buffer {name!r} ({value.dtype}, shape {tuple(value.shape)})")
    else:
        raise ConvertError(f"unexpected tensor {name!r} for a {variant} model")


def _float32(name, value):
    """A floating-point tensor as float32; other kinds cannot be weights."""
    if value.dtype.kind != "f":
        raise ConvertError(f"tensor {name!r} has dtype {value.dtype}; weights must be "
                           "floating point")
    return value.astype(np.float32)


def _summary(hp):
    """A short ``(out_channels=.., ...)`` for messages."""
    return "(" + ", ".join(f"{k}={v}" for k, v in hp.items()) + ")"
