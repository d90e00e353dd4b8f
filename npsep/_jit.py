"""Numba compile settings, kept in one place.

Every kernel in :mod:`npsep.kernels` is compiled with one of the two decorators
below, so that changing a flag (caching, fastmath, parallelism) is one edit.

* ``cache=True``: compiled machine code is written next to the module, so a
  second process does not recompile.
* ``fastmath`` is off: re-association changes float32 sums by more than the
  rounding the parity tests allow for the GlobLN statistics, and the GEMMs
  (the bulk of the time) run in BLAS anyway.
* ``error_model="numpy"``: division by zero gives inf/nan like NumPy instead of
  raising, so the kernels need no Python-level exception checks.
"""
import numba

_FLAGS = dict(cache=True, fastmath=False, error_model="numpy", nogil=True)

jit = numba.njit(**_FLAGS)
"""Decorator for a serial kernel."""

pjit = numba.njit(parallel=True, **_FLAGS)
"""Decorator for a kernel whose outer loop is a ``numba.prange``."""
