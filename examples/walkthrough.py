#!/usr/bin/env python
"""One SuDoRM-RF forward pass small enough to print: every number of docs/walkthrough.md.

A tiny Improved model (T = 24 samples, K = 5, E = 4, C_out = 2, C_in = 4, Q = 2, N = 1,
S = 2) with fixed weights (a seeded draw rounded to one decimal) separates a fixed
24-sample mixture. Each step calls the NumPy oracle, :mod:`npsep.reference`, one
equation at a time, in float64, and prints what it made. ``tests/test_walkthrough.py``
checks the result against :func:`npsep.reference.forward`, the fast path
(:class:`npsep.model.Model`) and, where it is installed, PyTorch; ``scripts/docs_tables.py``
copies each printed section into the page, so the page cannot drift from this script.

Run it from the repository root: ``python examples/walkthrough.py``.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from npsep import architectures, info, reference, weights  # noqa: E402

VARIANT = "improved"
HP = dict(enc_kernel_size=5, enc_num_basis=4, out_channels=2, in_channels=4, upsampling_depth=2,
          num_blocks=1, num_sources=2)
T = 24
SEED = 29


def tiny_weights():
    """The model's tensors by state-dict name: a seeded draw, rounded to one decimal (float64).
    Every PReLU has one shared slope, as in the published Improved models."""
    p = {k: np.round(v.astype(np.float64), 1) for k, v in weights.random_tensors(VARIANT, HP, seed=SEED).items()}
    return {k: v[:1] if k.endswith("act.weight") or k == "mask_net.0.weight" else v for k, v in p.items()}


def mixture():
    """24 samples: a sine of period 8 plus a square wave of period 6, rounded to two decimals."""
    t = np.arange(T)
    s1 = np.sin(2 * np.pi * t / 8)
    s2 = 0.5 * np.where(t % 6 < 3, 1.0, -1.0)
    return np.round(s1 + s2, 2)


def fmt(a):
    """An array at three decimals (values that print as zero print as ``0.000``, never ``-0.000``)."""
    a = np.asarray(a, dtype=np.float64)
    return np.array2string(np.where(np.abs(a) < 5e-4, 0.0, a), precision=3, floatmode="fixed", suppress_small=True,
                           max_line_width=96, sign=" ")


def stats(x):
    mu = x.mean()
    return mu, ((x - mu) ** 2).mean()


def run(p=None, x=None):
    """The forward pass step by step: ``(sections, sources)`` where ``sections`` is a list of
    ``(name, text)`` and ``sources`` the separated ``[S, T]`` signals."""
    p = tiny_weights() if p is None else p
    x = mixture() if x is None else x
    S, E, K, Q = HP["num_sources"], HP["enc_num_basis"], HP["enc_kernel_size"], HP["upsampling_depth"]
    H = K // 2
    out = []

    def show(name, *lines):
        out.append((name, "```text\n" + "\n".join(lines) + "\n```"))

    T_pad = architectures.padded_length(VARIANT, HP, len(x))
    xp = np.pad(x, (0, T_pad - len(x)))
    show("input", f"x  [{len(x)}]  (padded to a multiple of H * 2^Q = {info.pad_multiple(VARIANT, HP)}: "
         f"T_pad = {T_pad})", fmt(x))

    frames = np.lib.stride_tricks.sliding_window_view(np.pad(xp, K // 2), K)[::H]  # [L, K]
    L = frames.shape[0]
    show("frames", f"frame l = x_p[l*H - K//2 : l*H + K//2 + 1],  [L, K] = [{L}, {K}]  (hop H = {H})",
         fmt(frames))

    w_enc = p["encoder.weight"]
    v = reference.encoder_conv(xp, w_enc)  # [E, L]
    show("encoder", f"encoder weights w[e, 0, k]  [{E}, {K}]", fmt(w_enc[:, 0]), "",
         f"v = encoder_conv(x_p, w)  [{E}, {L}]", fmt(v))

    mu, var = stats(v)
    v_n = reference.glob_ln(v, p["ln.gamma"], p["ln.beta"])
    show("globln", f"GlobLN 'ln' over all {E} x {L} values of v:  mu = {mu:.4f}   sigma^2 = {var:.4f}",
         f"gamma = {fmt(p['ln.gamma'])}   beta = {fmt(p['ln.beta'])}", "",
         f"glob_ln(v)  [{E}, {L}]", fmt(v_n))

    y = reference.pointwise_conv(v_n, p["bottleneck.weight"], p["bottleneck.bias"])
    show("bottleneck", f"bottleneck W  [{HP['out_channels']}, {E}]", fmt(p["bottleneck.weight"][:, :, 0]),
         f"b = {fmt(p['bottleneck.bias'])}", "", f"y = W glob_ln(v) + b  [{HP['out_channels']}, {L}]", fmt(y))

    b = architectures.unflatten(VARIANT, HP, p).blocks[0]  # block 0 as a tree of named layers
    proj = reference.pointwise_conv(y, b.proj.conv.w, b.proj.conv.b)
    mu, var = stats(proj)
    u = reference.prelu(reference.glob_ln(proj, b.proj.norm.gamma, b.proj.norm.beta),
                        b.proj.act)
    show("block-proj", f"1x1 conv {HP['out_channels']} -> {HP['in_channels']}  [{HP['in_channels']}, {L}]",
         fmt(proj), f"GlobLN: mu = {mu:.4f}   sigma^2 = {var:.4f};  PReLU slope a = "
         f"{b.proj.act[0]:.1f}", "", f"u = PReLU(GlobLN(.))  [{HP['in_channels']}, {L}]", fmt(u))

    levels, lines, d = [], [], u
    for k in range(Q):
        conv = reference.depthwise_conv(d, b.pyramid[k].conv.w, b.pyramid[k].conv.b,
                                        stride=1 if k == 0 else 2)
        mu, var = stats(conv)
        d = reference.glob_ln(conv, b.pyramid[k].norm.gamma, b.pyramid[k].norm.beta)
        levels.append(d)
        lines += [f"level {k}: depthwise conv, 5 taps, stride {1 if k == 0 else 2}  {list(conv.shape)};  "
                  f"GlobLN mu = {mu:.4f}  sigma^2 = {var:.4f}", fmt(d), ""]
    show("pyramid", *lines[:-1])

    merged = levels[0]
    for k in range(Q - 1, 0, -1):
        merged = reference.upsample_add(levels[k - 1], levels[k])
    show("merge", f"level 1 upsampled x2 (each frame repeated)  [{HP['in_channels']}, {L}]",
         fmt(np.repeat(levels[1], 2, axis=1)[:, :L]), "", f"m = level 0 + upsampled level 1  "
         f"[{HP['in_channels']}, {L}]", fmt(merged))

    mu, var = stats(merged)
    f = reference.prelu(reference.glob_ln(merged, b.final_norm.norm.gamma, b.final_norm.norm.beta),
                        b.final_norm.act)
    y_out = reference.pointwise_conv(f, b.res.w, b.res.b) + y
    show("block-out", f"final GlobLN mu = {mu:.4f}  sigma^2 = {var:.4f}, PReLU, then res_conv "
         f"{HP['in_channels']} -> {HP['out_channels']} plus the block input y", "",
         f"block output  [{HP['out_channels']}, {L}]", fmt(y_out))

    logits = reference.pointwise_conv(reference.prelu(y_out, p["mask_net.0.weight"]),
                                      p["mask_net.1.weight"], p["mask_net.1.bias"])
    m = reference.relu(logits).reshape(S, E, L)
    show("masks", *[line for s in range(S) for line in (f"mask m_{s} = ReLU(logits)[{s}]  [{E}, {L}]",
                                                          fmt(m[s]), "")][:-1])

    masked = m * v
    show("masked", *[line for s in range(S) for line in (f"m_{s} * v  [{E}, {L}]", fmt(masked[s]), "")][:-1])

    w_dec = p["decoder.weight"]  # [S*E, S, K]
    contrib = np.einsum("il,iok->okl", masked.reshape(S * E, L), w_dec)  # [S, K, L]
    s_hat = reference.conv_transpose1d(masked.reshape(S * E, L), w_dec, None, H, K // 2, K // 2 - 1)
    lines = []
    for s in range(S):
        lines += [f"source {s}: decoder frames W^T (m * v), one column per frame  [K, L] = [{K}, {L}]",
                  fmt(contrib[s]), f"overlap-add (frame l at samples l*H - K//2 ... l*H + K//2), "
                  f"trimmed to T = {len(x)}", fmt(s_hat[s, :len(x)]), ""]
    show("decoder", *lines[:-1])
    return out, s_hat[:, :len(x)]


def exercises():
    """The numbers the exercises' answers quote."""
    q1 = dict(HP, upsampling_depth=1)
    rf = info.receptive_field(q1)
    k17 = dict(HP, enc_kernel_size=17, upsampling_depth=5)
    lines = [f"receptive field, this model with Q = 1 (H = {info.hop(q1)}, N = {q1['num_blocks']}): "
             f"{rf} samples = H (4N + 4) + 1"]
    for rule in ("improved", "original"):
        T_pad = info.padded_length(rule, k17, 8000)
        L = info.num_frames(k17, T_pad)
        lines.append(f"K = 17, Q = 5, T = 8000, {rule} rule (multiple of {info.pad_multiple(rule, k17)}): "
                     f"T_pad = {T_pad}, L = {L},\n    level lengths {info.level_lengths(k17, L)}")
    return "```text\n" + "\n".join(lines) + "\n```"


def model_table():
    """The hyper-parameters as a Markdown table."""
    cols = [("`T`", T), ("`K`", HP["enc_kernel_size"]), ("`H = K // 2`", info.hop(HP)), ("`E`", HP["enc_num_basis"]),
            ("`C_out`", HP["out_channels"]), ("`C_in`", HP["in_channels"]), ("`Q`", HP["upsampling_depth"]),
            ("`N`", HP["num_blocks"]), ("`S`", HP["num_sources"])]
    return "\n".join(["| " + " | ".join(c for c, _ in cols) + " |", "|" + "---:|" * len(cols),
                      "| " + " | ".join(str(v) for _, v in cols) + " |"])


def sections():
    """``(name, text)`` of every section of docs/walkthrough.md, in page order."""
    out, _ = run()
    return [("model", model_table())] + out + [("exercises", exercises())]


def main():
    for name, text in sections():
        print(f"## {name}\n{text}\n")


if __name__ == "__main__":
    main()
