"""Matrix products on Numba's threads.

Every 1x1 convolution of SuDoRM-RF is a matrix product ``Y = W X`` on a ``[C, L]`` map.
These kernels split the ``L`` columns into blocks, give each Numba thread a contiguous
run of blocks, and call single-threaded SGEMM (SciPy's BLAS, through
``scipy.linalg.cython_blas``) on each block. So one pool of threads does all of npsep's
work: there is no second pool (OpenBLAS's) to wake up after every kernel and fight
for the cores.

* :func:`matmul`: ``Y (+)= W X + b``, the bias added to each block as it is written;
* :func:`norm_act_matmul`: ``Y = W prelu((X - mu) * scale + beta) + b``, each block of ``X``
  normalised into a small buffer first, so the normalised map is never written.

Fusing more into the blocks (the GlobLN sums of ``Y``, or a normalisation that can be done
in place) measured *slower* on 2 cores than a separate parallel pass over the map: the
SGEMM calls run best with nothing else between them.

With ``groups = G`` the rows of ``X`` (and of ``Y``) are ``G`` equal groups and each is
multiplied by the same ``W`` (the shared U-ConvBlock of a group-communication block).
"""
import llvmlite.binding as llvm
import numpy as np
from numba import prange, types
from numba.extending import get_cython_function_address

from .._jit import jit, pjit
from .norm import row_sums

BLOCK = 256
"""Target width of a column block: a ``[512, 256]`` float32 block (512 KiB) fits in L2."""


# Fortran SGEMM, C = alpha op(A) op(B) + beta C, every argument by pointer. It is reached by a
# symbol name registered with LLVM (not a ctypes object, which Numba cannot cache); pointers
# are passed as intp, which has the same calling convention on 64-bit platforms.
llvm.add_symbol("npsep_sgemm", get_cython_function_address("scipy.linalg.cython_blas", "sgemm"))
_sgemm = types.ExternalFunction("npsep_sgemm", types.void(*[types.intp] * 13))


@jit
def gemm(w, x, out, beta):
    """``out = w x + beta * out`` by one single-threaded SGEMM call.

    Row-major ``w [M, K]``, ``x [K, n]``, ``out [M, n]``; ``x`` and ``out`` may be views into
    wider maps (any row stride, unit column stride). Row-major ``out = w x`` is column-major
    ``out^T = x^T w^T``, so ``x`` is passed as BLAS's ``A`` and ``w`` as ``B``.
    """
    M, K = w.shape
    n = x.shape[1]
    if n == 0 or M == 0:
        return
    ints = np.empty(6, dtype=np.int32)
    ints[0], ints[1], ints[2] = n, M, K  # m, n, k of the column-major product
    ints[3], ints[4], ints[5] = x.strides[0] // 4, K, out.strides[0] // 4  # lda, ldb, ldc
    trans = np.empty(1, dtype=np.uint8)
    trans[0] = 78  # 'N'
    scalars = np.empty(2, dtype=np.float32)
    scalars[0], scalars[1] = 1.0, beta
    _sgemm(trans.ctypes.data, trans.ctypes.data, ints[0:].ctypes.data, ints[1:].ctypes.data,
           ints[2:].ctypes.data, scalars[0:].ctypes.data, x.ctypes.data, ints[3:].ctypes.data,
           w.ctypes.data, ints[4:].ctypes.data, scalars[1:].ctypes.data, out.ctypes.data,
           ints[5:].ctypes.data)


@jit
def column_runs(L, threads):
    """``(runs, width)``: each of ``runs`` threads takes ``L / runs`` columns, in blocks of
    ``width`` (about :data:`BLOCK`; a whole number of blocks per thread keeps them balanced)."""
    runs = max(1, min(threads, L))
    per_run = -(-L // runs)
    blocks = max(1, round(per_run / BLOCK))
    return runs, -(-per_run // blocks)


@jit
def add_bias_columns(x, b, lo, hi):
    """``x[c, lo:hi] += b[c]``."""
    for c in range(x.shape[0]):
        bc = b[c]
        row = x[c]
        for l in range(lo, hi):
            row[l] += bc


@jit
def norm_act_columns(y, lo, hi, mu, scale, beta, slope, t):
    """``t[c, :hi-lo] = prelu((y[c, lo:hi] - mu[c]) * scale[c] + beta[c], slope)``: one column
    block of a normalised and activated map, into a buffer (``slope`` shared ``[1]`` or ``[C]``)."""
    n = hi - lo
    for c in range(y.shape[0]):
        a = slope[c] if slope.shape[0] > 1 else slope[0]
        m, sc, bc = mu[c], scale[c], beta[c]
        src, dst = y[c, lo:hi], t[c]
        for l in range(n):
            v = (src[l] - m) * sc + bc
            dst[l] = v if v > 0 else a * v


@pjit
def matmul(x, w, b, groups, out, accumulate, threads):
    """``out_g (+)= W x_g + b`` for each of ``groups`` row groups: ``x [G*K, L]``, ``w [M, K]``,
    ``b [G*M]`` (or ``[0]``: no bias), ``out [G*M, L]``, overwritten or, when ``accumulate``,
    added to (a residual connection)."""
    L = x.shape[1]
    M, K = w.shape
    runs, width = column_runs(L, threads)
    per_run = -(-L // runs)
    for r in prange(runs):
        for lo in range(r * per_run, min(L, (r + 1) * per_run), width):
            hi = min(lo + width, (r + 1) * per_run, L)
            for g in range(groups):
                gemm(w, x[g * K:(g + 1) * K, lo:hi], out[g * M:(g + 1) * M, lo:hi], 1.0 if accumulate else 0.0)
            if b.shape[0] > 0:
                add_bias_columns(out, b, lo, hi)


@pjit
def norm_act_matmul(y, mu, scale, beta, slope, w, b, out, threads):
    """``out = W prelu((y - mu) * scale + beta, slope) + b`` without writing the normalised map.

    ``y [K, L]`` with its per-channel norm coefficients ``mu, scale, beta [K]`` and PReLU
    ``slope`` (``[1]`` or ``[K]``); ``w [M, K]``, ``b [M]``, ``out [M, L]``. Each block of
    ``y``'s columns is normalised into a small buffer and multiplied at once. (Where the
    map may be normalised in place, a separate pass and :func:`matmul` measured faster.)
    """
    C, L = y.shape
    runs, width = column_runs(L, threads)
    per_run = -(-L // runs)
    for r in prange(runs):
        t = np.empty((C, width), dtype=np.float32)
        for lo in range(r * per_run, min(L, (r + 1) * per_run), width):
            hi = min(lo + width, (r + 1) * per_run, L)
            norm_act_columns(y, lo, hi, mu, scale, beta, slope, t)
            gemm(w, t[:, :hi - lo], out[:, lo:hi], 0.0)
            add_bias_columns(out, b, lo, hi)
