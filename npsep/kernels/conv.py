"""Convolution kernels: encoder framing, depthwise convolution, decoder overlap-add.

The dense parts of SuDoRM-RF's convolutions are matrix products done by BLAS
(``np.matmul`` on C-contiguous ``[C, L]`` maps, no transposes); these kernels do
what is left around them.
"""
import numpy as np
from numba import prange

from .._jit import jit, pjit


@jit
def frame_signal(x, K, hop, frames):
    """Encoder im2col: ``frames[k, l] = x[l*hop + k - K//2]`` (zero outside ``x``).

    ``x [T]``, ``frames [K, L]``; then the encoder Conv1d is ``W[E, K] @ frames``.
    """
    T = x.shape[0]
    L = frames.shape[1]
    pad = K // 2
    for k in range(K):
        for l in range(L):
            t = l * hop + k - pad
            frames[k, l] = x[t] if 0 <= t < T else 0.0


@pjit
def depthwise_conv_stats(x, mu, scale, beta, slope, w, b, stride, y, sums):
    """Depthwise Conv1d (kernel ``k``, zero padding ``(k-1)//2``) of a map that is still to be
    normalised, with the output's GlobLN sums.

    The conv's input is ``u[c,i] = prelu((x[c,i] - mu) * scale[c] + beta[c], slope)``, computed
    on the fly (so the normalised map is never written), and
    ``y[c,l] = b[c] + sum_j w[c,j] u[c, l*stride + j - (k-1)//2]``.
    ``x [C, L_in]``, ``w [C, k]``, ``y [C, ceil(L_in / stride)]``, ``sums [C, 2]`` (float64).
    """
    C, L_in = x.shape
    L_out = y.shape[1]
    k = w.shape[1]
    pad = (k - 1) // 2
    for c in prange(C):
        a = slope[c] if slope.shape[0] > 1 else slope[0]
        sc, bc = scale[c], beta[c]
        u = np.zeros(L_in + 2 * pad + stride, dtype=np.float32)
        for i in range(L_in):
            v = (x[c, i] - mu) * sc + bc
            u[i + pad] = v if v > 0 else a * v
        s, s2 = 0.0, 0.0
        for l in range(L_out):
            acc = np.float32(0.0)
            for j in range(k):
                acc += w[c, j] * u[l * stride + j]
            acc += b[c]
            y[c, l] = acc
            s += acc
            s2 += np.float64(acc) * acc
        sums[c, 0] = s
        sums[c, 1] = s2


@pjit
def overlap_add(frames, hop, pad, bias, out):
    """Decoder col2im: ``out[s, l*hop + k - pad] += frames[s, k, l]``, plus ``bias[s]``.

    ``frames [S, K, L]`` come from the ConvTranspose1d's matrix product; ``out [S, T]``.
    """
    S, K, L = frames.shape
    T = out.shape[1]
    for s in prange(S):
        for t in range(T):
            out[s, t] = 0.0
        for l in range(L):
            for k in range(K):
                t = l * hop + k - pad
                if 0 <= t < T:
                    out[s, t] += frames[s, k, l]
        for t in range(T):
            out[s, t] += bias[s]
