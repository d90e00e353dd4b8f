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
        t = np.empty(S, dtype=np.float32)
        for l in range(L):
            if act == SOFTMAX:
                m = -np.inf
                for s in range(S):
                    t[s] = z[s, e, l] + bias[s, e]
                    m = max(m, t[s])
                tot = np.float32(0.0)
                for s in range(S):
                    t[s] = np.exp(t[s] - m)
                    tot += t[s]
                for s in range(S):
                    out[s, e, l] = t[s] / tot * v[e, l]
            elif act == SIGMOID:
                for s in range(S):
                    out[s, e, l] = np.float32(1.0) / (np.float32(1.0) + np.exp(-(z[s, e, l] + bias[s, e]))) * v[e, l]
            else:
                for s in range(S):
                    out[s, e, l] = max(z[s, e, l] + bias[s, e], np.float32(0.0)) * v[e, l]
