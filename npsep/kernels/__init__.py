"""Numba kernels: the fused passes around the BLAS matrix products (see ``docs/kernels.md``).

Each kernel states its equation in its docstring and is tested against
:mod:`npsep.reference` in ``tests/test_kernels.py``. Compile settings: :mod:`npsep._jit`.
"""
