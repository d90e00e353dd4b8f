"""Matrix products on Numba's threads.

Every 1x1 convolution of SuDoRM-RF is a matrix product ``Y = W X`` on a ``[C, L]`` map.
These kernels give each Numba thread a contiguous run of the ``L`` columns, a multiple of
16 columns wide, and call single-threaded SGEMM (SciPy's BLAS, through
``scipy.linalg.cython_blas``) on it, or on blocks of it where a pass is fused with the
products. So one pool of threads does all of npsep's work: there is no second pool
(OpenBLAS's) to wake up after every kernel and fight for the cores.

* :func:`matmul`: ``Y (+)= W X + b``, one SGEMM call per run, then the bias;
* :func:`norm_act_matmul`: ``Y = W prelu((X - mu) * scale + beta) + b``, each block of ``X``
  normalised into a small buffer first, so the normalised map is never written.

Fusing more into the blocks (the GlobLN sums of ``Y``, or a normalisation that can be done
in place) measured *slower* on 2 cores than a separate parallel pass over the map: the
SGEMM calls run best with nothing else between them.

With ``groups = G`` the rows of ``X`` (and of ``Y``) are ``G`` equal groups and each is
multiplied by the same ``W`` (the shared U-ConvBlock of a group-communication block).
"""
import ctypes
import importlib
import importlib.machinery
import importlib.util
from pathlib import Path

import llvmlite.binding as llvm
import numpy as np
from numba import prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from .._jit import jit, pjit

ALIGN = 16
"""Column blocks start and end at multiples of 16 columns (64 bytes, a cache line): OpenBLAS
runs SGEMM on a block 256 wide about 10 % faster than on one 267 wide."""

BLOCK = 256
"""Target width of a column block where a pass is fused with the products: a ``[512, 256]``
float32 block (512 KiB) fits in L2."""


def _cython_blas():
    """SciPy's ``scipy.linalg.cython_blas`` extension module, loaded from its file without running
    ``scipy/linalg/__init__.py`` (which imports all of SciPy's linear algebra: ~0.1 s at every
    start). Falls back to a plain import where SciPy's files are not laid out as expected."""
    spec = importlib.util.find_spec("scipy")  # a top-level package is found without being imported
    folder = Path(spec.origin).parent / "linalg" if spec and spec.origin else None
    files = [folder / ("cython_blas" + suffix) for suffix in importlib.machinery.EXTENSION_SUFFIXES] if folder else []
    path = next((f for f in files if f.is_file()), None)
    if path is None:
        return importlib.import_module("scipy.linalg.cython_blas")
    loader = importlib.machinery.ExtensionFileLoader("scipy.linalg.cython_blas", str(path))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


def _function_address(module, name):
    """The address of a function a Cython module exports (its ``__pyx_capi__`` capsule)."""
    capsule = ctypes.py_object(module.__pyx_capi__[name])
    ctypes.pythonapi.PyCapsule_GetName.restype = ctypes.c_char_p
    ctypes.pythonapi.PyCapsule_GetName.argtypes = [ctypes.py_object]
    ctypes.pythonapi.PyCapsule_GetPointer.restype = ctypes.c_void_p
    ctypes.pythonapi.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    return ctypes.pythonapi.PyCapsule_GetPointer(capsule, ctypes.pythonapi.PyCapsule_GetName(capsule))


# Fortran SGEMM, C = alpha op(A) op(B) + beta C, every argument by pointer. It is reached by a
# symbol name registered with LLVM (not a ctypes object, which Numba cannot cache); pointers
# are passed as intp, which has the same calling convention on 64-bit platforms.
llvm.add_symbol("npsep_sgemm", _function_address(_cython_blas(), "sgemm"))
_sgemm = types.ExternalFunction("npsep_sgemm", types.void(*[types.intp] * 13))


@intrinsic
def _address_of(typingctx, value):
    """The address of a copy of the scalar ``value`` on the calling function's stack (valid
    until it returns): how a Fortran argument is passed by reference without allocating."""
    def codegen(context, builder, signature, args):
        slot = cgutils.alloca_once_value(builder, args[0])
        return builder.ptrtoint(slot, context.get_value_type(types.intp))
    return types.intp(value), codegen


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
    no_trans = _address_of(np.uint8(78))  # 'N'
    _sgemm(no_trans, no_trans, _address_of(np.int32(n)), _address_of(np.int32(M)), _address_of(np.int32(K)),
           _address_of(np.float32(1.0)), x.ctypes.data, _address_of(np.int32(x.strides[0] // 4)),
           w.ctypes.data, _address_of(np.int32(K)), _address_of(np.float32(beta)), out.ctypes.data,
           _address_of(np.int32(out.strides[0] // 4)))


@jit
def column_runs(L, threads, target):
    """``(runs, per_run, width)``: ``runs`` threads each take ``per_run`` columns (the last one
    what is left), in blocks of ``width`` (about ``target``). ``per_run`` and ``width`` are
    multiples of :data:`ALIGN`, and each run a whole number of blocks, which keeps them balanced."""
    runs = max(1, min(threads, -(-L // ALIGN)))
    per_run = -(-L // (runs * ALIGN)) * ALIGN
    runs = -(-L // per_run)
    blocks = max(1, round(per_run / target))
    return runs, per_run, -(-per_run // (blocks * ALIGN)) * ALIGN


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
    block of a normalised and activated map, into a buffer (``slope`` shared ``[1]`` or ``[C]``).
    Empty ``mu, scale, beta`` stand for 0, 1, 0: the PReLU alone."""
    n = hi - lo
    for c in range(y.shape[0]):
        a = slope[c] if slope.shape[0] > 1 else slope[0]
        m, sc, bc = (mu[c], scale[c], beta[c]) if mu.shape[0] > 0 else (np.float32(0), np.float32(1), np.float32(0))
        src, dst = y[c, lo:hi], t[c]
        for l in range(n):
            v = (src[l] - m) * sc + bc
            dst[l] = v if v > 0 else a * v


@pjit
def matmul(x, w, b, groups, out, accumulate, threads):
    """``out_g (+)= W x_g + b`` for each of ``groups`` row groups: ``x [G*K, L]``, ``w [M, K]``,
    ``b [G*M]`` (or ``[0]``: no bias), ``out [G*M, L]``, overwritten or, when ``accumulate``,
    added to (a residual connection).

    One SGEMM call per thread's run of columns (and group): every call packs all of ``W`` again,
    so with nothing fused into the blocks, the fewer calls the better (1.5-2.6 % of a forward
    pass against blocks 512 wide, 1 thread)."""
    L = x.shape[1]
    M, K = w.shape
    runs, per_run, _ = column_runs(L, threads, L)
    for r in prange(runs):
        lo, hi = r * per_run, min(L, (r + 1) * per_run)
        for g in range(groups):
            gemm(w, x[g * K:(g + 1) * K, lo:hi], out[g * M:(g + 1) * M, lo:hi], 1.0 if accumulate else 0.0)
        if b.shape[0] > 0:
            add_bias_columns(out, b, lo, hi)


def norm_act_scratch(C):
    """Float32 values of :func:`norm_act_matmul`'s scratch per thread, for ``C`` input channels."""
    return C * (BLOCK + BLOCK // 2)


@pjit
def norm_act_matmul(y, mu, scale, beta, slope, w, b, out, threads, scratch):
    """``out = W prelu((y - mu) * scale + beta, slope) + b`` without writing the normalised map.

    ``y [K, L]`` with its per-channel norm coefficients ``mu, scale, beta [K]`` and PReLU
    ``slope`` (``[1]`` or ``[K]``); ``w [M, K]``, ``b [M]``, ``out [M, L]``;
    ``scratch [threads, norm_act_scratch(K)]``. Each block of ``y``'s columns is normalised
    into the thread's scratch row and multiplied at once. (Where the map may be normalised in
    place, a separate pass and :func:`matmul` measured faster.)
    """
    C, L = y.shape
    runs, per_run, width = column_runs(L, threads, BLOCK)
    width = min(width, max(1, scratch.shape[1] // C))
    for r in prange(runs):
        t = scratch[r, :C * width].reshape((C, width))
        for lo in range(r * per_run, min(L, (r + 1) * per_run), width):
            hi = min(lo + width, (r + 1) * per_run, L)
            norm_act_columns(y, lo, hi, mu, scale, beta, slope, t)
            gemm(w, t[:, :hi - lo], out[:, lo:hi], 0.0)
            add_bias_columns(out, b, lo, hi)
