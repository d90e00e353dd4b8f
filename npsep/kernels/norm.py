"""Normalisation kernels: statistics, and the affine + PReLU pass that applies them.

GlobLN / GroupNorm(1, C) need the mean and variance of a whole ``[C, L]`` map
before any output value is known, so every norm is split in two:

1. the kernel that *writes* a map also accumulates per-channel sums
   ``sums[c] = (sum_l y[c,l], sum_l y[c,l]^2)`` in float64 (so no precision is
   lost over C x L values), and :func:`norm_coefficients` turns them into
   ``mu[c]`` and ``scale[c] = gamma[c] / sqrt(var + eps)``;
2. the kernel that *reads* the map applies
   ``act((y - mu[c]) * scale[c] + beta[c])`` on the fly (:func:`affine_act`, in place,
   when the normalised map must be materialised, e.g. as a GEMM input).

The mean is stored per channel so that one set of kernels serves both a norm over
all channels and a norm over each of ``G`` groups of channels (the U-ConvBlock of a
group-communication block normalises every group on its own).

``act`` is PReLU with slope ``a`` (one shared value or one per channel); a slope
of exactly 1 makes it the identity, bit for bit.

Every kernel loops over channels in parallel (``prange``) and runs along a
contiguous row inside, so the inner loops compile to SIMD code.
"""
import numpy as np
from numba import prange

from .._jit import jit, pjit, sum_jit

EPS = 1e-8


@sum_jit
def row_sums(r):
    """``(sum_l r[l], sum_l r[l]^2)`` accumulated in float64.

    Compiled with re-association allowed (see :mod:`npsep._jit`), so the float64
    sums run in SIMD lanes; the error stays ~1e-16 relative.
    """
    s, q = 0.0, 0.0
    for i in range(r.shape[0]):
        a = np.float64(r[i])
        s += a
        q += a * a
    return s, q


@pjit
def channel_stats(y, sums):
    """``sums[c] = (sum_l y[c,l], sum_l y[c,l]^2)`` in float64."""
    for c in prange(y.shape[0]):
        sums[c, 0], sums[c, 1] = row_sums(y[c])


@pjit
def affine_act(y, mu, scale, beta, slope):
    """In place ``y[c,l] = prelu((y[c,l] - mu[c]) * scale[c] + beta[c], slope)``.

    Each row is read and written through one view, so the loop vectorises: with two views
    of the same memory LLVM's runtime overlap check fails and its scalar loop runs (5x slower).
    """
    C, L = y.shape
    for c in prange(C):
        a = slope[c] if slope.shape[0] > 1 else slope[0]
        m, sc, bc = mu[c], scale[c], beta[c]
        row = y[c]
        for l in range(L):
            v = (row[l] - m) * sc + bc
            row[l] = v if v > 0 else a * v


@pjit
def affine_add_stats(y, mu, scale, beta, x, sums):
    """In place ``x[c,l] += (y[c,l] - mu[c]) * scale[c] + beta[c]``, with the sums of the new ``x``."""
    C, L = y.shape
    for c in prange(C):
        m, sc, bc = mu[c], scale[c], beta[c]
        src, dst = y[c], x[c]
        for l in range(L):
            dst[l] = (src[l] - m) * sc + bc + dst[l]
        sums[c, 0], sums[c, 1] = row_sums(dst)


@jit
def norm_coefficients(sums, length, gamma, beta, out, groups=1, bias=None, eps=EPS):
    """From the per-channel sums of a ``[C, length]`` map to ``(mu, scale, beta)`` of its GlobLN.

    Over each of ``groups`` equal groups of channels (1: all of them), ``mu = sum / n``,
    ``var = sum(y^2) / n - mu^2`` (biased; float64; ``n`` values in the group), and
    ``scale[c] = gamma[c] / sqrt(var + eps)``. ``mu`` and ``scale`` are written into
    ``out [2, C]`` (float32); returns the views ``(out[0], out[1], beta)``.

    ``bias``: the map is really ``y + bias[c]`` but ``sums`` are those of ``y`` (a conv's
    output before its bias). The bias is then never added to the map: it enters the sums
    (``sum + L b``, ``sum(y^2) + 2 b sum + L b^2``) and the returned mean becomes
    ``mu - bias[c]``, so that ``(y - mu[c]) * scale[c]`` normalises ``y + bias``.
    """
    C = sums.shape[0]
    per = C // groups
    n = per * length
    mu, scale = out[0], out[1]
    for g in range(groups):
        s, q = 0.0, 0.0
        for c in range(g * per, (g + 1) * per):
            if bias is None:
                s += sums[c, 0]
                q += sums[c, 1]
            else:
                b = np.float64(bias[c])
                s += sums[c, 0] + length * b
                q += sums[c, 1] + 2 * b * sums[c, 0] + length * b * b
        m = s / n
        inv = 1.0 / np.sqrt(max(q / n - m * m, 0.0) + eps)
        for c in range(g * per, (g + 1) * per):
            mu[c] = m if bias is None else m - np.float64(bias[c])
            scale[c] = gamma[c] * inv
    return mu, scale, beta
