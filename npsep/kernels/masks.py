"""The network's tail, fused: mask logits, mask nonlinearity, masking, and the decoder's product.

For each block of columns (frames), on Numba's threads, in one pass:

1. ``t = prelu(y)`` (the improved family's mask PReLU; a slope of 1 for the original family),
   and for the original family with ``C_out != E`` the ``reshape_before_masks`` 1x1 conv;
2. mask logits ``z = W_mask t`` (a 1x1 conv, or the original's channel-axis conv as a
   Toeplitz matrix), then ``z[s,e] = act(z[s,e] + bias[s,e]) * v[e]``: the mask applied to
   the encoder output ``v``;
3. the decoder's frames ``F = W_dec z`` (its ConvTranspose1d as a matrix product; overlap-add
   follows in :func:`npsep.kernels.conv.overlap_add`).

No ``[S*E, L]`` map is ever written: the block's logits live in a small buffer.
"""
import numpy as np
from numba import prange

from .._jit import jit, pjit
from .gemm import ALIGN, BLOCK, add_bias_columns, column_runs, gemm, norm_act_columns

RELU, SOFTMAX, SIGMOID = 0, 1, 2

NO_NORM = np.zeros(0, dtype=np.float32)
"""Empty norm coefficients for :func:`npsep.kernels.gemm.norm_act_columns`: the PReLU alone."""

LOGITS_PER_BLOCK = 1 << 17
"""Mask logits held per column block and thread (512 KiB of float32): narrower blocks than
the other products use, since each column carries ``S*E`` logits."""


@jit
def mask_columns(z, bias, v, lo, act, m, tot):
    """In place ``z[s*E + e, l] = act(z[s*E + e, l] + bias[s, e]) * v[e, lo + l]``.

    ``z [S*E, n]`` is a block of mask logits (without bias), ``bias [S, E]``, ``v [E, L]`` the
    encoder output; ``act``: ``RELU`` (``max(0, .)``), ``SOFTMAX`` (across the ``S`` sources at
    each ``(e, l)``) or ``SIGMOID``. ``m, tot [n]``: scratch for the softmax's running maximum and sum.
    """
    S, E = bias.shape
    n = z.shape[1]
    for e in range(E):
        ve = v[e, lo:lo + n]
        if act == SOFTMAX:  # running max and sum across sources, along the row
            for l in range(n):
                m[l] = -np.inf
                tot[l] = 0.0
            for s in range(S):
                b, zs = bias[s, e], z[s * E + e]
                for l in range(n):
                    zs[l] = zs[l] + b
                    m[l] = max(m[l], zs[l])
            for s in range(S):
                zs = z[s * E + e]
                for l in range(n):
                    zs[l] = np.exp(zs[l] - m[l])
                    tot[l] += zs[l]
            for s in range(S):
                zs = z[s * E + e]
                for l in range(n):
                    zs[l] = zs[l] / tot[l] * ve[l]
        elif act == SIGMOID:
            for s in range(S):
                b, zs = bias[s, e], z[s * E + e]
                for l in range(n):
                    zs[l] = np.float32(1.0) / (np.float32(1.0) + np.exp(-(zs[l] + b))) * ve[l]
        else:
            for s in range(S):
                b, zs = bias[s, e], z[s * E + e]
                for l in range(n):
                    zs[l] = max(zs[l] + b, np.float32(0.0)) * ve[l]


def decoder_scratch(C, E_reshape, SE):
    """Float32 values of :func:`masked_decoder_frames`'s scratch per thread: ``C`` channels into
    the masks, ``E_reshape`` out of the reshape conv (0 for none), ``SE`` mask logits per frame."""
    return (C + E_reshape + SE + 2) * max(ALIGN, min(BLOCK, LOGITS_PER_BLOCK // SE))


@pjit
def masked_decoder_frames(y, slope, w_reshape, b_reshape, w_mask, b_mask, v, act, w_dec, frames, threads, scratch):
    """The decoder's frames of the masked encoder output, from the separator's output ``y``.

    ``y [C, L]``; ``slope`` the mask PReLU's (``[1]`` or ``[C]``); ``w_reshape [E, C]``,
    ``b_reshape [E]`` (a ``[0, 0]`` matrix for none); ``w_mask [S*E, E or C]``, ``b_mask [S, E]``;
    ``v [E, L]``; ``act`` as in :func:`mask_columns`; ``w_dec [D, R, Cc]``: with ``D = 1`` one
    matrix applied to each of the ``S*E / Cc`` row groups of the masked map (``Cc = S*E``: a
    single product), with ``D = S`` one matrix per source; ``frames [S*E / Cc * R, L]``;
    ``scratch [threads, decoder_scratch(C, E, S*E)]``, a row per run of column blocks.
    """
    C, L = y.shape
    SE = w_mask.shape[0]
    Er = w_reshape.shape[0]
    D, R, Cc = w_dec.shape
    runs, per_run, width = column_runs(L, threads, BLOCK)
    width = max(1, min(width, LOGITS_PER_BLOCK // SE, scratch.shape[1] // (C + Er + SE + 2)))
    for r in prange(runs):
        buf = scratch[r]
        t = buf[:C * width].reshape((C, width))
        t2 = buf[C * width:(C + Er) * width].reshape((Er, width))
        z = buf[(C + Er) * width:(C + Er + SE) * width].reshape((SE, width))
        m, tot = buf[(C + Er + SE) * width:(C + Er + SE + 1) * width], buf[(C + Er + SE + 1) * width:(C + Er + SE + 2) * width]
        for lo in range(r * per_run, min(L, (r + 1) * per_run), width):
            hi = min(lo + width, (r + 1) * per_run, L)
            n = hi - lo
            norm_act_columns(y, lo, hi, NO_NORM, NO_NORM, NO_NORM, slope, t)
            src = t[:, :n]
            if Er > 0:
                gemm(w_reshape, src, t2[:, :n], 0.0)
                add_bias_columns(t2, b_reshape, 0, n)
                src = t2[:, :n]
            gemm(w_mask, src, z[:, :n], 0.0)
            mask_columns(z[:, :n], b_mask, v, lo, act, m, tot)
            for g in range(SE // Cc):
                gemm(w_dec[g if D > 1 else 0], z[g * Cc:(g + 1) * Cc, :n], frames[g * R:(g + 1) * R, lo:hi], 0.0)
