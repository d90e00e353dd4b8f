#!/usr/bin/env python
"""The numbers in ``docs/``, computed: every table between generated-markers is written here.

A page holds a generated section as::

    <!-- generated:NAME -->
    ... (written by this script, never by hand) ...
    <!-- /generated:NAME -->

``python scripts/docs_tables.py`` rewrites every such section from the code (the tensor
shapes are traced from a real run of :func:`npsep.reference.forward`, the costs come from
:mod:`npsep.info`, the benchmark table from ``docs/figures/benchmark.json``, the copy of the benchmark's
results that ``scripts/make_figures.py`` makes);
``--check`` only reports the sections that are out of date (exit status 1), which is what
``tests/test_docs.py`` runs, so the docs cannot drift from the code.
"""
import argparse
import contextlib
import functools
import importlib
import importlib.util
import inspect
import json
import re
import sys
import textwrap
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
BENCH_JSON = DOCS / "figures" / "benchmark.json"
"""The benchmark results the docs quote: a copy of ``benchmarks/results/forward.json`` (which is
git-ignored) made by ``scripts/make_figures.py``, so that every checkout renders the same page."""
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from npsep import architectures, info, models, reference, weights  # noqa: E402

IMPROVED = info.PUBLISHED["improved-u16-b512"]
GROUPCOMM = info.PUBLISHED["groupcomm-u8-b512"]
WALKTHROUGH_SECONDS = 4
SECTION = re.compile(r"(<!-- generated:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /generated:(?P=name) -->)",
                     re.S)


# --- tracing a real run of the oracle ---------------------------------------------------------

TRACED = ("encoder_conv", "norm", "conv1x1", "prelu", "relu", "depthwise_conv", "upsample_add",
          "uconv_block", "gc_block", "transform_average_concatenate", "conv_transpose1d", "resample_pyramid")


@contextlib.contextmanager
def tracing(events, keep=()):
    """Record ``[depth, function, args, kwargs, output shape, output]`` of every call to the
    :data:`TRACED` functions of :mod:`npsep.reference` made while the context is open
    (``output`` only for the functions named in ``keep``, else ``None``)."""
    saved = {name: getattr(reference, name) for name in TRACED}
    depth = [0]

    def wrap(name, fn):
        @functools.wraps(fn)
        def traced(*args, **kwargs):
            event = [depth[0], name, args, kwargs, None, None]
            events.append(event)
            depth[0] += 1
            try:
                out = fn(*args, **kwargs)
            finally:
                depth[0] -= 1
            event[4] = tuple(out.shape)
            if name in keep:
                event[5] = out
            return out
        return traced

    tables = {table: getattr(reference, table) for table in ("BLOCKS", "MASK_ACTS")}  # dispatch by kind
    for name, fn in saved.items():
        setattr(reference, name, wrap(name, fn))
    for table, functions in tables.items():
        setattr(reference, table, {k: getattr(reference, f.__name__, f) for k, f in functions.items()})
    try:
        yield events
    finally:
        for name, fn in saved.items():
            setattr(reference, name, fn)
        for table, functions in tables.items():
            setattr(reference, table, functions)


def shape(t):
    return "[" + ", ".join(str(n) for n in t) + "]"


def ref(name):
    return f"`npsep.reference.{name}`"


def walkthrough_rows(variant, hp, num_samples, traced_blocks=2):
    """Rows ``(step, computed by, output shape)`` of one forward pass of ``num_samples`` samples,
    traced from :func:`npsep.reference.forward` on random weights.

    Only ``traced_blocks`` blocks are run (every block maps ``[C_out, L]`` to ``[C_out, L]``;
    the trace checks that block 1 repeats block 0 exactly) to keep this fast; block 0 is shown
    step by step and the others as one row.
    """
    if variant not in ("improved", "groupcomm"):
        raise ValueError("the walkthrough traces the improved and group-comm forward passes")
    run_hp = dict(hp, num_blocks=min(hp["num_blocks"], traced_blocks))
    p = weights.random_tensors(variant, run_hp, seed=0)
    layer = {id(v): k.rsplit(".", 1)[0] for k, v in p.items()}  # a weight's array -> its layer's name
    x = np.random.default_rng(0).standard_normal(num_samples).astype(np.float32)
    events = []
    with tracing(events):
        y = reference.forward(variant, run_hp, p, x)
    S, E, K, N = hp["num_sources"], hp["enc_num_basis"], hp["enc_kernel_size"], hp["num_blocks"]
    T_pad = architectures.padded_length(variant, hp, num_samples)
    rows = [(f"input mixture, {num_samples} samples", "", shape(x.shape)),
            (f"zero-pad at the end to a multiple of {info.pad_multiple(variant, hp)} samples",
             "`npsep.architectures.padded_length`", shape((T_pad,)))]
    block_name = {"uconv_block": "U-ConvBlock", "gc_block": "GC block"}
    top = [e for e in events if e[0] == 0]
    blocks = [i for i, e in enumerate(events) if e[1] in block_name and e[0] == 0]
    if len(blocks) >= 2:
        first = [(e[0], e[1], e[4]) for e in events[blocks[0]:blocks[1]]]
        second = [(e[0], e[1], e[4]) for e in events[blocks[1]:blocks[1] + len(first)]]
        assert first == second, "block 1 does not repeat block 0's shapes"
    done_block = False
    for e in top:
        depth, name, args, kwargs, out = e[:5]
        if name == "encoder_conv":
            rows.append((f"encoder: Conv1d 1 → {E}, kernel {K}, stride {K // 2}, no bias",
                         ref("encoder_conv"), shape(out)))
        elif name == "norm":
            rows.append((f"GlobLN `{layer[id(args[1].gamma)]}`", ref("norm") + ", " + ref("glob_ln"), shape(out)))
        elif name == "conv1x1":
            w = args[1].w
            rows.append((f"1×1 conv `{layer[id(w)]}`, {w.shape[1]} → {w.shape[0]}",
                         ref("conv1x1") + ", " + ref("pointwise_conv"), shape(out)))
        elif name == "prelu":
            rows.append(("PReLU `mask_net.0`", ref("prelu"), shape(out)))
        elif name == "relu":
            rows.append((f"view as {S} masks of {E} bases", "", shape(out)))
            rows.append(("ReLU: the mask nonlinearity", ref("relu"), shape(out)))
            rows.append(("masks × encoder output, flattened source-major", "", shape((S * E, out[2]))))
        elif name == "conv_transpose1d":
            rows.append((f"decoder: ConvTranspose1d {S * E} → {S}, kernel {K}, stride {K // 2}",
                         ref("conv_transpose1d"), shape(out)))
        elif name in block_name and not done_block:
            done_block = True
            i = events.index(e)
            rows.extend(_block_rows(events[i + 1: blocks[1] if len(blocks) > 1 else None], name, hp, layer))
            what = ("the groups side by side" if name == "gc_block" else "+ residual")
            rows.append((f"block 0 output ({what})", ref(name), shape(out)))
            if N > 1:
                rows.append((f"blocks 1 … {N - 1}: the same shapes", ref(name), shape(out)))
    rows.append(("trim to the input length", "", shape(y.shape)))
    return rows


def _block_rows(events, kind, hp, layer):
    """Rows for the inside of block 0: ``events`` are the calls made inside it, ``layer`` maps a
    weight's ``id`` to its layer's state-dict name."""
    if kind == "gc_block":
        G = hp["group_size"]
        tac = next(e for e in events if e[1] == "transform_average_concatenate")
        rows = [(f"block 0 › TAC across the {G} groups of {tac[4][1]} channels", ref(tac[1]), shape(tac[4]))]
        starts = [i for i, e in enumerate(events) if e[1] == "uconv_block" and e[0] == 1]
        inner = events[starts[0] + 1: starts[1] if len(starts) > 1 else None]
        rows += _uconv_rows(inner, hp, layer, f"block 0 › group 0 of {G} › ")
        rows.append((f"block 0 › groups 1 … {G - 1}: the same U-ConvBlock weights, the same shapes",
                     ref("uconv_block"), shape(events[starts[0]][4])))
        return rows
    return _uconv_rows(events, hp, layer, "block 0 › ")


def _uconv_rows(events, hp, layer, pre):
    rows = []
    level = merges = 0
    Q = hp["upsampling_depth"]
    for depth, name, args, kwargs, out, _ in events:
        if name == "conv1x1":
            w = args[1].w
            rows.append((pre + f"1×1 conv `{_local(layer[id(w)])}`, {w.shape[1]} → {w.shape[0]}",
                         ref("pointwise_conv"), shape(out)))
        elif name == "norm":
            rows.append((pre + f"GlobLN `{_local(layer[id(args[1].gamma)])}`", ref("glob_ln"), shape(out)))
        elif name == "prelu":
            rows.append((pre + "PReLU", ref("prelu"), shape(out)))
        elif name == "depthwise_conv":
            stride = args[3] if len(args) > 3 else kwargs.get("stride", 1)
            rows.append((pre + f"level {level}: depthwise conv, kernel 5, stride {stride}",
                         ref("depthwise_conv"), shape(out)))
            level += 1
        elif name == "upsample_add":
            k = Q - 1 - merges
            rows.append((pre + f"upsample level {k} ×2, add to level {k - 1}", ref("upsample_add"), shape(out)))
            merges += 1
    return rows


def _local(name):
    """A layer's name inside its block: ``sm.0.UBlock.proj_1x1.conv`` -> ``proj_1x1.conv``."""
    return re.sub(r"^(masker\.)?sm\.\d+\.(UBlock\.)?", "", name)


def walkthrough_table(preset="improved-u16-b512"):
    c = info.PUBLISHED[preset]
    rows = walkthrough_rows(c["variant"], c["hparams"], WALKTHROUGH_SECONDS * c["sample_rate"])
    out = ["| # | step | computed by | shape |", "|---:|---|---|---|"]
    out += [f"| {i} | {a} | {b} | `{c}` |" for i, (a, b, c) in enumerate(rows, 1)]
    return "\n".join(out)


def gc_block_table():
    """Only the rows of a GC block (the rest is as in the improved walkthrough)."""
    c = GROUPCOMM
    rows = walkthrough_rows(c["variant"], c["hparams"], WALKTHROUGH_SECONDS * c["sample_rate"])
    rows = [r for r in rows if r[0].startswith(("block", "1×1 conv `bottleneck`"))]
    out = ["| step | computed by | shape |", "|---|---|---|"]
    out += [f"| {a} | {b} | `{c}` |" for a, b, c in rows]
    return "\n".join(out)


def padding_table():
    hp = IMPROVED["hparams"]
    out = ["| input samples T | improved: padded to | improved: frames L | original rule: padded to "
           "| original rule: frames L |", "|---:|---:|---:|---:|---:|"]
    for T in (1, 320, 8000, 32000, 32001, 44100):
        a = info.padded_length("improved", hp, T)
        b = info.padded_length("original", hp, T)
        out.append(f"| {T} | {a} | {info.num_frames(hp, a)} | {b} | {info.num_frames(hp, b)} |")
    return "\n".join(out)


# --- costs -------------------------------------------------------------------------------

def _mm(x):
    return f"{x / 1e6:,.1f}"


def layer_markdown(preset):
    c = info.PUBLISHED[preset]
    rows = info.layer_table(c["variant"], c["hparams"], c["sample_rate"])
    out = ["| layer | operation | output | n | parameters | M MAC / s |", "|---|---|---|---:|---:|---:|"]
    for r in rows:
        macs = _mm(r["macs_per_second"]) if r["macs_per_second"] else "–"
        out.append(f"| `{r['layer']}` | {r['operation']} | {r['output'] or 'in place'} | {r['count']} "
                   f"| {r['parameters']:,} | {macs} |")
    total_p = sum(r["parameters"] for r in rows)
    total_m = sum(r["macs_per_second"] for r in rows)
    out.append(f"| **total** | | | | **{total_p:,}** | **{_mm(total_m)}** |")
    return "\n".join(out)


def macs_4s():
    c = IMPROVED
    hp, T = c["hparams"], WALKTHROUGH_SECONDS * c["sample_rate"]
    L = info.num_frames(hp, info.padded_length(c["variant"], hp, T))
    m = info.macs(c["variant"], hp, T)
    return (f"`{T}` samples, `L = {L}` frames: **{m / 1e9:.2f} G multiply-adds**, about "
            f"**{2 * m / 1e9:.1f} GFLOP**.")


def groupcomm_shares():
    c = GROUPCOMM
    rows = info.layer_table(c["variant"], c["hparams"], c["sample_rate"])
    outer = [r for r in rows if not r["layer"].startswith("sm.")]
    p_all, m_all = sum(r["parameters"] for r in rows), sum(r["macs_per_second"] for r in rows)
    p_out, m_out = sum(r["parameters"] for r in outer), sum(r["macs_per_second"] for r in outer)
    names = ", ".join(f"`{r['layer']}`" for r in outer if r["parameters"] > 100)
    return (f"outside the blocks ({names}): {p_out:,} of {p_all:,} parameters "
            f"({p_out / p_all:.0%}) and {m_out / 1e6:,.1f} of {m_all / 1e6:,.1f} M multiply-adds per "
            f"second ({m_out / m_all:.0%}).")


def dsconv_table():
    """One pyramid level and the whole pyramid of a block, depthwise vs dense, for the
    published Improved configuration."""
    hp, sr = IMPROVED["hparams"], IMPROVED["sample_rate"]
    C, k, Q, N, C_out = hp["in_channels"], 5, hp["upsampling_depth"], hp["num_blocks"], hp["out_channels"]
    L = sr / info.hop(hp)
    share = sum(1 / 2 ** q for q in range(Q))
    rows = [("depthwise conv, kernel 5 (one level, one block)", C * k + C, C * k * L),
            ("dense conv C_in → C_in, kernel 5 (one level, one block)", C * C * k + C, C * C * k * L),
            ("depthwise-separable: depthwise k5 + 1×1 C_in → C_out", C * k + C + C * C_out + C_out,
             (C * k + C * C_out) * L),
            ("dense conv C_in → C_out, kernel 5", C * C_out * k + C_out, C * C_out * k * L),
            (f"the {Q}-level depthwise pyramid of all {N} blocks", N * Q * (C * k + C), N * C * k * L * share),
            ("the same pyramid with dense convs", N * Q * (C * C * k + C), N * C * C * k * L * share)]
    out = ["| layer | parameters | M MAC / s (level 0 at L = 800 frames/s) |", "|---|---:|---:|"]
    out += [f"| {a} | {b:,} | {_mm(c)} |" for a, b, c in rows]
    return "\n".join(out)


def pyramid_against_pointwise():
    """The depthwise pyramids of all blocks against one 1x1 convolution C_in -> C_out: fewer
    multiply-adds, more parameters (published Improved configuration)."""
    hp, sr = IMPROVED["hparams"], IMPROVED["sample_rate"]
    C, k, Q, N, C_out = hp["in_channels"], 5, hp["upsampling_depth"], hp["num_blocks"], hp["out_channels"]
    L = sr / info.hop(hp)
    pyr_p, pyr_m = N * Q * (C * k + C), N * C * k * L * sum(1 / 2 ** q for q in range(Q))
    pw_p, pw_m = C * C_out + C_out, C * C_out * L
    dense_p = N * Q * (C * C * k + C)
    return (f"The depthwise pyramids of all {N} blocks cost fewer multiply-adds than a single 1×1 "
            f"convolution {C} → {C_out} ({_mm(pyr_m)} against {_mm(pw_m)} M per second of audio), though "
            f"they hold more parameters ({pyr_p:,} against {pw_p:,}); the same pyramids built from dense "
            f"convolutions would hold {dense_p / 1e6:.0f} M parameters.")

def receptive_field_formula(hp):
    """Closed form of ``docs/costs.md``: ``hop * (2**(Q-1) * (4N + 1) + 2) + 1`` samples (Q >= 2);
    ``hop * (4N + 4) + 1`` for Q = 1."""
    h, Q, N = info.hop(hp), hp["upsampling_depth"], hp["num_blocks"]
    if Q == 1:
        return h * (4 * N + 4) + 1
    return h * (2 ** (Q - 1) * (4 * N + 1) + 2) + 1


def receptive_field_table():
    cases = [("Improved U16/B512 (published)", IMPROVED), ("GC U8/B512 (published)", GROUPCOMM)]
    out = ["| configuration | K | Q | N | formula (samples) | `npsep.info.receptive_field` | seconds at 8 kHz |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for label, c in cases:
        hp = c["hparams"]
        out.append(_rf_row(label, hp, c["sample_rate"]))
    base = IMPROVED["hparams"]
    for Q, N in ((4, 16), (5, 8), (5, 36), (1, 16)):
        out.append(_rf_row("Improved, other depths", dict(base, upsampling_depth=Q, num_blocks=N), 8000))
    return "\n".join(out)


def _rf_row(label, hp, sr):
    rf, formula = info.receptive_field(hp), receptive_field_formula(hp)
    return (f"| {label} | {hp['enc_kernel_size']} | {hp['upsampling_depth']} | {hp['num_blocks']} "
            f"| {formula:,} | {rf:,} | {rf / sr:.3f} |")


def variant_sizes_table():
    base = dict(IMPROVED["hparams"])
    out = ["| variant | parameters | G MAC per second of audio | share in 1×1 convs and linear layers |",
           "|---|---:|---:|---:|"]
    for v in architectures.VARIANTS:
        hp = dict(base)
        if v == "groupcomm":
            hp["group_size"] = 16
        if v.startswith("asteroid"):
            hp["mask_act"] = architectures.DEFAULT_MASK_ACT[v]
        total, share = gemm_share(v, hp)
        out.append(f"| `{v}` | {info.config_parameter_count(v, hp):,} | {total / 1e9:.3f} | {share:.1%} |")
    return "\n".join(out)


def gemm_share(variant, hp):
    """``(multiply-adds per second at 8 kHz, the share of them in 1x1 convs and linear layers)``."""
    rows = info.layer_table(variant, hp, 8000)
    total = sum(r["macs_per_second"] for r in rows)
    return total, sum(r["macs_per_second"] for r in rows if r["operation"].startswith(("1x1", "Linear"))) / total


def gemm_share_sentence():
    """The 1x1 convolutions' share of the arithmetic, for the published Improved and Original configurations."""
    improved = gemm_share("improved", IMPROVED["hparams"])[1]
    original = gemm_share("original", IMPROVED["hparams"])[1]
    return (f"They are {improved:.1%} of the Improved model's "
            f"multiply-adds and {original:.1%} of the original family's (its channel-axis mask layer is "
            f"not a 1×1 convolution), with the published Improved hyper-parameters; see "
            f"[Variants](variants.md) and [Costs](costs.md).")


# --- the bundled model ---------------------------------------------------------------------

TRAINING_CONFIG = ROOT / "training" / "default.json"


def model_card_config():
    from npsep.weights import default_model_path
    path = default_model_path()
    if path is not None:
        config, tensors = weights.load(path)
        variant, hp, sr = config["variant"], config["hparams"], config["sample_rate"]
        params = info.parameter_count(tensors)
        origin = "the bundled `npsep/data/default_model.npz`"
    else:
        variant, sr = "improved", 8000
        hp = json.loads(TRAINING_CONFIG.read_text())["model"]
        params = info.config_parameter_count(variant, hp)
        origin = ("`training/default.json` (the bundled model is not in the package yet; "
                  "the numbers are those of the configuration it is being trained with)")
    rf = info.receptive_field(hp)
    rows = [("configuration from", origin), ("variant", f"`{variant}`"),
            ("hyper-parameters", ", ".join(f"`{k}` {hp[k]}" for k in architectures.hparam_names(variant))),
            ("sample rate", f"{sr} Hz"), ("parameters", f"{params:,} ({params / 1e6:.2f} M)"),
            ("multiply-adds", f"{info.macs_per_second(variant, hp, sr) / 1e9:.3f} G per second of audio"),
            ("receptive field", f"{rf:,} samples ({rf / sr:.3f} s)"),
            ("input padding", f"to a multiple of {info.pad_multiple(variant, hp)} samples")]
    return "\n".join(["| | |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows])


# --- benchmarks --------------------------------------------------------------------------

def benchmark_table(path=BENCH_JSON):
    if not path.is_file():
        return ("*Not measured yet. Run `python benchmarks/bench_forward.py`, then "
                "`python scripts/make_figures.py` (which copies its `forward.json` to "
                "`docs/figures/benchmark.json` and draws the chart) and `python scripts/docs_tables.py`.*")
    report = json.loads(path.read_text())
    contenders = report["contenders"]
    labels = {"npsep": "npsep", "torch": "PyTorch", "ort": "ONNX Runtime"}
    ratios = [("npsep/torch", "npsep / PyTorch")] + ([("npsep/ort", "npsep / ORT")] if "ort" in contenders else [])
    ratios.append(("npsep/floor", "npsep / floor"))
    head = ("| threads | audio | batch | GFLOP | " + " | ".join(f"{labels.get(c, c)} (s)" for c in contenders)
            + " | GEMM floor (s) | " + " | ".join(label for _, label in ratios) + " |")
    out = [head, "|" + "---:|" * (5 + len(contenders) + len(ratios))]
    for r in report["results"]:
        m = r["median_s"]
        out.append(f"| {r['threads']} | {r['seconds']:g} s | {r['batch']} | {r['gflop']:.1f} | "
                   + " | ".join(f"{m[c]:.3f}" for c in contenders)
                   + f" | {r['gemm_floor_s']:.3f} | " + " | ".join(f"{r['ratio'][k]:.2f}" for k, _ in ratios) + " |")
    if report.get("memory"):
        out += ["", "Peak memory: the increase of the peak RSS over one forward pass, a fresh process per "
                "contender (MiB):", "",
                "| threads | audio | batch | " + " | ".join(labels.get(c, c) for c in contenders) + " |",
                "|" + "---:|" * (3 + len(contenders))]
        for e in report["memory"]:
            out.append(f"| {e['threads']} | {e['seconds']:g} s | {e['batch']} | "
                       + " | ".join(f"{e[c]['increase_bytes'] / 2**20:.0f}" for c in contenders) + " |")
    machine = report.get("machine", {})
    facts = [f"{k}: {machine[k]}" for k in ("cpu", "processor", "logical_cpus") if machine.get(k)]
    if facts:
        out += ["", "Measured on " + "; ".join(str(f) for f in facts) + "."]
    if report.get("merged_from"):
        out += [f"Rows from {len(report['merged_from'])} runs of the script on that machine, merged with "
                "`--merge`; the contenders of each row ran interleaved in one process."]
    return "\n".join(out)


def figure_embed(name, alt, missing):
    """An image link to ``docs/figures/<name>`` if the figure exists, else the ``missing`` note
    (a link to a missing file would fail ``mkdocs build --strict``)."""
    if (DOCS / "figures" / name).is_file():
        return f"![{alt}](figures/{name})"
    return missing


# --- code on the page and the API reference ------------------------------------------------

IMPLEMENTED_BY = re.compile(r"^Implemented by:(.*)$", re.M)
CODE_NAME = re.compile(r"`((?:npsep|weights_convert)(?:\.[A-Za-z_]\w*)+)`")
SOURCE = re.compile(r"(<!-- source:(?P<name>[\w.]+) -->\n)(?P<body>.*?)(<!-- /source -->)", re.S)
"""A function's source on a page: ``<!-- source:npsep.reference.glob_ln -->`` ... ``<!-- /source -->``."""


def code_object(dotted):
    """The module, class or function a dotted name denotes (importing modules on the way)."""
    parts = dotted.split(".")
    obj = importlib.import_module(parts[0])
    for i, attr in enumerate(parts[1:], 1):
        obj = getattr(obj, attr) if hasattr(obj, attr) else importlib.import_module(".".join(parts[:i + 1]))
    return obj


def source_block(dotted):
    """A fenced Python block with the source of the function ``dotted`` (a Numba kernel's
    Python function), as ``inspect.getsource`` reads it from the code."""
    obj = code_object(dotted)
    code = textwrap.dedent(inspect.getsource(getattr(obj, "py_func", obj)))
    return "```python\n" + code.rstrip("\n") + "\n```"


def implemented_by_names():
    """Every dotted name on an ``Implemented by:`` line of ``docs/*.md``."""
    return sorted({n for page in sorted(DOCS.glob("*.md"))
                   for line in IMPLEMENTED_BY.findall(page.read_text()) for n in CODE_NAME.findall(line)})


def module_of(dotted):
    obj = code_object(dotted)
    if inspect.ismodule(obj):
        return obj.__name__
    return getattr(obj, "__module__", None) or obj.py_func.__module__


def api_reference():
    """One mkdocstrings entry per module that an ``Implemented by:`` name lives in, in order."""
    modules = sorted({module_of(n) for n in implemented_by_names()})
    return "\n\n".join(f"## `{m}`\n\n::: {m}\n    options:\n      show_root_heading: false" for m in modules)


def walkthrough_section(name):
    """One section of ``docs/walkthrough.md``: the text ``examples/walkthrough.py`` prints for it."""
    return _walkthrough()[name]


def walkthrough_names():
    """The sections ``examples/walkthrough.py`` prints, in order."""
    return list(_walkthrough())


@functools.lru_cache(maxsize=None)
def _walkthrough():
    spec = importlib.util.spec_from_file_location("walkthrough", ROOT / "examples" / "walkthrough.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.sections())


# --- the pages ---------------------------------------------------------------------------

SECTIONS = {
    "architecture.md": {"shapes": walkthrough_table, "padding": padding_table,
                        "shapes-groupcomm": lambda: gc_block_table()},
    "costs.md": {"layers-improved": lambda: layer_markdown("improved-u16-b512"),
                 "layers-groupcomm": lambda: layer_markdown("groupcomm-u8-b512"),
                 "dsconv": dsconv_table, "receptive-field": receptive_field_table,
                 "pyramid-against-pointwise": pyramid_against_pointwise,
                 "macs-4s": macs_4s, "groupcomm-shares": groupcomm_shares},
    "variants.md": {"variant-sizes": variant_sizes_table},
    "benchmarks.md": {"benchmark-table": benchmark_table, "benchmark-figure": lambda: figure_embed(
        "benchmark.png", "npsep, PyTorch and ONNX Runtime: seconds per second of audio",
        "*No chart yet: it is drawn from the benchmark's results once they are copied here.*")},
    "model_card.md": {"model-card-config": model_card_config, "separation-figure": lambda: figure_embed(
        "separation.png", "The bundled example: mixture, masks and separated sources",
        "*No figure yet: it is drawn once the bundled model and `examples/mixture.wav` exist.*")},
    "api.md": {"api-modules": api_reference},
    "models.md": {"models-catalogue": lambda: models.markdown_table()},
    "operations.md": {"gemm-share": gemm_share_sentence},
    "objective.md": {},
    "walkthrough.md": {f"wt-{name}": functools.partial(walkthrough_section, name)
                       for name in walkthrough_names()},
}


def render(page, text):
    """``text`` of ``docs/<page>`` with every generated section recomputed."""
    makers = SECTIONS.get(page, {})
    found = set()

    def fill(m):
        name = m.group("name")
        if name not in makers:
            raise KeyError(f"docs/{page}: unknown generated section {name!r}")
        found.add(name)
        return m.group(1) + makers[name]().rstrip("\n") + "\n" + m.group(4)

    new = SOURCE.sub(lambda m: m.group(1) + source_block(m.group("name")) + "\n" + m.group(4),
                     SECTION.sub(fill, text))
    missing = set(makers) - found
    if missing:
        raise KeyError(f"docs/{page}: no marker for generated section(s) {', '.join(sorted(missing))}")
    return new


def stale_pages():
    """Pages whose generated sections differ from what the code gives now."""
    stale = []
    for page in SECTIONS:
        path = DOCS / page
        text = path.read_text()
        if render(page, text) != text:
            stale.append(page)
    return stale


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report stale pages (exit 1 if any)")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_pages()
        for page in stale:
            print(f"docs/{page} is out of date: run python scripts/docs_tables.py")
        return 1 if stale else 0
    for page in SECTIONS:
        path = DOCS / page
        text = path.read_text()
        new = render(page, text)
        if new != text:
            path.write_text(new)
            print(f"updated docs/{page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
