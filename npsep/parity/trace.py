"""Every intermediate tensor of one forward pass, named as PyTorch's ``named_modules()`` names it.

The forward pass of :mod:`npsep.reference` (the oracle), composed again from the same
operations with a :class:`Recorder` call at every module boundary of the PyTorch code:
the names are the module paths of the checkpoint's own naming (``encoder``, ``ln``,
``sm.3.proj_1x1.norm``, ``sm.3.spp_dw.2``, ``sm.3``, ``mask_net``, ``decoder``; Asteroid's
under ``masker.``), recorded in the order the modules complete, as forward hooks see them.

What a trace holds, for every variant: each module called exactly once per forward pass
(containers included), with its output in PyTorch's layout (batch first; the
group-communication block's U-ConvBlock and TAC norm run on ``B*G`` items, TAC's linear
layers on ``[B, L, G, H]``). Not recorded: the pyramid's ``upsampler`` when it is called
more than once (``Q > 2``: once per level; its sum with the finer level is not a module output: it shows in ``final_norm.norm``),
and modules the forward pass never calls (``ln_mask_in``, Asteroid's ``filterbank``).
Functional steps that are not modules (the original model's softmax) have no entry; the
next module output shows them.

:func:`trace` computes all of that with the oracle, in float64 by default.
:func:`trace_fast` records what the fused fast path (:mod:`npsep.fast`, float32) exposes
without changing its kernels: the encoder's output after its activation (``encoder``;
Asteroid: ``enc_activation``), the bottleneck, each block (``sm.i``), ``sm`` and the output.
"""
import numpy as np

from .. import reference as R
from ..architectures import architecture, padded_length, unflatten
from .tracefile import OUTPUT


class Recorder:
    """Collects ``name -> array`` in call order; ``rec(name, a)`` returns ``a``."""

    def __init__(self):
        self.layers = {}
        self.grouped = set()

    def __call__(self, name, a, grouped=False):
        self.layers[name] = a
        if grouped:
            self.grouped.add(name)
        return a


def trace_item(variant, hp, p, x, rec):  # [T] -> [S, T]
    """:func:`npsep.reference.forward` of one waveform ``x [T]``, every module output passed to
    ``rec`` (per item, without the batch axis). Arrays in ``p`` and ``x`` set the precision."""
    arch, model = architecture(variant), unflatten(variant, hp, p)
    q, asteroid = arch.prefix, bool(arch.prefix)
    T = x.shape[-1]
    xp = np.pad(x, (0, padded_length(variant, hp, T) - T))  # [T_pad]
    v = R.encoder_conv(xp, model.encoder.w, model.encoder.b)  # [E, L]
    if asteroid:
        rec("encoder", v)
        v = rec("enc_activation", R.relu(v) if arch.encoder_relu else v)
    elif arch.encoder_relu:
        rec("encoder.0", v)
        v = rec("encoder", rec("encoder.1", R.relu(v)))
    else:
        rec("encoder", v)
    y = rec(f"{q}{arch.bottleneck}", R.conv1x1(rec(f"{q}ln", R.norm(v, model.norm)), model.bottleneck))
    for i, block in enumerate(model.blocks):
        y = rec(f"{q}sm.{i}", BLOCKS[arch.block](rec, f"{q}sm.{i}", y, block))  # [C_out, L]
    rec(f"{q}sm", y)
    S, E = hp["num_sources"], hp["enc_num_basis"]
    act_name = f"{q}output_act" if asteroid else (f"{q}mask_nl_class" if arch.mask_head == "conv" else None)
    if arch.mask_head == "channel_axis":
        if model.reshape is not None:
            y = rec(f"{q}reshape_before_masks", R.conv1x1(y, model.reshape))  # [E, L]
        z = rec(f"{q}m", R.channel_axis_conv(y, model.mask.conv.w, model.mask.conv.b))  # [S, E, L]
    else:
        a = rec(f"{q}mask_net.0", R.prelu(y, model.mask.act))
        z = rec(f"{q}mask_net", rec(f"{q}mask_net.1", R.conv1x1(a, model.mask.conv))).reshape(S, E, -1)
    m = R.MASK_ACTS[arch.mask_activation(hp)](z)  # [S, E, L]
    if act_name:
        rec(act_name, m)
    if asteroid:
        rec("masker", m)
    s = R.decode(m * v, model.decoder, arch.decoder, hp["enc_kernel_size"])  # [S, T_dec]
    rec("decoder", s[:, :T] if asteroid else s)
    return rec(OUTPUT, s[:, :T])


def _pyramid(rec, p, u, levels):  # [C_in, L] -> [C_in, L]
    d = [u]
    for k, level in enumerate(levels):
        n = f"{p}.spp_dw.{k}"
        c = rec(f"{n}.conv", R.depthwise_conv(d[-1], level.conv.w, level.conv.b, stride=1 if k == 0 else 2))
        d.append(rec(n, rec(f"{n}.norm", R.norm(c, level.norm))))
    d = d[1:]
    if len(d) == 2:  # the upsampler is called once: a module output of its own
        rec(f"{p}.upsampler", np.repeat(d[1], 2, axis=-1))
    while len(d) > 1:
        coarse = d.pop()
        d[-1] = R.upsample_add(d[-1], coarse)
    return d[0]


def _conv_norm(rec, p, x, conv, norm):
    return rec(p, rec(f"{p}.norm", R.norm(rec(f"{p}.conv", R.conv1x1(x, conv)), norm)))


def _norm_act(rec, p, x, norm, act):
    return rec(p, rec(f"{p}.act", R.prelu(rec(f"{p}.norm", R.norm(x, norm)), act)))


def _block_front(rec, p, x, proj, pyramid, final_norm):
    """Expansion, pyramid and final norm: what every U-block starts with. ``[C_out, L] -> [C_in, L]``."""
    u = _norm_act(rec, f"{p}.proj_1x1", rec(f"{p}.proj_1x1.conv", R.conv1x1(x, proj.conv)), proj.norm, proj.act)
    s = _pyramid(rec, p, u, pyramid)
    return _norm_act(rec, f"{p}.final_norm", s, final_norm.norm, final_norm.act)


def u_block(rec, p, x, b):  # [C_out, L] -> [C_out, L]
    """Original U-block (:func:`npsep.reference.u_block`), recorded."""
    f = _block_front(rec, p, x, b.proj, b.pyramid, b.final_norm)
    e = _conv_norm(rec, f"{p}.conv_1x1_exp", f, b.exp.conv, b.exp.norm)
    return _norm_act(rec, f"{p}.module_act", e + x, b.out.norm, b.out.act)


def uconv_block(rec, p, x, b):  # [C_out, L] -> [C_out, L]
    """Improved U-ConvBlock (:func:`npsep.reference.uconv_block`), recorded."""
    f = _block_front(rec, p, x, b.proj, b.pyramid, b.final_norm)
    return rec(f"{p}.res_conv", R.conv1x1(f, b.res)) + x


def gc_block(rec, p, x, b):  # [C_out, L] -> [C_out, L]
    """Group-communication block (:func:`npsep.reference.gc_block`), recorded in PyTorch's layouts."""
    tac, c = b.tac, b.tac.norm.gamma.shape[0]
    t = f"{p}.TAC"
    xg = x.reshape(-1, c, x.shape[-1])  # [G, c, L]
    h = _linear_act(rec, f"{t}.TAC_input", xg, tac.input, lambda a: a.transpose(2, 0, 1))  # [G, 3c, L]
    m = _linear_act(rec, f"{t}.TAC_mean", h.mean(axis=0), tac.mean, lambda a: a.T[:, None])  # [3c, L]
    hm = np.concatenate([h, np.broadcast_to(m, h.shape)], axis=1)  # [G, 6c, L]
    o = _linear_act(rec, f"{t}.TAC_output", hm, tac.output, lambda a: a.transpose(2, 0, 1))  # [G, c, L]
    yg = rec(t, xg + rec(f"{t}.TAC_norm", np.stack([R.norm(o_g, tac.norm) for o_g in o]), grouped=True))
    per_group = [Recorder() for _ in yg]
    out = np.concatenate([r(f"{p}.UBlock", uconv_block(r, f"{p}.UBlock", g, b.ublock))
                          for r, g in zip(per_group, yg)])
    for name in per_group[0].layers:
        rec(name, np.stack([r.layers[name] for r in per_group]), grouped=True)
    return out


def _linear_act(rec, p, x, la, layout):
    """``nn.Sequential(nn.Linear, nn.PReLU)`` at ``p``; ``layout`` puts a ``[..., C, L]`` result in
    PyTorch's ``[L, ..., C]`` order for the record."""
    z = R.linear(x, la.linear.w, la.linear.b)
    rec(f"{p}.0", layout(z))
    a = R.prelu(z, la.act)
    rec(p, rec(f"{p}.1", layout(a)))
    return a


BLOCKS = {"u_block": u_block, "uconv_block": uconv_block, "gc_block": gc_block}


def trace(variant, hp, p, x, dtype=np.float64):  # [B, T] -> ordered name -> [B, ...]
    """The trace of a batch ``x [B, T]``: name -> array with the batch axis first (``B*G``
    merged for the group-communication block's grouped layers), in completion order.
    Computes in ``dtype`` (parameters and input cast to it)."""
    p = {k: np.asarray(v, dtype=dtype) for k, v in p.items()}
    recs = []
    for item in np.asarray(x, dtype=dtype):
        recs.append(Recorder())
        trace_item(variant, hp, p, item, recs[-1])
    first = recs[0]
    return {name: (np.concatenate if name in first.grouped else np.stack)([r.layers[name] for r in recs])
            for name in first.layers}


def stage_names(variant, hp):
    """The names of the fast path's stage maps: encoder (after its activation), bottleneck, blocks."""
    arch = architecture(variant)
    q = arch.prefix
    return ("enc_activation" if q else "encoder", f"{q}{arch.bottleneck}",
            [f"{q}sm.{i}" for i in range(hp["num_blocks"])] + [f"{q}sm"])


def trace_fast(model, x):  # [B, T] -> ordered name -> [B, ...]
    """The fast path's stage maps and output (:func:`stage_names`) of a loaded
    :class:`npsep.Model` on ``x [B, T]``, float32."""
    from .. import fast
    encoder, bottleneck, blocks = stage_names(model.variant, model.hparams)
    items = []
    for item in np.asarray(x, dtype=np.float32):
        seen = {"encoder": [], "bottleneck": [], "block": []}
        out = fast.forward_item(model._plan, np.ascontiguousarray(item), model._workspace,
                                observe=lambda stage, a: seen[stage].append(a.copy()))
        items.append({encoder: seen["encoder"][0], bottleneck: seen["bottleneck"][0],
                      **dict(zip(blocks, seen["block"] + seen["block"][-1:])), OUTPUT: out})
    return {name: np.stack([it[name] for it in items]) for name in items[0]}
