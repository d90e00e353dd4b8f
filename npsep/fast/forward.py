"""The fast forward pass of every variant: encoder, separator blocks, masks, decoder.

:func:`prepare` turns a validated state dict into a :class:`Plan` (contiguous float32
arrays, Toeplitz and decoder matrices laid out for BLAS); :func:`forward_item`
runs one waveform through it. The readable version of the same computation is
:func:`npsep.reference.forward`, which the tests hold this one to. What differs between
the variants is read off their :class:`npsep.architectures.Architecture`.
"""
from dataclasses import dataclass
from typing import Callable

import numba
import numpy as np

from .. import architectures
from ..architectures import Conv, Norm
from ..kernels.conv import frame_signal, overlap_add
from ..kernels.gemm import norm_act_matmul, norm_act_scratch
from ..kernels.masks import RELU, SIGMOID, SOFTMAX, decoder_scratch, masked_decoder_frames
from ..kernels.norm import channel_stats
from . import blocks
from .blocks import ONE, bias_act, f32, matmul

ZERO = np.zeros(1, dtype=np.float32)
"""PReLU slope 0: ReLU."""

MASK_ACT = {"relu": RELU, "softmax": SOFTMAX, "sigmoid": SIGMOID}

NO_RESHAPE = Conv(np.zeros((0, 0), np.float32), np.zeros(0, np.float32))
"""The mask kernel's "no 1x1 conv before the mask logits"."""


@dataclass(frozen=True)
class Plan:
    """One model, ready for :func:`forward_item`."""

    variant: str
    hp: dict
    encoder: Conv
    """``w [E, K]`` (applied to ``[K, L]`` frames), ``b [E]`` (zeros when the encoder has none)."""
    encoder_relu: bool
    norm: Norm
    bottleneck: Conv
    block: Callable
    blocks: tuple
    reshape: Conv
    """1x1 conv before the channel-axis mask conv, or :data:`NO_RESHAPE`."""
    mask_prelu: np.ndarray
    mask: Conv
    """Mask logits ``z = W y + b``: ``w [S*E, C]`` (the channel-axis conv as a Toeplitz matrix), ``b [S, E]``."""
    mask_act: int
    decoder: Conv
    """``w`` the matrices of :func:`decoder_matrices`, ``b [S]`` (zeros when the decoder has none)."""


def prepare(variant, hp, p):
    """Everything :func:`forward_item` needs, from a state dict ``p`` (name -> float32 array)."""
    arch, model = architectures.architecture(variant), architectures.unflatten(variant, hp, p)
    S, E = hp["num_sources"], hp["enc_num_basis"]
    prepare_block = {"u_block": blocks.prepare_u_block, "uconv_block": blocks.prepare_uconv_block,
                     "gc_block": lambda tree: blocks.prepare_gc_block(tree, hp["group_size"])}[arch.block]
    if arch.mask_head == "channel_axis":
        mask_prelu = ONE
        mask = Conv(channel_axis_toeplitz(model.mask.conv.w), f32(np.repeat(model.mask.conv.b, E).reshape(S, E)))
    else:
        mask_prelu = f32(model.mask.act)
        mask = Conv(f32(model.mask.conv.w[:, :, 0]), f32(model.mask.conv.b.reshape(S, E)))
    return Plan(variant=variant, hp=hp,
                encoder=Conv(f32(model.encoder.w[:, 0]),
                             np.zeros(E, np.float32) if model.encoder.b is None else f32(model.encoder.b)),
                encoder_relu=arch.encoder_relu, norm=blocks.norm(model.norm),
                bottleneck=blocks.conv1x1(model.bottleneck),
                block=getattr(blocks, arch.block), blocks=tuple(prepare_block(b) for b in model.blocks),
                reshape=NO_RESHAPE if model.reshape is None else blocks.conv1x1(model.reshape),
                mask_prelu=mask_prelu, mask=mask, mask_act=MASK_ACT[arch.mask_activation(hp)],
                decoder=Conv(decoder_matrices(model.decoder.w, arch.decoder, S),
                             np.zeros(S, np.float32) if model.decoder.b is None else f32(model.decoder.b)))


def decoder_matrices(w, kind, S):
    """The decoder's ConvTranspose1d as matrices that turn masked bases into frames, ``W_dec z``:

    * ``"grouped"`` (``groups = S``, ``w [S*E, 1, K]``): one ``[K, E]`` matrix per source, ``[S, K, E]``;
    * ``"shared"`` (one ``[E, 1, K]`` filter bank for every source): ``[1, K, E]``;
    * ``"mixing"`` (``groups = 1``, ``w [S*E, S, K]``): one matrix for all sources, ``[1, S*K, S*E]``.
    """
    K = w.shape[-1]
    if kind == "grouped":
        return f32(w[:, 0, :].reshape(S, -1, K).transpose(0, 2, 1))
    if kind == "shared":
        return f32(w[:, 0, :].T[None])
    return f32(w.transpose(1, 2, 0).reshape(1, S * K, -1))


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


def forward_item(plan, x, ws, observe=None):  # [T] -> [S, T]
    """One waveform through the model: pad, encode, separate, mask, decode, trim.

    ``observe(stage, a)``, if given, sees the maps between the stages (``"encoder"`` ``[E, L]``
    after its activation, ``"bottleneck"`` and each ``"block"`` ``[C_out, L]``); it must copy
    what it keeps, the buffers are reused (see :mod:`npsep.parity.trace`)."""
    S, E, K = plan.hp["num_sources"], plan.hp["enc_num_basis"], plan.hp["enc_kernel_size"]
    hop = K // 2
    T = x.shape[0]
    L = (architectures.padded_length(plan.variant, plan.hp, T) - 1) // hop + 1

    threads = numba.get_num_threads()
    frames = ws.get("frames", (K, L))
    frame_signal(x, K, hop, frames)  # zeros past T are the padding
    v = ws.get("v", (E, L))  # encoder output, kept for the masks
    matmul(plan.encoder.w, frames, v, bias=plan.encoder.b)
    if plan.encoder_relu:
        bias_act(v, np.zeros(E, np.float32), ZERO)
    if observe:
        observe("encoder", v)

    sums = ws.get("v.sums", (E, 2), np.float64)
    channel_stats(v, sums)
    y = ws.get("y", (plan.bottleneck.w.shape[0], L))
    norm_act_matmul(v, *ws.coefficients("ln", sums, L, plan.norm), ONE, plan.bottleneck.w, plan.bottleneck.b,
                    y, threads, ws.per_thread("ln.scratch", norm_act_scratch(E)))

    if observe:
        observe("bottleneck", y)
    for blk in plan.blocks:
        plan.block(blk, y, ws)
        if observe:
            observe("block", y)

    dec_frames = ws.get("dec.frames", (S * K, L))
    scratch = ws.per_thread("dec.scratch", decoder_scratch(y.shape[0], plan.reshape.w.shape[0], plan.mask.w.shape[0]))
    masked_decoder_frames(y, plan.mask_prelu, plan.reshape.w, plan.reshape.b, plan.mask.w, plan.mask.b, v,
                          plan.mask_act, plan.decoder.w, dec_frames, threads, scratch)
    out = np.empty((S, T), dtype=np.float32)
    overlap_add(dec_frames.reshape(S, K, L), hop, K // 2, plan.decoder.b, out)
    return out
