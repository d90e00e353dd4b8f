"""The fast forward pass: the oracle's computation (:mod:`npsep.reference`) in BLAS and Numba kernels."""
from .blocks import Workspace
from .forward import forward_item, prepare

__all__ = ["Workspace", "forward_item", "prepare"]
