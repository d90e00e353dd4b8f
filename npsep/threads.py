"""How many threads npsep uses.

All of a forward pass runs on Numba's threads: the kernels, and the matrix products too,
each thread calling a single-threaded BLAS on its own block of columns
(:mod:`npsep.kernels.gemm`). So one number, Numba's thread count, is the whole story:
``NUMBA_NUM_THREADS`` (read by Numba) or, when only it is set, ``OMP_NUM_THREADS``.
:func:`set_num_threads` sets it at run time, and sets the BLAS libraries NumPy and SciPy
have loaded (OpenBLAS, MKL, BLIS, Accelerate..., found and set by ``threadpoolctl``) to
the same count for the BLAS work npsep does not do itself. During a forward pass
:func:`blas_pinned` holds them at one thread, so that BLAS never starts threads of its
own beside Numba's.
"""
import contextlib
import os

import numba
import numpy as np  # noqa: F401  (loads NumPy's BLAS, which threadpoolctl looks for)
from threadpoolctl import ThreadpoolController

from . import _jit  # noqa: F401  (chooses the threading layer before any thread starts)
from .kernels import gemm  # noqa: F401  (loads SciPy's BLAS, which the kernels call)

_blas = ThreadpoolController().select(user_api="blas")
"""The BLAS libraries loaded in this process (NumPy's and SciPy's; often two)."""


def blas_threads_settable():
    """Can :func:`set_num_threads` change the BLAS thread count (a BLAS was found)?"""
    return bool(_blas.lib_controllers)


@contextlib.contextmanager
def blas_pinned():
    """Hold every loaded BLAS at one thread inside the ``with`` block, then restore."""
    with _blas.limit(limits=1):
        yield


def set_num_threads(n):
    """Use ``n`` threads in Numba kernels and in BLAS (``1 <= n``, capped at Numba's maximum)."""
    if int(n) < 1:
        raise ValueError(f"the number of threads must be at least 1, got {n}")
    n = min(int(n), numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(n)
    _blas.limit(limits=n)


def get_num_threads():
    """``(numba_threads, blas_threads)``; ``blas_threads`` is ``None`` if no BLAS was found."""
    return numba.get_num_threads(), (_blas.lib_controllers[0].num_threads if blas_threads_settable() else None)


def follow_environment():
    """If only ``OMP_NUM_THREADS`` is set, let Numba use that many threads too."""
    omp = os.environ.get("OMP_NUM_THREADS", "")
    if "NUMBA_NUM_THREADS" not in os.environ and omp.isdigit() and int(omp) >= 1:
        numba.set_num_threads(min(int(omp), numba.config.NUMBA_NUM_THREADS))
