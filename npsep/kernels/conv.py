"""Convolution kernels: encoder framing, depthwise convolution, decoder overlap-add.

The dense parts of SuDoRM-RF's convolutions are matrix products on C-contiguous
``[C, L]`` maps, no transposes (:mod:`npsep.kernels.gemm`); these kernels do what is
left around them.
"""
import numba
from numba import prange

from .._jit import jit, pjit
from .norm import row_sums


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


def depthwise_scratch(L_in):
    """Float32 values of :func:`depthwise_conv_stats`'s scratch per thread, for rows of ``L_in``
    (an even number, so that the rows of a per-thread scratch array stay 8-byte aligned)."""
    return 2 * (L_in // 2 + 3)


@pjit
def depthwise_conv_stats(x, mu, scale, beta, slope, w, b, stride, y, sums, scratch):
    """Depthwise Conv1d (kernel 5, zero padding 2, stride 1 or 2) of a map that is still to be
    normalised, with the output's GlobLN sums.

    The conv's input is ``u[c,i] = prelu((x[c,i] - mu[c]) * scale[c] + beta[c], slope)``, computed
    on the fly (so the normalised map is never written), and
    ``y[c,l] = b[c] + sum_{j<5} w[c,j] u[c, l*stride + j - 2]``.
    ``x [C, L_in]``, ``w [C, 5]``, ``y [C, ceil(L_in / stride)]``, ``sums [C, 2]`` (float64),
    ``scratch [threads, depthwise_scratch(L_in)]`` (a row per thread, indexed by Numba's thread id).
    ``y`` may be ``x`` when ``stride`` is 1: each row is normalised into the scratch row first.

    Each output is one expression over five neighbours, so the loop over ``l`` runs in SIMD
    lanes. For stride 2 the normalised row goes straight into its even and odd samples,
    ``even[j] = u[2j]`` and ``odd[j] = u[2j + 1]`` (two halves of the scratch row), which turns
    ``u[2l + j]`` into contiguous reads: ``even[l + j/2]`` or ``odd[l + (j-1)/2]``.
    """
    C, L_in = x.shape
    L_out = y.shape[1]
    for c in prange(C):
        scratch_row = scratch[numba.get_thread_id()]
        a = slope[c] if slope.shape[0] > 1 else slope[0]
        m, sc, bc = mu[c], scale[c], beta[c]
        src = x[c]
        w0, w1, w2, w3, w4, bias = w[c, 0], w[c, 1], w[c, 2], w[c, 3], w[c, 4], b[c]
        row = y[c]
        if stride == 1:
            u = scratch_row[:L_out + 4]  # u[i + 2] = input i, zeros around it
            u[0] = u[1] = u[L_in + 2] = u[L_in + 3] = 0.0
            for i in range(L_in):
                v = (src[i] - m) * sc + bc
                u[i + 2] = v if v > 0 else a * v
            for l in range(L_out):
                row[l] = w0 * u[l] + w1 * u[l + 1] + w2 * u[l + 2] + w3 * u[l + 3] + w4 * u[l + 4] + bias
        else:  # even[j] = u[2j], odd[j] = u[2j + 1]: even[j + 1] is input 2j, odd[j + 1] input 2j + 1
            half = L_out + 2
            even, odd = scratch_row[:half], scratch_row[half:2 * half]
            even[0] = odd[0] = 0.0
            for j in range(L_in // 2):
                v = (src[2 * j] - m) * sc + bc
                even[j + 1] = v if v > 0 else a * v
                v = (src[2 * j + 1] - m) * sc + bc
                odd[j + 1] = v if v > 0 else a * v
            for j in range(L_in // 2 + 1, half):
                even[j] = odd[j] = 0.0
            if L_in % 2:  # the last input is even[L_in // 2 + 1]
                v = (src[L_in - 1] - m) * sc + bc
                even[L_in // 2 + 1] = v if v > 0 else a * v
            for l in range(L_out):
                row[l] = w0 * even[l] + w1 * odd[l] + w2 * even[l + 1] + w3 * odd[l + 1] + w4 * even[l + 2] + bias
        sums[c, 0], sums[c, 1] = row_sums(row)


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
