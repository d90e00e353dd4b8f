"""Numba compile settings, kept in one place.

Every kernel in :mod:`npsep.kernels` is compiled with one of the decorators below,
so that changing a flag (caching, fastmath, parallelism) is one edit.

* ``cache=True``: compiled machine code is written next to the module, so a
  second process does not recompile.
* ``error_model="numpy"``: division by zero gives inf/nan like NumPy instead of
  raising, so the kernels need no Python-level exception checks.
* ``fastmath`` is off everywhere except :data:`sum_jit`, which allows only
  re-association (``reassoc``) so that float64 sums can use SIMD lanes. It is used
  for the GlobLN statistics alone; re-associating a float64 sum of float32 values
  moves it by ~1e-16 relative, and ``tests/test_kernels.py`` checks those sums
  against NumPy to 1e-9. Nothing computed in float32 is re-associated.
* Parallel kernels (:func:`pjit`) are compiled twice, with ``prange`` as threads and
  as a plain loop, and run serially when the work is small: a parallel region costs
  tens of microseconds to start, far more when the machine is busy, and on a 2-core
  machine a tiny model ran 5-100x slower with two threads than with one.
* Numba's threads come from OpenMP (``omp``) when it is available, else TBB, else
  ``workqueue``, unless ``NUMBA_THREADING_LAYER`` says otherwise. Between two kernels
  OpenMP's workers spin for a moment instead of sleeping, so a parallel region starts in
  microseconds (``workqueue`` took ~0.5 ms per region here, longer than many kernels run).
  Spinning is only harmless because nothing else competes for the cores during a forward
  pass: the matrix products run on these same threads with a single-threaded BLAS
  (:mod:`npsep.kernels.gemm`, :func:`npsep.threads.blas_pinned`).
"""
import functools
import os
import types

import numba

if "NUMBA_THREADING_LAYER" not in os.environ and "NUMBA_THREADING_LAYER_PRIORITY" not in os.environ:
    numba.config.THREADING_LAYER_PRIORITY = ["omp", "tbb", "workqueue"]

_FLAGS = dict(cache=True, error_model="numpy", nogil=True)

PARALLEL_MIN_WORK = 1 << 16
"""Elements in a kernel's first array below which it runs on one thread."""

jit = numba.njit(fastmath=False, **_FLAGS)
"""Decorator for a serial kernel."""

sum_jit = numba.njit(fastmath={"reassoc"}, **_FLAGS)
"""Decorator for a float64 reduction that may be re-associated (vectorised)."""


def pjit(func):
    """Decorator for a kernel whose outer loop is a ``numba.prange`` over channels.

    Returns a function that calls the multi-threaded build when its first argument
    holds at least :data:`PARALLEL_MIN_WORK` elements and more than one thread is
    allowed, and the single-threaded build otherwise. (The serial build is compiled
    from a twin of ``func`` with its own name, so the two never share a cache entry.)
    """
    parallel = numba.njit(parallel=True, fastmath=False, **_FLAGS)(func)
    twin = types.FunctionType(func.__code__, func.__globals__, func.__name__, func.__defaults__, func.__closure__)
    twin.__qualname__ = func.__qualname__ + "_serial"
    serial = numba.njit(fastmath=False, **_FLAGS)(twin)

    @functools.wraps(func)
    def kernel(*args):
        if args[0].size >= PARALLEL_MIN_WORK and numba.get_num_threads() > 1:
            return parallel(*args)
        return serial(*args)

    kernel.parallel, kernel.serial = parallel, serial
    return kernel
