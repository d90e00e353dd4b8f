"""Mask nonlinearity, fused with the mask bias and the product with the encoder output."""
import numpy as np
from numba import prange

from .._jit import pjit

RELU, SOFTMAX, SIGMOID = 0, 1, 2


@pjit
def apply_masks(z, bias, v, act, out):
    """``out[s,e,l] = mask[s,e,l] * v[e,l]`` where ``mask = act(z + bias)``.

    ``z [S, E, L]`` (mask logits without bias), ``bias [S, E]``, ``v [E, L]`` encoder output,
    ``act``: ``RELU`` (``max(0, .)``), ``SOFTMAX`` (across the ``S`` sources at each ``(e, l)``)
    or ``SIGMOID``. ``out`` may be ``z``.
    """
    S, E, L = z.shape
    for e in prange(E):
        ve = v[e]
        if act == SOFTMAX:  # rows of exps, their running max and sum across sources
            t = np.empty((S, L), dtype=np.float32)
            m = np.full(L, -np.inf, dtype=np.float32)
            for s in range(S):
                b, zs, ts = bias[s, e], z[s, e], t[s]
                for l in range(L):
                    ts[l] = zs[l] + b
                    m[l] = max(m[l], ts[l])
            tot = np.zeros(L, dtype=np.float32)
            for s in range(S):
                ts = t[s]
                for l in range(L):
                    ts[l] = np.exp(ts[l] - m[l])
                    tot[l] += ts[l]
            for s in range(S):
                ts, os = t[s], out[s, e]
                for l in range(L):
                    os[l] = ts[l] / tot[l] * ve[l]
        elif act == SIGMOID:
            for s in range(S):
                b, zs, os = bias[s, e], z[s, e], out[s, e]
                for l in range(L):
                    os[l] = np.float32(1.0) / (np.float32(1.0) + np.exp(-(zs[l] + b))) * ve[l]
        else:
            for s in range(S):
                b, zs, os = bias[s, e], z[s, e], out[s, e]
                for l in range(L):
                    os[l] = max(zs[l] + b, np.float32(0.0)) * ve[l]
