#!/usr/bin/env python
"""Draw the figures of ``docs/`` from real runs, so they stay true as the code changes.

* ``docs/figures/architecture.png``: the improved SuDoRM-RF and one U-ConvBlock as boxes,
  labelled with the tensor shapes traced from a real run of :func:`npsep.reference.forward`
  (the same trace as the table of ``docs/architecture.md``);
* ``docs/figures/gc_block.png``: one group-communication block, with the shapes of a traced
  run of the published GC model;
* ``docs/figures/encoder_filters.png``: the bundled model's learned encoder, the magnitude
  response of every basis (skipped while there is no bundled model; ``--model`` chooses another);
* ``docs/figures/separation.png``: the bundled example (``examples/mixture.wav``) separated
  by the bundled model: mixture spectrogram, the two masks, the two estimates' spectrograms
  (skipped with a message while either is missing; ``--model`` / ``--example`` choose others);
* ``docs/figures/benchmark.png``: the chart of ``benchmarks/results/forward.json``, which is
  first copied (trimmed) to ``docs/figures/benchmark.json`` for the docs to quote (skipped
  while neither exists).

Needs matplotlib (``pip install -e ".[docs]"``). After drawing, run
``python scripts/docs_tables.py`` so that the pages link the figures that now exist.
"""
import argparse
import functools
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "docs" / "figures"
EXAMPLE = ROOT / "examples" / "mixture.wav"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import docs_tables  # noqa: E402

DPI = 100
SEPARATION_DPI = 100
PALETTE = 32
"""Colours kept in the figures of spectrograms and heat maps: full colour would not stay under 200 KB."""


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


# --- architecture --------------------------------------------------------------------------

def _find(rows, start):
    for step, _, shape in rows:
        if step.startswith(start):
            return shape
    raise KeyError(start)


def _box(ax, x, y, w, h, text, shape, color="#e8eef7", bold=False):
    """A rounded box with a label and, below it in monospace, a tensor shape."""
    from matplotlib.patches import FancyBboxPatch
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                fc=color, ec="#44546a", lw=1.0))
    ax.text(x + w / 2, y + h * 0.62, text, ha="center", va="center", fontsize=8.5,
            fontweight="bold" if bold else "normal")
    ax.text(x + w / 2, y + h * 0.24, shape, ha="center", va="center", fontsize=8,
            family="monospace", color="#1f3b63")


def _arrow(ax, x0, y0, x1, y1, text=None):
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops=dict(arrowstyle="-|>", color="#44546a", lw=1.0))
    if text:
        ax.text((x0 + x1) / 2 + 0.05, (y0 + y1) / 2, text, fontsize=7.5, va="center")


def _save(fig, path, dpi, colors=None):
    """Save ``fig`` as a PNG; with ``colors``, reduced to that many palette colours (spectrograms
    and heat maps compress badly in full colour)."""
    if colors is None:
        fig.savefig(path, dpi=dpi)
        return
    import io
    from PIL import Image
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=dpi, format="png")
    image = Image.open(buffer).convert("RGB")
    image.quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def architecture(path):
    """Boxes and arrows with the shapes of a traced run of the published Improved model on 4 s."""
    plt = _plt()
    c = docs_tables.IMPROVED
    hp = c["hparams"]
    T = docs_tables.WALKTHROUGH_SECONDS * c["sample_rate"]
    rows = docs_tables.walkthrough_rows(c["variant"], hp, T)
    E, K, S, N, Q = (hp["enc_num_basis"], hp["enc_kernel_size"], hp["num_sources"], hp["num_blocks"],
                     hp["upsampling_depth"])
    C_out, C_in, H = hp["out_channels"], hp["in_channels"], K // 2

    fig, ax = plt.subplots(figsize=(12, 7.6))
    ax.set_xlim(0, 12)
    ax.set_ylim(0, 7.6)
    ax.axis("off")

    box, arrow = functools.partial(_box, ax), functools.partial(_arrow, ax)

    # left: the whole model, top to bottom
    x, w, h, gap = 0.3, 3.6, 0.56, 0.22
    steps = [
        (f"mixture, {T // c['sample_rate']} s at {c['sample_rate']} Hz", _find(rows, "input mixture"), "#f4f4f4"),
        (f"zero-pad to a multiple of {H * 2 ** Q}", _find(rows, "zero-pad"), "#f4f4f4"),
        (f"encoder: Conv1d 1→{E}, kernel {K}, stride {H}", _find(rows, "encoder"), "#e8eef7"),
        (f"GlobLN, 1×1 conv {E}→{C_out}", _find(rows, "1×1 conv `bottleneck`"), "#e8eef7"),
        (f"{N} × U-ConvBlock", _find(rows, "blocks 1"), "#fde9d9"),
        (f"PReLU, 1×1 conv {C_out}→{S * E}, ReLU", _find(rows, "view as"), "#e8eef7"),
        ("masks × encoder output", _find(rows, "view as"), "#eaf5e4"),
        (f"decoder: ConvTranspose1d {S * E}→{S}, stride {H}", _find(rows, "decoder"), "#e8eef7"),
        ("trim: the separated sources", _find(rows, "trim"), "#f4f4f4"),
    ]
    ys = []
    y = 7.6 - 0.25 - h
    for i, (text, shape, color) in enumerate(steps):
        box(x, y, w, h, text, shape, color, bold=(i == 4))
        ys.append(y)
        if i:
            arrow(x + w / 2, ys[i - 1], x + w / 2, y + h)
        y -= h + gap
    # the encoder output skips to the masking
    xs = x + w + 0.3
    y_enc, y_mask = ys[2] + h / 2, ys[6] + h / 2
    ax.plot([x + w, xs, xs], [y_enc, y_enc, y_mask], color="#3a7d2c", lw=1.2)
    ax.annotate("", xy=(x + w, y_mask), xytext=(xs, y_mask),
                arrowprops=dict(arrowstyle="-|>", color="#3a7d2c", lw=1.2))
    ax.text(xs + 0.08, (y_enc + y_mask) / 2, "encoder output v", color="#3a7d2c", fontsize=8,
            rotation=90, va="center")

    # right: one U-ConvBlock
    bx = 5.0
    ax.text(bx, 7.35, "one U-ConvBlock (block 0 of the trace)", fontsize=10, fontweight="bold")
    pre = "block 0 › "
    bw, bh = 3.0, 0.5
    box(bx, 6.55, bw, bh, "block input", _find(rows, "1×1 conv `bottleneck`"), "#fde9d9")
    box(bx, 5.8, bw, bh, f"1×1 conv {C_out}→{C_in}, GlobLN, PReLU", _find(rows, pre + "PReLU"))
    arrow(bx + bw / 2, 6.55, bx + bw / 2, 5.8 + bh)
    # the pyramid: down on the left, up on the right
    lw_, lh, ly0, dy = 2.0, 0.44, 5.05, 0.62
    down_x, up_x = bx + 0.05, bx + 3.75
    prev = (bx + bw / 2, 5.8)
    for k in range(Q):
        yk = ly0 - k * dy
        shape = _find(rows, f"{pre}level {k}:")
        box(down_x + k * 0.12, yk, lw_, lh, f"dw conv k5 s{1 if k == 0 else 2}, GlobLN", shape, "#eef3fb")
        arrow(prev[0], prev[1], down_x + k * 0.12 + lw_ / 2, yk + lh)
        prev = (down_x + k * 0.12 + lw_ / 2, yk)
        if k < Q - 1:
            # upsample-add of level k+1 into level k (right column)
            merged = _find(rows, f"{pre}upsample level {k + 1} ")
            box(up_x - k * 0.12, yk, lw_, lh, f"level {k} + up×2 (level {k + 1})", merged, "#eef3fb")
            ax.annotate("", xy=(up_x - k * 0.12, yk + lh / 2), xytext=(down_x + k * 0.12 + lw_, yk + lh / 2),
                        arrowprops=dict(arrowstyle="-|>", color="#8aa0bf", lw=0.8, ls="--"))
    # coarsest level feeds the chain from below
    yq = ly0 - (Q - 1) * dy
    ax.annotate("", xy=(up_x - (Q - 2) * 0.12 + lw_ / 2, yq + dy),
                xytext=(down_x + (Q - 1) * 0.12 + lw_, yq + lh / 2),
                arrowprops=dict(arrowstyle="-|>", color="#44546a", lw=1.0, connectionstyle="angle,angleA=0,angleB=90"))
    for k in range(Q - 2, 0, -1):
        arrow(up_x - k * 0.12 + lw_ / 2, ly0 - k * dy + lh, up_x - (k - 1) * 0.12 + lw_ / 2, ly0 - (k - 1) * dy)
    top_up = (up_x + lw_ / 2, ly0 + lh)
    fy = 5.8
    box(up_x, fy, bw, bh, f"GlobLN, PReLU, 1×1 conv {C_in}→{C_out}", _find(rows, pre + "1×1 conv `res_conv`"))
    arrow(top_up[0], top_up[1], top_up[0], fy)
    box(up_x, 6.55, bw, bh, "+ block input (residual)", _find(rows, "block 0 output"), "#fde9d9")
    arrow(up_x + lw_ / 2, fy + bh, up_x + lw_ / 2, 6.55)
    ax.annotate("", xy=(up_x, 6.55 + bh / 2), xytext=(bx + bw, 6.55 + bh / 2),
                arrowprops=dict(arrowstyle="-|>", color="#c0504d", lw=1.0))
    ax.text(bx + bw + 0.1, 6.55 + bh / 2 + 0.08, "residual", fontsize=7.5, color="#c0504d")

    ax.text(5.0, 1.75, "Shapes are [channels, frames] for one mixture, traced from npsep.reference.forward\n"
            f"(published Improved U{N}/B{E}: C_out {C_out}, C_in {C_in}, N {N}, Q {Q}, K {K}, E {E}, S {S}).\n"
            f"Level k of the pyramid runs on L/2^k frames; the merge adds them coarsest first.",
            fontsize=8.5, va="top", color="#333333")
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


# --- the bundled example ---------------------------------------------------------------

def separation(path, model_path=None, example=EXAMPLE):
    """Mixture spectrogram, masks (encoder bases sorted by peak frequency), estimates' spectrograms."""
    import npsep
    from npsep import reference
    from npsep.weights import default_model_path
    model_path = model_path or default_model_path()
    if model_path is None or not Path(model_path).is_file():
        print("separation.png: skipped, no bundled model (npsep/data/default_model.npz); pass --model")
        return None
    if not Path(example).is_file():
        print(f"separation.png: skipped, {example} does not exist; pass --example")
        return None
    import soundfile as sf
    from scipy.signal import resample_poly, stft

    model = npsep.load(model_path)
    if model.variant not in ("improved", "groupcomm"):
        print(f"separation.png: skipped, masks are drawn for improved / group-comm models, not {model.variant}")
        return None
    x, rate = sf.read(str(example), dtype="float32", always_2d=True)
    x = x[:, 0]
    if rate != model.sample_rate:
        g = np.gcd(rate, model.sample_rate)
        x = resample_poly(x, model.sample_rate // g, rate // g).astype(np.float32)
    sr = model.sample_rate
    est = model.separate(x)[0]  # [S, T], the fast path
    # the masks: one real run of the oracle on the normalised mixture, its ReLU traced
    xn = ((x - x.mean()) / (x.std(ddof=1) + 1e-9)).astype(np.float32)
    events = []
    with docs_tables.tracing(events, keep=("relu",)):
        reference.forward(model.variant, model.hparams, model.tensors, xn)
    S, E = model.num_sources, model.hparams["enc_num_basis"]
    masks = [e[5] for e in events if e[1] == "relu"][-1].reshape(S, E, -1)  # the mask nonlinearity
    w = model.tensors["encoder.weight"][:, 0, :]
    order = np.argsort(np.abs(np.fft.rfft(w, 256, axis=1)).argmax(axis=1), kind="stable")

    plt = _plt()
    fig = plt.figure(figsize=(13, 9))
    grid = fig.add_gridspec(3, S)
    duration = len(x) / sr
    f, _, Z = stft(x, fs=sr, nperseg=256, noverlap=192)
    top = 20 * np.log10(np.abs(Z).max() + 1e-12)

    def spec(ax, signal, title):
        _, _, Z = stft(signal, fs=sr, nperseg=256, noverlap=192)
        ax.imshow(20 * np.log10(np.abs(Z) + 1e-12), aspect="auto", origin="lower", cmap="magma",
                  extent=(0, duration, 0, f[-1] / 1000), vmin=top - 70, vmax=top, interpolation="nearest")
        ax.set_title(title, fontsize=12)
        ax.set_ylabel("kHz", fontsize=11)
        ax.tick_params(labelsize=10)

    spec(fig.add_subplot(grid[0, :]), x, f"mixture ({Path(example).name})")
    step = max(1, masks.shape[-1] // 400)  # at most ~400 columns: the figure stays small
    cols = masks[..., : masks.shape[-1] // step * step].reshape(S, E, -1, step).mean(axis=-1)
    for s in range(S):
        ax = fig.add_subplot(grid[1, s])
        ax.imshow(cols[s][order], aspect="auto", origin="lower", cmap="viridis", interpolation="nearest",
                  extent=(0, duration, 0, E), vmin=0, vmax=max(float(np.percentile(masks, 99)), 1e-6))
        ax.set_title(f"mask {s + 1} (encoder bases by peak frequency)", fontsize=12)
        ax.set_ylabel("basis", fontsize=11)
        ax.tick_params(labelsize=10)
        ax = fig.add_subplot(grid[2, s])
        spec(ax, est[s], f"estimate {s + 1}")
        ax.set_xlabel("seconds", fontsize=11)
    fig.tight_layout()
    _save(fig, path, SEPARATION_DPI, colors=PALETTE)  # 1300 px wide
    plt.close(fig)
    return path


def encoder_filters(path, model_path=None):
    """The learned encoder of a model: the magnitude response of every basis, sorted by the
    frequency of its peak, and a few bases' waveforms and responses."""
    from npsep import weights
    from npsep.weights import default_model_path
    model_path = model_path or default_model_path()
    if model_path is None or not Path(model_path).is_file():
        print("encoder_filters.png: skipped, no bundled model (npsep/data/default_model.npz); pass --model")
        return None
    config, tensors = weights.load(model_path)
    name = {"original": "encoder.0.weight"}.get(config["variant"], "encoder.filterbank._filters"
                                               if config["variant"].startswith("asteroid") else "encoder.weight")
    w = tensors[name][:, 0, :].astype(np.float64)  # [E, K]
    E, K = w.shape
    sr = config["sample_rate"]
    n_fft = 512
    response = 20 * np.log10(np.abs(np.fft.rfft(w, n_fft, axis=1)) + 1e-9)  # [E, n_fft/2 + 1] dB
    peak = response.argmax(axis=1)
    order = np.argsort(peak, kind="stable")
    freqs = np.fft.rfftfreq(n_fft, 1 / sr) / 1000

    plt = _plt()
    fig, (ax0, ax1, ax2) = plt.subplots(1, 3, figsize=(13, 4.4), gridspec_kw=dict(width_ratios=[1.3, 1, 1]))
    top = response.max()
    image = ax0.imshow(response[order], aspect="auto", origin="lower", cmap="magma", vmin=top - 50, vmax=top,
                       extent=(0, freqs[-1], 0, E), interpolation="nearest")
    ax0.set_title(f"|response| of all {E} encoder bases, sorted by peak", fontsize=11)
    ax0.set_xlabel("frequency (kHz)", fontsize=10)
    ax0.set_ylabel("basis (by peak frequency)", fontsize=10)
    fig.colorbar(image, ax=ax0, label="dB")
    picks = order[np.linspace(0, E - 1, 5).astype(int)]
    for e in picks:
        ax1.plot(np.arange(K) / sr * 1000, w[e], lw=1.2, label=f"basis {e}: peak {freqs[peak[e]]:.2f} kHz")
        ax2.plot(freqs, response[e], lw=1.2)
    ax1.set_title(f"five bases ({K} taps)", fontsize=11)
    ax1.set_xlabel("ms", fontsize=10)
    ax1.legend(fontsize=7.5)
    ax2.set_title("their magnitude responses", fontsize=11)
    ax2.set_xlabel("frequency (kHz)", fontsize=10)
    ax2.set_ylabel("dB", fontsize=10)
    ax2.set_ylim(top - 60, top + 3)
    fig.suptitle(f"Encoder of {Path(model_path).name} ({config['variant']}, {sr} Hz)", fontsize=12)
    fig.tight_layout()
    _save(fig, path, DPI, colors=128)
    plt.close(fig)
    return path


# --- the group-communication block ----------------------------------------------------------

def gc_block(path):
    """Boxes and arrows: one group-communication block (TAC, then one U-ConvBlock shared by the
    groups), with the shapes of a traced run of the published GC model on 4 s."""
    plt = _plt()
    c = docs_tables.GROUPCOMM
    hp = c["hparams"]
    T = docs_tables.WALKTHROUGH_SECONDS * c["sample_rate"]
    rows = docs_tables.walkthrough_rows(c["variant"], hp, T)
    C_out, C_in, G = hp["out_channels"], hp["in_channels"], hp["group_size"]
    g_c, L = C_out // G, T // (hp["enc_kernel_size"] // 2)
    hidden = 3 * g_c

    fig, ax = plt.subplots(figsize=(12, 6.4))
    ax.set_xlim(0, 12)
    ax.set_ylim(0, 6.4)
    ax.axis("off")
    box, arrow = functools.partial(_box, ax), functools.partial(_arrow, ax)
    x, w, h = 0.3, 3.4, 0.56
    box(x, 5.5, w, h, "block input", _find(rows, "1×1 conv `bottleneck`"), "#fde9d9")
    box(x, 4.5, w, h, f"view as {G} groups of {g_c} channels", f"[{G}, {g_c}, {L}]", "#f4f4f4")
    arrow(x + w / 2, 5.5, x + w / 2, 4.5 + h)
    box(x, 3.2, w, h, "TAC across the groups", _find(rows, "block 0 › TAC"), "#fde9d9", bold=True)
    arrow(x + w / 2, 4.5, x + w / 2, 3.2 + h)
    box(x, 1.9, w, h, f"U-ConvBlock {g_c}→{C_in // G}→{g_c}, each group", _find(rows, "block 0 › groups"),
        "#fde9d9", bold=True)
    arrow(x + w / 2, 3.2, x + w / 2, 1.9 + h)
    ax.text(x + w / 2, 1.75, "the same weights for every group", ha="center", va="top", fontsize=8, color="#555555")
    box(x, 0.5, w, h, "the groups side by side", _find(rows, "block 0 output"), "#fde9d9")
    arrow(x + w / 2, 1.9, x + w / 2, 0.5 + h)

    tx, tw = 5.0, 3.0
    ax.text(tx, 6.05, "TAC (transform, average, concatenate)", fontsize=10, fontweight="bold")
    box(tx, 4.9, tw, h, f"transform: Linear {g_c}→{hidden}, PReLU", f"h_g [{G}, {hidden}, {L}]")
    box(tx + 3.5, 4.9, tw, h, "average over the groups", f"[{hidden}, {L}]")
    arrow(tx + tw, 4.9 + h / 2, tx + 3.5, 4.9 + h / 2)
    box(tx + 3.5, 3.8, tw, h, f"Linear {hidden}→{hidden}, PReLU", f"m [{hidden}, {L}]")
    arrow(tx + 3.5 + tw / 2, 4.9, tx + 3.5 + tw / 2, 3.8 + h)
    box(tx, 2.7, tw + 3.5, h, f"concatenate [h_g; m], Linear {2 * hidden}→{g_c}, PReLU", f"o_g [{G}, {g_c}, {L}]")
    arrow(tx + tw / 2, 4.9, tx + tw / 2, 2.7 + h)
    arrow(tx + 3.5 + tw / 2, 3.8, tx + 3.5 + tw / 2, 2.7 + h)
    box(tx, 1.6, tw + 3.5, h, "GlobLN of each group alone, + the group's input (residual)", f"[{G}, {g_c}, {L}]")
    arrow(tx + (tw + 3.5) / 2, 2.7, tx + (tw + 3.5) / 2, 1.6 + h)
    ax.annotate("", xy=(tx, 3.2 + h / 2), xytext=(x + w, 3.2 + h / 2),
                arrowprops=dict(arrowstyle="-", color="#8aa0bf", lw=0.8, ls="--"))
    ax.text(tx, 0.9, f"Published GC U{hp['num_blocks']}/B{hp['enc_num_basis']}: C_out {C_out}, C_in {C_in}, "
            f"G {G}, c = C_out/G = {g_c}, hidden 3c = {hidden};\nshapes [groups, channels, frames] for 4 s "
            f"({L} frames), traced from npsep.reference.forward.", fontsize=8.5, va="top", color="#333333")
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


# --- benchmark ---------------------------------------------------------------------------

RESULTS = ROOT / "benchmarks" / "results" / "forward.json"
KEPT = ("contenders", "results", "memory", "machine", "blas", "merged_from")
"""What the docs keep of a benchmark report."""


def benchmark(path, source=RESULTS, copy=docs_tables.BENCH_JSON):
    """Seconds per second of audio for every contender, with the GEMM floor, per thread count.

    ``source`` (``benchmarks/results/forward.json``, git-ignored) is first copied to
    ``docs/figures/benchmark.json`` (committed, what the docs quote); without it the chart is
    redrawn from that copy.
    """
    copy = Path(copy)
    if Path(source).is_file():
        report = json.loads(Path(source).read_text())
        copy.write_text(json.dumps({k: report[k] for k in KEPT if k in report}, indent=1) + "\n")
        print(f"copied {source} to {copy}")
    if not copy.is_file():
        print(f"benchmark.png: skipped, neither {source} nor {copy} exists (run benchmarks/bench_forward.py)")
        return None
    report = json.loads(copy.read_text())
    results, contenders = report["results"], report["contenders"]
    labels = {"npsep": "npsep", "torch": "PyTorch", "ort": "ONNX Runtime"}
    colors = {"npsep": "#2b8a3e", "torch": "#d9480f", "ort": "#5f3dc4"}
    plt = _plt()
    threads = sorted({r["threads"] for r in results})
    fig, axes = plt.subplots(1, len(threads), figsize=(5 * len(threads), 3.8), squeeze=False, sharey=True)
    width = 0.8 / len(contenders)
    for ax, n in zip(axes[0], threads):
        rows = [r for r in results if r["threads"] == n]
        pos = np.arange(len(rows))
        audio = np.array([r["seconds"] * r["batch"] for r in rows])
        for i, c in enumerate(contenders):
            ax.bar(pos + (i - (len(contenders) - 1) / 2) * width,
                   np.array([r["median_s"][c] for r in rows]) / audio, width,
                   label=labels.get(c, c), color=colors.get(c))
        ax.scatter(pos, np.array([r["gemm_floor_s"] for r in rows]) / audio, marker="_", s=700,
                   color="black", zorder=3, label="GEMM floor")
        ax.set_xticks(pos, [f"{r['seconds']:g} s × {r['batch']}" for r in rows], fontsize=8)
        ax.set_title(f"{n} thread{'s' if n > 1 else ''}", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("seconds per second of audio (median)", fontsize=8)
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="upper center", ncol=len(names), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


FIGURES_MADE = {"architecture": architecture, "gc_block": gc_block, "separation": separation,
                "encoder_filters": encoder_filters, "benchmark": benchmark}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=sorted(FIGURES_MADE), action="append",
                        help="draw only this figure (repeatable)")
    parser.add_argument("--model", help="weights file for separation.png and encoder_filters.png "
                        "(default: the bundled model)")
    parser.add_argument("--example", default=str(EXAMPLE), help="mixture for separation.png")
    parser.add_argument("--benchmark", default=str(RESULTS), help="bench_forward.py's JSON for benchmark.png")
    args = parser.parse_args(argv)
    FIGURES.mkdir(parents=True, exist_ok=True)
    for name in args.only or list(FIGURES_MADE):
        path = FIGURES / f"{name}.png"
        if name == "separation":
            made = separation(path, args.model, args.example)
        elif name == "encoder_filters":
            made = encoder_filters(path, args.model)
        elif name == "benchmark":
            made = benchmark(path, args.benchmark)
        else:
            made = FIGURES_MADE[name](path)
        if made:
            print(f"wrote {made.relative_to(ROOT)} ({made.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
