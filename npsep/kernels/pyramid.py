"""The upsample-add chain of a U-block, fused into one pass.

The block's depthwise pyramid has levels ``d_0 .. d_{Q-1}``, level ``k`` of length
``L_k = ceil(L_{k-1} / 2)``. Merging them from the coarsest up with nearest x2
upsampling, ``d_{k-1} += up2(d_k)`` (cropped to ``L_{k-1}``), gives at frame ``l``

    m[c, l] = d_0[c, l] + (d_1[c, l >> 1] + (d_2[c, l >> 2] + ... + d_{Q-1}[c, l >> (Q-1)]))

because ``floor(floor(l / 2) / 2) = floor(l / 4)``. The kernel sums in exactly
that order (PyTorch's), normalising each level on the fly.
"""
import numba
from numba import prange

from .._jit import pjit
from .norm import row_sums


def merge_scratch(L):
    """Float32 values of :func:`merge_levels_stats`'s scratch per thread, for rows of ``L``."""
    return 2 * ((L + 1) // 2)


@pjit
def merge_levels_stats(d0, pyr, offsets, lengths, mu, scale, beta, sums, scratch):
    """In place ``d0[c,l] = GlobLN_0(d_0)[c,l] + (GlobLN_1(d_1)[c, l>>1] + (...))``, with the sums
    of the result.

    ``d0 [C, L_0]`` is level 0's raw (un-normalised) depthwise output, overwritten by the merged
    map; ``pyr`` is one flat buffer holding the coarser levels', level ``k >= 1`` as a
    C-contiguous ``[C, lengths[k]]`` block from ``offsets[k]``; ``mu [Q, C]``, ``scale [Q, C]``,
    ``beta [Q, C]`` are each level's norm coefficients; ``scratch [threads, merge_scratch(L_0)]``
    (a row per thread, indexed by Numba's thread id). Each channel is merged coarse to fine
    through two row buffers in the scratch row; the last step reads and writes one view of
    ``d0``'s row (so it vectorises).
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
            half = (L + 1) // 2  # the length of level 1, the longest merged through the buffers
            acc, nxt = buf[:half], buf[half:2 * half]
            q = Q - 1
            n = lengths[q]
            src = pyr[offsets[q] + c * n: offsets[q] + (c + 1) * n]
            mq, sq, bq = mu[q, c], scale[q, c], beta[q, c]
            for i in range(n):
                acc[i] = (src[i] - mq) * sq + bq
            for q in range(Q - 2, 0, -1):
                n = lengths[q]
                src = pyr[offsets[q] + c * n: offsets[q] + (c + 1) * n]
                mq, sq, bq = mu[q, c], scale[q, c], beta[q, c]
                for i in range(n // 2):
                    nxt[2 * i] = (src[2 * i] - mq) * sq + bq + acc[i]
                    nxt[2 * i + 1] = (src[2 * i + 1] - mq) * sq + bq + acc[i]
                if n % 2:
                    nxt[n - 1] = (src[n - 1] - mq) * sq + bq + acc[n // 2]
                acc, nxt = nxt, acc
            for i in range(L // 2):
                row[2 * i] = (row[2 * i] - m) * sc + bt + acc[i]
                row[2 * i + 1] = (row[2 * i + 1] - m) * sc + bt + acc[i]
            if L % 2:
                row[L - 1] = (row[L - 1] - m) * sc + bt + acc[L // 2]
        sums[c, 0], sums[c, 1] = row_sums(row)
