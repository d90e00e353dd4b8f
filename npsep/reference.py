"""SuDoRM-RF in plain NumPy: every operation a few lines that read like its equation.

This module is the *oracle*: the Numba kernels in :mod:`npsep.kernels` are tested
against it, and it is tested against PyTorch. It is also the place to learn the
model from: each function below is one equation of ``docs/``, and the forward
passes at the bottom are the architecture written as a composition of them.

It favours clarity over speed (it allocates freely). Arrays hold one batch item:
a waveform is ``[T]``, a feature map is ``[C, L]`` (channels, frames). Shapes are
in the trailing comments. Pass float64 arrays for a high-precision reference.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .architectures import architecture, padded_length, unflatten


# --- the operations ----------------------------------------------------------------------

def encoder_conv(x, w, b=None):  # [T], [E,1,K], [E] -> [E, L]
    """Strided Conv1d, 1 -> E bases: ``v[e,l] = b[e] + sum_k w[e,k] x[l*K//2 + k - K//2]``.

    ``x [T]`` samples (already padded), ``w [E, 1, K]``, ``b [E]`` or ``None`` ->
    ``v [E, L]`` with ``L = (T - 1) // (K//2) + 1`` frames (hop ``K//2`` samples).
    """
    K = w.shape[-1]
    frames = sliding_window_view(np.pad(x, K // 2), K)[:: K // 2]  # [L, K]
    v = w[:, 0, :] @ frames.T  # [E, L]
    return v if b is None else v + b[:, None]


def pointwise_conv(x, w, b):  # [C_i, L], [C_o, C_i, 1], [C_o] -> [C_o, L]
    """1x1 Conv1d, a matrix product: ``y[o,l] = b[o] + sum_i W[o,i] x[i,l]``.

    ``x [C_i, L]``, ``w [C_o, C_i, 1]``, ``b [C_o]`` -> ``[C_o, L]`` (frames unchanged).
    """
    return w[:, :, 0] @ x + b[:, None]


def depthwise_conv(x, w, b, stride=1):  # [C, L], [C, 1, k], [C] -> [C, ceil(L/stride)]
    """Per-channel Conv1d with zero padding ``(k-1)//2``:
    ``y[c,l] = b[c] + sum_j w[c,j] x[c, l*stride + j - (k-1)//2]``.

    ``x [C, L]``, ``w [C, 1, k]``, ``b [C]`` -> ``[C, ceil(L / stride)]`` frames.
    """
    k = w.shape[-1]
    windows = sliding_window_view(np.pad(x, ((0, 0), ((k - 1) // 2,) * 2)), k, axis=1)[:, ::stride]
    return np.einsum("clj,cj->cl", windows, w[:, 0, :]) + b[:, None]


def glob_ln(x, gamma, beta, eps=1e-8):  # [C, L] -> [C, L]
    """Global layer norm over all of ``[C, L]``: ``gamma[c] (x - mu) / sqrt(var + eps) + beta[c]``.

    ``nn.GroupNorm(1, C)`` computes the same thing (its ``weight``/``bias`` are ``gamma``/``beta``).
    ``x [C, L]``, ``gamma [C]``, ``beta [C]`` -> ``[C, L]``; ``mu`` and the biased ``var`` are
    scalars over the whole map.
    """
    mu = x.mean()
    var = ((x - mu) ** 2).mean()
    return gamma[:, None] * (x - mu) / np.sqrt(var + eps) + beta[:, None]


def prelu(x, a):  # [C, L], [1] or [C] -> [C, L]
    """``max(0, x) + a * min(0, x)`` with one shared slope or one per channel.

    ``x [C, L]``, ``a [1]`` or ``[C]`` -> ``[C, L]``.
    """
    return np.maximum(x, 0) + a.reshape(-1, 1) * np.minimum(x, 0)


def upsample_add(fine, coarse):  # [C, L_f], [C, ceil(L_f/2)] -> [C, L_f]
    """Nearest x2 upsampling of ``coarse``, cropped to the finer length, added:
    ``y[c,l] = fine[c,l] + coarse[c, l // 2]``.

    ``fine [C, L_f]``, ``coarse [C, ceil(L_f / 2)]`` -> ``[C, L_f]``.
    """
    return fine + np.repeat(coarse, 2, axis=-1)[..., : fine.shape[-1]]


def softmax_sources(z):  # [S, E, L] -> [S, E, L]
    """Softmax across the sources at every ``(e, l)``: ``z [S, E, L]`` -> masks ``[S, E, L]``
    that sum to one over ``S``."""
    e = np.exp(z - z.max(axis=0))
    return e / e.sum(axis=0)


def sigmoid(z):
    """Logistic mask ``1 / (1 + exp(-z))``, elementwise (any shape, e.g. ``[S, E, L]``)."""
    return 1 / (1 + np.exp(-z))


def relu(z):
    """``max(z, 0)``, elementwise (any shape; the improved masks ``[S*E, L]``)."""
    return np.maximum(z, 0)


def channel_axis_conv(y, w, b):  # [E, L], [S, 1, E+1, 1], [S] -> [S, E, L]
    """The original mask layer: ``Conv2d(1 -> S, kernel (E+1, 1), padding (E/2, 0))`` on
    ``y`` seen as a ``[1, E, L]`` image, i.e. a 1-D convolution *along the channel axis*:
    ``z[s,e,l] = b[s] + sum_j w[s,j] y[e + j - E/2, l]`` (zero outside ``0..E-1``)."""
    E = y.shape[0]
    windows = sliding_window_view(np.pad(y, ((E - E // 2,) * 2, (0, 0))), E + 1, axis=0)  # [E, L, E+1]
    return np.einsum("elj,sj->sel", windows, w[:, 0, :, 0]) + b[:, None, None]


def conv_transpose1d(x, w, b, stride, padding, output_padding, groups=1):
    """ConvTranspose1d ``[C_i, L] -> [C_o, (L-1)*stride - 2*padding + K + output_padding]``
    with weights ``[C_i, C_o/groups, K]``: every input frame adds a weighted copy of the
    kernel at ``l*stride - padding`` (overlap-add):
    ``y[o, l*stride + k - padding] += sum_{i in group(o)} x[i,l] w[i, o mod C_o/groups, k]``."""
    C_i, L = x.shape
    _, C_og, K = w.shape
    full = np.zeros((C_og * groups, (L - 1) * stride + K + output_padding), dtype=x.dtype)
    ci = C_i // groups
    for g in range(groups):
        contrib = np.einsum("il,iok->okl", x[g * ci:(g + 1) * ci], w[g * ci:(g + 1) * ci])  # [C_og, K, L]
        for k in range(K):
            full[g * C_og:(g + 1) * C_og, k: k + (L - 1) * stride + 1: stride] += contrib[:, k]
    L_out = (L - 1) * stride - 2 * padding + K + output_padding
    y = full[:, padding: padding + L_out]
    return y if b is None else y + b[:, None]


def linear(x, w, b):  # [..., C_i, L], [C_o, C_i], [C_o] -> [..., C_o, L]
    """``nn.Linear`` applied to every frame (features on the channel axis):
    ``x [..., C_i, L]``, ``w [C_o, C_i]``, ``b [C_o]`` -> ``[..., C_o, L]``."""
    return np.einsum("oi,...il->...ol", w, x) + b[:, None]


def transform_average_concatenate(x, input, mean, output, norm):  # [G, c, L] -> [G, c, L]
    """Transform-average-concatenate across the ``G`` groups of a GC block, at every frame:
    ``h_g = PReLU(W_in x_g)``, ``m = PReLU(W_mean mean_g h_g)``,
    ``x_g + GlobLN(PReLU(W_out [h_g; m]))`` (GlobLN of each group separately).

    ``x [G, c, L]`` (``c = C_out / G`` channels per group); ``input``, ``mean``, ``output`` the
    three linear layers with their PReLU slopes (hidden size ``3c``), ``norm`` the GlobLN -> ``[G, c, L]``.
    """
    h = prelu(linear(x, input.linear.w, input.linear.b), input.act)  # [G, 3c, L]
    m = prelu(linear(h.mean(axis=0), mean.linear.w, mean.linear.b), mean.act)  # [3c, L]
    hm = np.concatenate([h, np.broadcast_to(m, h.shape)], axis=1)  # [G, 6c, L]
    o = prelu(linear(hm, output.linear.w, output.linear.b), output.act)  # [G, c, L]
    return x + np.stack([glob_ln(o_g, norm.gamma, norm.beta) for o_g in o])


# --- blocks --------------------------------------------------------------------------------

def conv1x1(x, conv):  # [C_i, L] -> [C_o, L]
    """:func:`pointwise_conv` with a layer's weight and bias: ``x [C_i, L]`` -> ``[C_o, L]``."""
    return pointwise_conv(x, conv.w, conv.b)


def norm(x, n):  # [C, L] -> [C, L]
    """GlobLN or GroupNorm(1, C) (the same equation) with a layer's ``gamma`` and ``beta``."""
    return glob_ln(x, n.gamma, n.beta)


def resample_pyramid(u, levels):  # [C_in, L] -> [C_in, L]
    """Successive downsampling (depthwise convs, stride 2 after level 0, each normalised),
    then resampling back: from the coarsest level up, ``d[k-1] += up2(d[k])``.

    ``u [C_in, L]``, ``levels`` one depthwise conv and norm per level -> ``[C_in, L]``; level ``k``
    has ``ceil(L / 2**k)`` frames.
    """
    d = [u]
    for k, level in enumerate(levels):
        d.append(norm(depthwise_conv(d[-1], level.conv.w, level.conv.b, stride=1 if k == 0 else 2), level.norm))
    d = d[1:]
    while len(d) > 1:
        coarse = d.pop()
        d[-1] = upsample_add(d[-1], coarse)
    return d[0]


def uconv_block(x, proj, pyramid, final_norm, res):  # [C_out, L] -> [C_out, L]
    """Improved U-ConvBlock: ``x + W_res PReLU(GlobLN(pyramid(PReLU(GlobLN(W_proj x)))))``.

    ``x [C_out, L]`` -> ``[C_out, L]`` (``C_in`` channels inside).
    """
    u = prelu(norm(conv1x1(x, proj.conv), proj.norm), proj.act)  # [C_in, L]
    s = resample_pyramid(u, pyramid)  # [C_in, L]
    return conv1x1(prelu(norm(s, final_norm.norm), final_norm.act), res) + x


def u_block(x, proj, pyramid, exp, final_norm, out):  # [C_out, L] -> [C_out, L]
    """Original U-block: ``PReLU(GN(x + GN(W_exp PReLU(GN(pyramid(PReLU(GN(W_proj x))))))))``.

    ``x [C_out, L]`` -> ``[C_out, L]`` (``C_in`` channels inside).
    """
    u = prelu(norm(conv1x1(x, proj.conv), proj.norm), proj.act)  # [C_in, L]
    s = resample_pyramid(u, pyramid)  # [C_in, L]
    e = norm(conv1x1(prelu(norm(s, final_norm.norm), final_norm.act), exp.conv), exp.norm)  # [C_out, L]
    return prelu(norm(e + x, out.norm), out.act)


def gc_block(x, tac, ublock):  # [C_out, L] -> [C_out, L]
    """Group-communication block: TAC across ``G`` groups of channels, then one shared
    U-ConvBlock applied to each group.

    ``x [C_out, L]`` -> ``[C_out, L]``, viewed inside as ``[G, C_out / G, L]``.
    """
    c = tac.norm.gamma.shape[0]  # channels per group
    xg = transform_average_concatenate(x.reshape(-1, c, x.shape[-1]), **vars(tac))  # [G, c, L]
    return np.concatenate([uconv_block(g, **vars(ublock)) for g in xg])


# --- the forward pass ----------------------------------------------------------------------

BLOCKS = {"u_block": u_block, "uconv_block": uconv_block, "gc_block": gc_block}
MASK_ACTS = {"softmax": softmax_sources, "sigmoid": sigmoid, "relu": relu}


def mask_logits(y, head, kind, S):  # [C, L] -> [S, E, L]
    """The channel-axis mask conv, or ``W_m PReLU(y) + b_m`` viewed as ``S`` sources."""
    if kind == "channel_axis":
        return channel_axis_conv(y, head.conv.w, head.conv.b)
    return conv1x1(prelu(y, head.act), head.conv).reshape(S, -1, y.shape[-1])


def decode(mv, decoder, kind, K):  # [S, E, L] -> [S, T_pad]
    """ConvTranspose1d (stride ``K//2``) of the masked bases: with ``groups = S`` (per-source
    filters), ``groups = 1`` (``"mixing"``: every source's output mixes all masked bases) or one
    filter bank shared by every source (``"shared"``: the grouped case with the bank repeated)."""
    S, H = mv.shape[0], K // 2
    w = np.concatenate([decoder.w] * S) if kind == "shared" else decoder.w
    groups = 1 if kind == "mixing" else S
    return conv_transpose1d(mv.reshape(-1, mv.shape[-1]), w, decoder.b, H, H, H - 1, groups=groups)


def forward(variant, hp, p, x):  # [T] -> [S, T]
    """One batch item through the whole model: pad, encode, separate, mask, decode, trim.

    ``x [T]`` samples at the model's rate (any ``T >= 1``), ``hp`` the hyper-parameters,
    ``p`` the state dict (name -> array) -> the sources ``[S, T]``. What differs between the
    variants is read off their :class:`npsep.architectures.Architecture`.
    """
    arch, model = architecture(variant), unflatten(variant, hp, p)
    T = x.shape[-1]
    xp = np.pad(x, (0, padded_length(variant, hp, T) - T))  # [T_pad]
    v = encoder_conv(xp, model.encoder.w, model.encoder.b)  # [E, L]
    if arch.encoder_relu:
        v = relu(v)
    y = conv1x1(norm(v, model.norm), model.bottleneck)  # [C_out, L]
    for block in model.blocks:
        y = BLOCKS[arch.block](y, **vars(block))
    if model.reshape is not None:
        y = conv1x1(y, model.reshape)  # [E, L]
    z = mask_logits(y, model.mask, arch.mask_head, hp["num_sources"])  # [S, E, L]
    m = MASK_ACTS[arch.mask_activation(hp)](z)  # [S, E, L]
    return decode(m * v, model.decoder, arch.decoder, hp["enc_kernel_size"])[:, :T]
