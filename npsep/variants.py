"""The five SuDoRM-RF variants as fast forward passes: encoder, separator blocks, masks, decoder.

:func:`prepare` turns a validated state dict into a *plan* (contiguous float32
arrays, Toeplitz and decoder matrices laid out for BLAS); :func:`forward_item`
runs one waveform through it. The readable version of the same computation is
:func:`npsep.reference.forward`, which the tests hold this one to.
"""
from types import SimpleNamespace

import numba
import numpy as np

from . import blocks, layout
from .blocks import ONE, bias_act, f32, matmul
from .kernels.conv import frame_signal, overlap_add
from .kernels.gemm import norm_act_matmul, norm_act_scratch
from .kernels.masks import RELU, SIGMOID, SOFTMAX, decoder_scratch, masked_decoder_frames
from .kernels.norm import channel_stats

ZERO = np.zeros(1, dtype=np.float32)
"""PReLU slope 0: ReLU."""

MASK_ACT = {"relu": RELU, "softmax": SOFTMAX, "sigmoid": SIGMOID}


def prepare(variant, hp, p):
    """Everything :func:`forward_item` needs, from a state dict ``p`` (name -> float32 array)."""
    S, E, K, Q = hp["num_sources"], hp["enc_num_basis"], hp["enc_kernel_size"], hp["upsampling_depth"]
    plan = SimpleNamespace(variant=variant, hp=hp, S=S, E=E, K=K, hop=K // 2)
    asteroid = variant.startswith("asteroid")
    q = "masker." if asteroid else ""  # Asteroid keeps the separator under "masker."
    sub = lambda prefix: {k[len(prefix):]: v for k, v in p.items() if k.startswith(prefix)}  # noqa: E731

    # encoder: Conv1d(1 -> E, K, stride K//2); bias and ReLU for the original and SuDORMRFNet
    if variant == "original":
        plan.enc_w, plan.enc_b = f32(p["encoder.0.weight"][:, 0]), f32(p["encoder.0.bias"])
    else:
        w = p["encoder.filterbank._filters"] if asteroid else p["encoder.weight"]
        plan.enc_w, plan.enc_b = f32(w[:, 0]), np.zeros(E, np.float32)
    plan.enc_relu = variant in ("original", "asteroid_sudormrf")

    # norm and bottleneck before the blocks
    plan.ln = blocks.norm_params(p, q + "ln")
    first = "l1" if variant in ("original", "asteroid_sudormrf") else "bottleneck"
    plan.bottleneck = blocks.conv1x1_params(p, q + first)

    # separator blocks
    if variant == "groupcomm":
        plan.blocks = [blocks.prepare_gc_block(sub(f"sm.{i}."), Q, hp["group_size"]) for i in range(hp["num_blocks"])]
        plan.block = blocks.gc_block
    elif variant in ("original", "asteroid_sudormrf"):
        plan.blocks = [blocks.prepare_u_block(sub(f"{q}sm.{i}."), Q) for i in range(hp["num_blocks"])]
        plan.block = blocks.u_block
    else:
        plan.blocks = [blocks.prepare_uconv_block(sub(f"{q}sm.{i}."), Q) for i in range(hp["num_blocks"])]
        plan.block = blocks.uconv_block

    # mask logits: a 1x1 conv (improved family) or the channel-axis conv (original family)
    no_reshape = (np.zeros((0, 0), np.float32), np.zeros(0, np.float32))
    if variant in ("original", "asteroid_sudormrf"):
        plan.reshape = (blocks.conv1x1_params(p, q + "reshape_before_masks")
                        if hp["out_channels"] != E else no_reshape)
        plan.mask_w = channel_axis_toeplitz(p[q + "m.weight"])  # [S*E, E]
        plan.mask_b = f32(np.repeat(p[q + "m.bias"], E).reshape(S, E))
        plan.mask_prelu = ONE
        plan.mask_act = MASK_ACT[hp.get("mask_act", "softmax" if S > 1 else "sigmoid")]
    else:
        plan.reshape = no_reshape
        plan.mask_prelu = f32(p[q + "mask_net.0.weight"])
        plan.mask_w, b = blocks.conv1x1_params(p, q + "mask_net.1")
        plan.mask_b = f32(b.reshape(S, E))
        plan.mask_act = MASK_ACT[hp.get("mask_act", "relu")]

    # decoder: ConvTranspose1d as frames = W_dec z (a product per column block), then overlap-add
    if variant == "original":  # groups = S, weight [S*E, 1, K] -> one [K, E] matrix per source
        plan.dec_w = f32(p["decoder.weight"][:, 0, :].reshape(S, E, K).transpose(0, 2, 1))
        plan.dec_b = f32(p["decoder.bias"])
    elif asteroid:  # one [E, 1, K] filterbank shared by every source: [1, K, E]
        plan.dec_w = f32(p["decoder.filterbank._filters"][:, 0, :].T[None])
        plan.dec_b = np.zeros(S, np.float32)
    else:  # groups = 1, weight [S*E, S, K] -> [1, S*K, S*E]: one matrix product for all sources
        plan.dec_w = f32(p["decoder.weight"].transpose(1, 2, 0).reshape(1, S * K, S * E))
        plan.dec_b = np.zeros(S, np.float32)
    return plan


def channel_axis_toeplitz(w):  # [S, 1, E+1, 1] -> [S*E, E]
    """The channel-axis mask conv as matrices: ``z_s = T_s y`` with ``T_s[h, i] = w[s, i - h + E/2]``
    (zero where that tap does not exist), stacked over sources."""
    S, taps = w.shape[0], w.shape[2]
    E = taps - 1
    h, i = np.arange(E)[:, None], np.arange(E)[None, :]
    j = i - h + (E - E // 2)
    valid = (j >= 0) & (j < taps)
    T = np.where(valid[None], w[:, 0, np.clip(j, 0, taps - 1), 0], 0.0)  # [S, E, E]
    return f32(T.reshape(S * E, E))


def forward_item(plan, x, ws):  # [T] -> [S, T]
    """One waveform through the model: pad, encode, separate, mask, decode, trim."""
    S, E, K, hop = plan.S, plan.E, plan.K, plan.hop
    T = x.shape[0]
    L = (layout.padded_length(plan.variant, plan.hp, T) - 1) // hop + 1

    threads = numba.get_num_threads()
    frames = ws.get("frames", (K, L))
    frame_signal(x, K, hop, frames)  # zeros past T are the padding
    v = ws.get("v", (E, L))  # encoder output, kept for the masks
    matmul(plan.enc_w, frames, v, bias=plan.enc_b)
    if plan.enc_relu:
        bias_act(v, np.zeros(E, np.float32), ZERO)

    sums = ws.get("v.sums", (E, 2), np.float64)
    channel_stats(v, sums)
    y = ws.get("y", (plan.bottleneck[0].shape[0], L))
    norm_act_matmul(v, *ws.coefficients("ln", sums, L, plan.ln), ONE, *plan.bottleneck, y, threads,
                    ws.per_thread("ln.scratch", norm_act_scratch(E)))

    for blk in plan.blocks:
        plan.block(blk, y, ws)

    dec_frames = ws.get("dec.frames", (S * K, L))
    scratch = ws.per_thread("dec.scratch", decoder_scratch(y.shape[0], plan.reshape[0].shape[0], plan.mask_w.shape[0]))
    masked_decoder_frames(y, plan.mask_prelu, *plan.reshape, plan.mask_w, plan.mask_b, v, plan.mask_act,
                          plan.dec_w, dec_frames, threads, scratch)
    out = np.empty((S, T), dtype=np.float32)
    overlap_add(dec_frames.reshape(S, K, L), hop, K // 2, plan.dec_b, out)
    return out
