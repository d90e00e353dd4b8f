"""The upsample-add chain of a U-block, fused into one pass.

The block's depthwise pyramid has levels ``d_0 .. d_{Q-1}``, level ``k`` of length
``L_k = ceil(L_{k-1} / 2)``. Merging them from the coarsest up with nearest x2
upsampling, ``d_{k-1} += up2(d_k)`` (cropped to ``L_{k-1}``), gives at frame ``l``

    m[c, l] = d_0[c, l] + (d_1[c, l >> 1] + (d_2[c, l >> 2] + ... + d_{Q-1}[c, l >> (Q-1)]))

because ``floor(floor(l / 2) / 2) = floor(l / 4)``. The kernel sums in exactly
that order (PyTorch's), normalising each level on the fly.
"""
import numba
import numpy as np
from numba import prange

from .._jit import jit, pjit
from .norm import row_sums


def merge_scratch(L):
    """Float32 values of :func:`merge_levels_stats`'s scratch per thread, for rows of ``L``
    (an even number, so that the rows of a per-thread scratch array stay 8-byte aligned)."""
    return 3 * _acc_length(L)


@jit
def _acc_length(L):
    """Level 1's length ``ceil(L / 2)`` rounded up to an even number: the merge's running sum
    ``acc`` (then ``up``, twice as long, starts at a multiple of 8 bytes)."""
    return 2 * ((L + 3) // 4)


@jit
def repeat2(src, dst):
    """``dst[2i] = dst[2i + 1] = src[i]``: nearest x2 upsampling of a row.

    Each pair of float32 values is written as one uint64 holding ``src[i]``'s bits twice, so
    the loop runs in SIMD lanes (two interleaved float32 stores do not). ``dst`` holds
    ``2 * len(src)`` values and starts at a multiple of 8 bytes."""
    s, d = src.view(np.uint32), dst.view(np.uint64)
    for i in range(s.shape[0]):
        v = np.uint64(s[i])
        d[i] = (v << np.uint64(32)) | v


@pjit
def merge_levels_stats(d0, pyr, offsets, lengths, mu, scale, beta, sums, scratch):
    """In place ``d0[c,l] = GlobLN_0(d_0)[c,l] + (GlobLN_1(d_1)[c, l>>1] + (...))``, with the sums
    of the result.

    ``d0 [C, L_0]`` is level 0's raw (un-normalised) depthwise output, overwritten by the merged
    map; ``pyr`` is one flat buffer holding the coarser levels', level ``k >= 1`` as a
    C-contiguous ``[C, lengths[k]]`` block from ``offsets[k]``; ``mu [Q, C]``, ``scale [Q, C]``,
    ``beta [Q, C]`` are each level's norm coefficients; ``scratch [threads, merge_scratch(L_0)]``
    (a row per thread, indexed by Numba's thread id, 8-byte aligned). Each channel is merged
    coarse to fine in the scratch row: ``acc`` holds the merged sum at level ``k``, ``up`` the
    same upsampled (:func:`repeat2`), and level ``k - 1`` adds ``up`` element by element, so every
    loop reads and writes contiguous rows and vectorises; the last step reads and writes one
    view of ``d0``'s row.
    """
    C, L = d0.shape
    Q = offsets.shape[0]
    for c in prange(C):
        buf = scratch[numba.get_thread_id()]
        row = d0[c]
        m, sc, bt = mu[0, c], scale[0, c], beta[0, c]
        if Q == 1:
            for i in range(L):
                row[i] = (row[i] - m) * sc + bt
        else:
            n_acc = _acc_length(L)
            acc, up = buf[:n_acc], buf[n_acc:3 * n_acc]
            n = lengths[Q - 1]
            src = pyr[offsets[Q - 1] + c * n: offsets[Q - 1] + (c + 1) * n]
            mq, sq, bq = mu[Q - 1, c], scale[Q - 1, c], beta[Q - 1, c]
            for i in range(n):
                acc[i] = (src[i] - mq) * sq + bq
            for q in range(Q - 2, 0, -1):
                repeat2(acc[:n], up[:2 * n])
                n = lengths[q]
                src = pyr[offsets[q] + c * n: offsets[q] + (c + 1) * n]
                mq, sq, bq = mu[q, c], scale[q, c], beta[q, c]
                for i in range(n):
                    acc[i] = (src[i] - mq) * sq + bq + up[i]
            repeat2(acc[:n], up[:2 * n])
            for i in range(L):
                row[i] = (row[i] - m) * sc + bt + up[i]
        sums[c, 0], sums[c, 1] = row_sums(row)
