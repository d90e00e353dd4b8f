"""The upsample-add chain of a U-block, fused into one pass.

The block's depthwise pyramid has levels ``d_0 .. d_{Q-1}``, level ``k`` of length
``L_k = ceil(L_{k-1} / 2)``. Merging them from the coarsest up with nearest x2
upsampling, ``d_{k-1} += up2(d_k)`` (cropped to ``L_{k-1}``), gives at frame ``l``

    m[c, l] = d_0[c, l] + (d_1[c, l >> 1] + (d_2[c, l >> 2] + ... + d_{Q-1}[c, l >> (Q-1)]))

because ``floor(floor(l / 2) / 2) = floor(l / 4)``. The kernel sums in exactly
that order (PyTorch's), normalising each level on the fly.
"""
import numpy as np
from numba import prange

from .._jit import pjit
from .norm import row_sums


@pjit
def merge_levels_stats(d0, pyr, offsets, lengths, mu, scale, beta, out, sums):
    """``out[c,l] = GlobLN_0(d_0)[c,l] + (GlobLN_1(d_1)[c, l>>1] + (...))``, with the sums of ``out``.

    ``d0 [C, L_0]`` is level 0's raw (un-normalised) depthwise output; ``pyr`` is one flat
    buffer holding the coarser levels', level ``k >= 1`` as a C-contiguous ``[C, lengths[k]]``
    block from ``offsets[k]``; ``mu [Q, C]``, ``scale [Q, C]``, ``beta [Q, C]`` are each
    level's norm coefficients; ``out [C, L_0]`` may be ``d0`` (every value of ``d0`` is read
    just before it is overwritten). Each channel is merged coarse to fine through two row buffers.
    """
    C, L = out.shape
    Q = offsets.shape[0]
    for c in prange(C):
        acc = np.empty(L, dtype=np.float32)
        nxt = np.empty(L, dtype=np.float32)
        q = Q - 1
        n = lengths[q]
        src = d0[c] if q == 0 else pyr[offsets[q] + c * n: offsets[q] + (c + 1) * n]
        m, sc, bt = mu[q, c], scale[q, c], beta[q, c]
        for i in range(n):
            acc[i] = (src[i] - m) * sc + bt
        for q in range(Q - 2, -1, -1):
            n = lengths[q]
            src = d0[c] if q == 0 else pyr[offsets[q] + c * n: offsets[q] + (c + 1) * n]
            m, sc, bt = mu[q, c], scale[q, c], beta[q, c]
            dst = out[c] if q == 0 else nxt
            for i in range(n // 2):
                dst[2 * i] = (src[2 * i] - m) * sc + bt + acc[i]
                dst[2 * i + 1] = (src[2 * i + 1] - m) * sc + bt + acc[i]
            if n % 2:
                dst[n - 1] = (src[n - 1] - m) * sc + bt + acc[n // 2]
            if q > 0:
                acc, nxt = nxt, acc
        if Q == 1:
            out[c, :] = acc[:L]
        sums[c, 0], sums[c, 1] = row_sums(out[c])
