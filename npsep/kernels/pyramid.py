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


@pjit
def merge_levels_stats(pyr, offsets, mu, scale, beta, out, sums):
    """``out[c,l] = sum_k GlobLN_k(pyr)[c, offsets[k] + (l >> k)]`` (coarsest first), with sums.

    ``pyr [C, sum_k L_k]`` holds the raw (un-normalised) depthwise outputs of every level side
    by side, level ``k`` from column ``offsets[k]``; ``mu [Q]``, ``scale [Q, C]``, ``beta [Q, C]``
    are each level's norm coefficients; ``out [C, L_0]``.
    """
    C, L = out.shape
    Q = offsets.shape[0]
    for c in prange(C):
        s, s2 = 0.0, 0.0
        for l in range(L):
            q = Q - 1
            acc = (pyr[c, offsets[q] + (l >> q)] - mu[q]) * scale[q, c] + beta[q, c]
            for q in range(Q - 2, -1, -1):
                acc = (pyr[c, offsets[q] + (l >> q)] - mu[q]) * scale[q, c] + beta[q, c] + acc
            out[c, l] = acc
            s += acc
            s2 += np.float64(acc) * acc
        sums[c, 0] = s
        sums[c, 1] = s2
