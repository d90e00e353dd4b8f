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

from .layout import padded_length


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


def tac(x, p):  # [G, c, L] -> [G, c, L]
    """Transform-average-concatenate across the ``G`` groups of a GC block, at every frame:
    ``h_g = PReLU(W_in x_g)``, ``m = PReLU(W_mean mean_g h_g)``,
    ``x_g + GlobLN(PReLU(W_out [h_g; m]))`` (GlobLN of each group separately).

    ``x [G, c, L]`` (``c = C_out / G`` channels per group), ``p`` the ``TAC.``-stripped
    tensors (hidden size ``3c``) -> ``[G, c, L]``.
    """
    h = prelu(linear(x, p["TAC_input.0.weight"], p["TAC_input.0.bias"]), p["TAC_input.1.weight"])  # [G,3c,L]
    m = prelu(linear(h.mean(axis=0), p["TAC_mean.0.weight"], p["TAC_mean.0.bias"]), p["TAC_mean.1.weight"])
    hm = np.concatenate([h, np.broadcast_to(m, h.shape)], axis=1)  # [G, 6c, L]
    o = prelu(linear(hm, p["TAC_output.0.weight"], p["TAC_output.0.bias"]), p["TAC_output.1.weight"])
    return x + np.stack([glob_ln(o_g, p["TAC_norm.gamma"], p["TAC_norm.beta"]) for o_g in o])


# --- blocks --------------------------------------------------------------------------------

def sub(p, prefix):
    """The tensors of one sub-module, with ``prefix`` removed from their names."""
    return {k[len(prefix):]: v for k, v in p.items() if k.startswith(prefix)}


def conv1x1(p, name, x):
    """:func:`pointwise_conv` with the state-dict tensors ``name.weight`` / ``name.bias``:
    ``x [C_i, L]`` -> ``[C_o, L]``."""
    return pointwise_conv(x, p[name + ".weight"], p[name + ".bias"])


def norm(p, name, x):
    """GlobLN (``gamma``/``beta``) or GroupNorm(1, C) (``weight``/``bias``): the same equation.
    ``x [C, L]`` -> ``[C, L]``."""
    if name + ".gamma" in p:
        return glob_ln(x, p[name + ".gamma"], p[name + ".beta"])
    return glob_ln(x, p[name + ".weight"], p[name + ".bias"])


def pyramid(p, u, depth):  # [C_in, L] -> [C_in, L]
    """Successive downsampling (depthwise convs, stride 2 after level 0, each normalised),
    then resampling back: from the coarsest level up, ``d[k-1] += up2(d[k])``.

    ``u [C_in, L]`` -> ``[C_in, L]``; level ``k`` has ``ceil(L / 2**k)`` frames, ``depth`` = Q levels.
    """
    d = [norm(p, "spp_dw.0.norm", depthwise_conv(u, p["spp_dw.0.conv.weight"], p["spp_dw.0.conv.bias"]))]
    for k in range(1, depth):
        conv = depthwise_conv(d[-1], p[f"spp_dw.{k}.conv.weight"], p[f"spp_dw.{k}.conv.bias"], stride=2)
        d.append(norm(p, f"spp_dw.{k}.norm", conv))
    while len(d) > 1:
        coarse = d.pop()
        d[-1] = upsample_add(d[-1], coarse)
    return d[0]


def uconv_block(p, x, depth):  # [C_out, L] -> [C_out, L]
    """Improved U-ConvBlock: ``x + W_res PReLU(GlobLN(pyramid(PReLU(GlobLN(W_proj x)))))``.

    ``x [C_out, L]`` -> ``[C_out, L]`` (``C_in`` channels inside); ``p`` the block's
    prefix-stripped tensors, ``depth`` = Q.
    """
    u = prelu(norm(p, "proj_1x1.norm", conv1x1(p, "proj_1x1.conv", x)), p["proj_1x1.act.weight"])
    s = pyramid(p, u, depth)
    return conv1x1(p, "res_conv", prelu(norm(p, "final_norm.norm", s), p["final_norm.act.weight"])) + x


def u_block(p, x, depth):  # [C_out, L] -> [C_out, L]
    """Original U-block: ``PReLU(GN(x + GN(W_exp PReLU(GN(pyramid(PReLU(GN(W_proj x))))))))``.

    ``x [C_out, L]`` -> ``[C_out, L]``; ``p`` the block's prefix-stripped tensors, ``depth`` = Q.
    """
    u = prelu(norm(p, "proj_1x1.norm", conv1x1(p, "proj_1x1.conv", x)), p["proj_1x1.act.weight"])
    s = pyramid(p, u, depth)
    e = norm(p, "conv_1x1_exp.norm",
             conv1x1(p, "conv_1x1_exp.conv", prelu(norm(p, "final_norm.norm", s), p["final_norm.act.weight"])))
    return prelu(norm(p, "module_act.norm", e + x), p["module_act.act.weight"])


def gc_block(p, x, depth, groups):  # [C_out, L] -> [C_out, L]
    """Group-communication block: TAC across ``G`` groups of channels, then one shared
    U-ConvBlock applied to each group.

    ``x [C_out, L]`` -> ``[C_out, L]``, viewed inside as ``[G, C_out / G, L]``.
    """
    xg = tac(x.reshape(groups, -1, x.shape[-1]), sub(p, "TAC."))  # [G, C_out/G, L]
    return np.concatenate([uconv_block(sub(p, "UBlock."), g, depth) for g in xg])


# --- the forward passes --------------------------------------------------------------------

def forward(variant, hp, p, x):  # [T] -> [S, T]
    """One batch item through the whole model: pad, encode, mask, decode, trim.

    ``x [T]`` samples at the model's rate (any ``T >= 1``), ``hp`` the hyper-parameters,
    ``p`` the state dict (name -> array) -> the sources ``[S, T]``.
    """
    T = x.shape[-1]
    xp = np.pad(x, (0, padded_length(variant, hp, T) - T))
    run = {"original": _original, "improved": _improved, "groupcomm": _improved,
           "asteroid_sudormrf": _asteroid, "asteroid_improved": _asteroid}[variant]
    return run(variant, hp, p, xp)[:, :T]


def _improved(variant, hp, p, x):  # [T] -> [S, T]
    S, E, K, Q = hp["num_sources"], hp["enc_num_basis"], hp["enc_kernel_size"], hp["upsampling_depth"]
    v = encoder_conv(x, p["encoder.weight"])  # [E, L]
    y = conv1x1(p, "bottleneck", norm(p, "ln", v))  # [C_out, L]
    for i in range(hp["num_blocks"]):
        if variant == "groupcomm":
            y = gc_block(sub(p, f"sm.{i}."), y, Q, hp["group_size"])
        else:
            y = uconv_block(sub(p, f"sm.{i}."), y, Q)
    m = relu(conv1x1(p, "mask_net.1", prelu(y, p["mask_net.0.weight"]))).reshape(S, E, -1)  # [S, E, L]
    return conv_transpose1d((m * v).reshape(S * E, -1), p["decoder.weight"], None, K // 2, K // 2, K // 2 - 1)


def _original(variant, hp, p, x):  # [T] -> [S, T]
    S, E, K, Q = hp["num_sources"], hp["enc_num_basis"], hp["enc_kernel_size"], hp["upsampling_depth"]
    v = relu(encoder_conv(x, p["encoder.0.weight"], p["encoder.0.bias"]))  # [E, L]
    y = conv1x1(p, "l1", norm(p, "ln", v))  # [C_out, L]
    for i in range(hp["num_blocks"]):
        y = u_block(sub(p, f"sm.{i}."), y, Q)
    if hp["out_channels"] != E:
        y = conv1x1(p, "reshape_before_masks", y)  # [E, L]
    z = channel_axis_conv(y, p["m.weight"], p["m.bias"])  # [S, E, L]
    m = softmax_sources(z) if S > 1 else sigmoid(z)
    return conv_transpose1d((m * v).reshape(S * E, -1), p["decoder.weight"], p["decoder.bias"],
                            K // 2, K // 2, K // 2 - 1, groups=S)


def _asteroid(variant, hp, p, x):  # [T] -> [S, T]
    S, E, K, Q = hp["num_sources"], hp["enc_num_basis"], hp["enc_kernel_size"], hp["upsampling_depth"]
    v = encoder_conv(x, p["encoder.filterbank._filters"])  # [E, L]
    q = sub(p, "masker.")
    if variant == "asteroid_sudormrf":
        v = relu(v)
        y = conv1x1(q, "l1", norm(q, "ln", v))
        for i in range(hp["num_blocks"]):
            y = u_block(sub(q, f"sm.{i}."), y, Q)
        if hp["out_channels"] != E:
            y = conv1x1(q, "reshape_before_masks", y)
        z = channel_axis_conv(y, q["m.weight"], q["m.bias"])  # [S, E, L]
    else:
        y = conv1x1(q, "bottleneck", norm(q, "ln", v))
        for i in range(hp["num_blocks"]):
            y = uconv_block(sub(q, f"sm.{i}."), y, Q)
        z = conv1x1(q, "mask_net.1", prelu(y, q["mask_net.0.weight"])).reshape(S, E, -1)
    m = {"softmax": softmax_sources, "sigmoid": sigmoid, "relu": relu}[hp["mask_act"]](z)
    w = p["decoder.filterbank._filters"]  # [E, 1, K], shared by every source
    return np.concatenate([conv_transpose1d(m_s * v, w, None, K // 2, K // 2, K // 2 - 1) for m_s in m])
