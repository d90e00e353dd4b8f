"""How many threads npsep uses: Numba's kernels and the BLAS matrix products together.

By default both follow the environment: ``NUMBA_NUM_THREADS`` (read by Numba) and
``OMP_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS`` (read by OpenBLAS); when only
``OMP_NUM_THREADS`` is set, Numba follows it too. :func:`set_num_threads` sets both
at run time. The BLAS is reached through the OpenBLAS library NumPy has loaded
(found in ``/proc/self/maps``), so no extra dependency is needed; with another BLAS
only Numba's count changes, and :func:`blas_threads_settable` says so.
"""
import ctypes
import os
import re

import numba
import numpy as np  # noqa: F401  (loads the BLAS this module looks for)

from . import _jit  # noqa: F401  (chooses the threading layer before any thread starts)

_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
            "openblas_set_num_threads64_", "openblas_set_num_threads")
_GETTERS = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
            "openblas_get_num_threads64_", "openblas_get_num_threads")


def _openblas():
    """``(set, get)`` functions of the loaded OpenBLAS, or ``(None, None)``."""
    try:
        with open("/proc/self/maps") as f:
            paths = sorted(set(re.findall(r"(/\S*openblas\S*\.so\S*)", f.read())))
    except OSError:
        paths = []
    for path in paths:
        lib = ctypes.CDLL(path)
        setter = next((getattr(lib, s) for s in _SETTERS if hasattr(lib, s)), None)
        getter = next((getattr(lib, g) for g in _GETTERS if hasattr(lib, g)), None)
        if setter is not None and getter is not None:
            setter.argtypes, getter.restype = [ctypes.c_int], ctypes.c_int
            return setter, getter
    return None, None


_blas_set, _blas_get = _openblas()


def blas_threads_settable():
    """Can :func:`set_num_threads` change the BLAS thread count (an OpenBLAS was found)?"""
    return _blas_set is not None


def set_num_threads(n):
    """Use ``n`` threads in Numba kernels and in BLAS (``1 <= n``, capped at Numba's maximum)."""
    if int(n) < 1:
        raise ValueError(f"the number of threads must be at least 1, got {n}")
    n = min(int(n), numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(n)
    if _blas_set is not None:
        _blas_set(n)


def get_num_threads():
    """``(numba_threads, blas_threads)``; ``blas_threads`` is ``None`` if it cannot be read."""
    return numba.get_num_threads(), (_blas_get() if _blas_get is not None else None)


def follow_environment():
    """If only ``OMP_NUM_THREADS`` is set, let Numba use that many threads too."""
    omp = os.environ.get("OMP_NUM_THREADS", "")
    if "NUMBA_NUM_THREADS" not in os.environ and omp.isdigit() and int(omp) >= 1:
        numba.set_num_threads(min(int(omp), numba.config.NUMBA_NUM_THREADS))
