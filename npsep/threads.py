"""How many threads npsep uses.

All of a forward pass runs on Numba's threads: the kernels, and the matrix products too,
each thread calling a single-threaded BLAS on its own block of columns
(:mod:`npsep.kernels.gemm`). So one number, Numba's thread count, is the whole story:
``NUMBA_NUM_THREADS`` (read by Numba) or, when only it is set, ``OMP_NUM_THREADS``.
:func:`set_num_threads` sets it at run time, and sets the OpenBLAS libraries NumPy and
SciPy have loaded (found in ``/proc/self/maps``, no extra dependency) to the same count
for the BLAS work npsep does not do itself. During a forward pass :func:`blas_pinned`
holds them at one thread, so that BLAS never starts threads of its own beside Numba's.
"""
import contextlib
import ctypes
import os
import re

import numba
import numpy as np  # noqa: F401  (loads NumPy's BLAS, which this module looks for)

from . import _jit  # noqa: F401  (chooses the threading layer before any thread starts)
from .kernels import gemm  # noqa: F401  (loads SciPy's BLAS, which the kernels call)

_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
            "openblas_set_num_threads64_", "openblas_set_num_threads")
_GETTERS = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
            "openblas_get_num_threads64_", "openblas_get_num_threads")


def _openblas():
    """``[(set, get), ...]``: the thread-count functions of every loaded OpenBLAS."""
    try:
        with open("/proc/self/maps") as f:
            paths = sorted(set(re.findall(r"(/\S*openblas\S*\.so\S*)", f.read())))
    except OSError:
        paths = []
    found = []
    for path in paths:
        lib = ctypes.CDLL(path)
        setter = next((getattr(lib, s) for s in _SETTERS if hasattr(lib, s)), None)
        getter = next((getattr(lib, g) for g in _GETTERS if hasattr(lib, g)), None)
        if setter is not None and getter is not None:
            setter.argtypes, getter.restype = [ctypes.c_int], ctypes.c_int
            found.append((setter, getter))
    return found


_blas = _openblas()


def blas_threads_settable():
    """Can :func:`set_num_threads` change the BLAS thread count (an OpenBLAS was found)?"""
    return bool(_blas)


@contextlib.contextmanager
def blas_pinned():
    """Hold every loaded OpenBLAS at one thread inside the ``with`` block, then restore."""
    before = [get() for _, get in _blas]
    for set_, _ in _blas:
        set_(1)
    try:
        yield
    finally:
        for (set_, _), n in zip(_blas, before):
            set_(n)


def set_num_threads(n):
    """Use ``n`` threads in Numba kernels and in BLAS (``1 <= n``, capped at Numba's maximum)."""
    if int(n) < 1:
        raise ValueError(f"the number of threads must be at least 1, got {n}")
    n = min(int(n), numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(n)
    for set_, _ in _blas:
        set_(n)


def get_num_threads():
    """``(numba_threads, blas_threads)``; ``blas_threads`` is ``None`` if it cannot be read."""
    return numba.get_num_threads(), (_blas[0][1]() if _blas else None)


def follow_environment():
    """If only ``OMP_NUM_THREADS`` is set, let Numba use that many threads too."""
    omp = os.environ.get("OMP_NUM_THREADS", "")
    if "NUMBA_NUM_THREADS" not in os.environ and omp.isdigit() and int(omp) >= 1:
        numba.set_num_threads(min(int(omp), numba.config.NUMBA_NUM_THREADS))
