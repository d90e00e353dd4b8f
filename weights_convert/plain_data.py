"""Plain data a checkpoint carries next to its tensors, rebuilt as data, never as code.

Training scripts and Asteroid store metadata with the weights: validation metrics as
NumPy scalars (``np.float64``), small NumPy arrays, and ``torch.__version__``, a
``torch.torch_version.TorchVersion`` (a ``str`` subclass) in Asteroid's
``infos["software_versions"]``. Their pickles name these globals:

* ``numpy._core.multiarray.scalar(dtype, raw_bytes)`` (``numpy.core`` before NumPy 2);
* ``numpy._core.multiarray._reconstruct(numpy.ndarray, (0,), b"b")``, then a BUILD
  with ``(version, shape, dtype, is_fortran, raw_bytes)``;
* ``numpy.dtype(code, align, copy)``, then a BUILD with ``(3, byte_order, ...)``;
* ``_codecs.encode(text, "latin1")`` and ``bytes()``: how protocol-2 pickles write ``bytes``;
* ``torch.torch_version.TorchVersion(text)``.

:data:`GLOBALS` maps each to a function or class of this module that builds the value
from the pickle's bytes and a *numeric* dtype (bool, integer, float, complex) and
nothing else: no object, string or structured dtypes, arrays of at most
:data:`MAX_ARRAY_BYTES`. The converter then ignores these values.
"""
import math

import numpy as np

from npsep.errors import ConvertError

MAX_ARRAY_BYTES = 1 << 22
"""Largest NumPy array (4 MiB) read as metadata; tensors are torch storages, not arrays."""

_NUMERIC_KINDS = "biufc"
_BYTE_ORDERS = ("<", ">", "|", "=")


class DtypeSpec:
    """What ``numpy.dtype(code, align, copy)`` and its BUILD say: a numeric element type."""

    def __init__(self, code, align=False, copy=True):
        if not (isinstance(code, str) and len(code) <= 4 and code.isalnum()):
            raise ConvertError(f"unsupported NumPy dtype {str(code)[:20]!r} in the checkpoint")
        try:
            dtype = np.dtype(code)
        except (TypeError, ValueError):
            raise ConvertError(f"unsupported NumPy dtype {code!r} in the checkpoint") from None
        if dtype.kind not in _NUMERIC_KINDS or dtype.fields or dtype.subdtype:
            raise ConvertError(f"refusing NumPy dtype {code!r} in the checkpoint: only numbers "
                               "are read as metadata")
        self.dtype = dtype

    def __setstate__(self, state):
        """``(3, byte_order, None, None, None, -1, -1, 0)`` for a plain numeric dtype."""
        order = state[1] if isinstance(state, tuple) and len(state) > 1 else None
        if not isinstance(order, str) or order not in _BYTE_ORDERS:
            raise ConvertError("a NumPy dtype in the checkpoint has an invalid state")
        self.dtype = self.dtype.newbyteorder(order)


class _NdarrayMarker:
    """Stands for the class ``numpy.ndarray``, the first argument of ``_reconstruct``."""


NDARRAY = _NdarrayMarker()
"""What the pickle gets for ``numpy.ndarray``: an inert, non-callable marker."""


class PlainArray(np.ndarray):
    """A NumPy array rebuilt from a pickle: its BUILD state is checked before NumPy sees it."""

    def __setstate__(self, state):
        if not (isinstance(state, tuple) and len(state) == 5):
            raise ConvertError("a NumPy array in the checkpoint has an invalid state")
        _version, shape, spec, fortran, raw = state
        if not (isinstance(shape, tuple) and all(type(n) is int and n >= 0 for n in shape)
                and isinstance(spec, DtypeSpec) and isinstance(fortran, bool)
                and isinstance(raw, bytes)):
            raise ConvertError("a NumPy array in the checkpoint has an invalid state")
        size = math.prod(shape) * spec.dtype.itemsize
        if size > MAX_ARRAY_BYTES or len(raw) != size:
            raise ConvertError(f"a NumPy array of shape {shape} in the checkpoint has "
                               f"{len(raw)} bytes (expected {size}, at most {MAX_ARRAY_BYTES})")
        np.ndarray.__setstate__(self, (1, shape, spec.dtype, fortran, raw))


def reconstruct(cls, shape, typecode):
    """``numpy._core.multiarray._reconstruct``: an empty array that the BUILD then fills."""
    if cls is not NDARRAY:
        raise ConvertError("the checkpoint rebuilds a NumPy array of an unsupported class")
    return np.ndarray.__new__(PlainArray, (0,), np.uint8)


def scalar(spec, raw):
    """``numpy._core.multiarray.scalar``: one number of a numeric dtype from its bytes."""
    if not (isinstance(spec, DtypeSpec) and isinstance(raw, bytes)
            and len(raw) == spec.dtype.itemsize):
        raise ConvertError("a NumPy scalar in the checkpoint is not a number of its dtype")
    return np.frombuffer(raw, dtype=spec.dtype)[0]


def latin1_bytes(text, encoding):
    """``_codecs.encode(text, "latin1")``, the way protocol-2 pickles spell ``bytes``."""
    if not (isinstance(text, str) and encoding in ("latin1", "latin-1")):
        raise ConvertError(f"refusing _codecs.encode with {str(encoding)[:20]!r} in the checkpoint")
    return text.encode("latin1")


def empty_bytes():
    """``builtins.bytes()`` with no argument: protocol 2's spelling of ``b""``."""
    return b""


GLOBALS = {
    ("numpy", "dtype"): DtypeSpec,
    ("numpy", "ndarray"): NDARRAY,
    ("_codecs", "encode"): latin1_bytes,
    ("builtins", "bytes"): empty_bytes,
    ("torch.torch_version", "TorchVersion"): str,
    **{(module, name): fn for module in ("numpy.core.multiarray", "numpy._core.multiarray")
       for name, fn in (("scalar", scalar), ("_reconstruct", reconstruct))},
}
"""``(module, name)`` a pickle names -> what the restricted unpickler gives it instead."""
