"""Transform-average-concatenate (TAC) kernels: the parts of a GC block that are not GEMMs."""
import numpy as np
from numba import prange

from .._jit import pjit


@pjit
def group_mean(h, out):
    """``out[i, l] = (1/G) sum_g h[g, i, l]``: the average over a GC block's groups. ``h [G, H, L]``."""
    G, H, L = h.shape
    for i in prange(H):
        for l in range(L):
            acc = h[0, i, l]
            for g in range(1, G):
                acc += h[g, i, l]
            out[i, l] = acc / G


@pjit
def tac_output_residual(o, om, b, slope, gamma, beta, eps, x):
    """The end of TAC, per group ``g``: ``o_g = prelu(o_g + om + b)`` (the output Linear's two
    halves and its bias), then ``x_g += GlobLN(o_g)`` with statistics over ``o_g``'s
    ``[c, L]`` values only.

    ``o [G, c, L]`` = ``W_out[:, :H] @ h_g``, ``om [c, L]`` = ``W_out[:, H:] @ m``, ``x [G, c, L]``.
    """
    G, c, L = o.shape
    for g in prange(G):
        s, s2 = 0.0, 0.0
        for i in range(c):
            a = slope[i] if slope.shape[0] > 1 else slope[0]
            for l in range(L):
                v = o[g, i, l] + om[i, l] + b[i]
                v = v if v > 0 else a * v
                o[g, i, l] = v
                s += v
                s2 += np.float64(v) * v
        n = c * L
        mu = s / n
        var = max(s2 / n - mu * mu, 0.0)
        rstd = 1.0 / np.sqrt(var + eps)
        mu32 = np.float32(mu)
        for i in range(c):
            sc = np.float32(gamma[i] * rstd)
            for l in range(L):
                x[g, i, l] += (o[g, i, l] - mu32) * sc + beta[i]
