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
"""
import numba

_FLAGS = dict(cache=True, error_model="numpy", nogil=True)

jit = numba.njit(fastmath=False, **_FLAGS)
"""Decorator for a serial kernel."""

pjit = numba.njit(parallel=True, fastmath=False, **_FLAGS)
"""Decorator for a kernel whose outer loop is a ``numba.prange``."""

sum_jit = numba.njit(fastmath={"reassoc"}, **_FLAGS)
"""Decorator for a float64 reduction that may be re-associated (vectorised)."""
