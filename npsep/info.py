"""What a model costs and sees: parameter count, receptive field, multiply-adds.

``npsep info MODEL`` prints :func:`summary`. The arithmetic lives in small
functions of the hyper-parameters (names as in :mod:`npsep.architectures`) so that the
documentation can cite them:

* :func:`pad_multiple` - the length the model pads its input to a multiple of;
* :func:`num_frames` / :func:`level_lengths` - encoder frames and the lengths of
  the levels of the U-block pyramid;
* :func:`block_support` / :func:`receptive_field` - the span of input samples
  that can change one output sample;
* :func:`mac_breakdown` / :func:`macs` / :func:`macs_per_second` - multiply-adds;
* :func:`layer_table` - parameters and multiply-adds layer by layer (``npsep info
  --layers``), for a weights file or for a :data:`PUBLISHED` configuration.

Conventions:

* **Receptive field** is that of the convolutions (encoder, depthwise pyramid,
  nearest upsampling, decoder) on an unbounded signal, maximised over output
  positions. The global layer normalisations (GlobLN / GroupNorm(1)) and the
  input normalisation of the inference recipe make every output depend a
  little on the whole input through their mean and variance; that global,
  statistics-only dependence is not counted.
* **Multiply-adds (MACs)**: one per weight per output position of every
  convolution, transposed convolution and linear layer (for a transposed
  convolution: per *input* position). Norms, activations, the mask product,
  biases and upsampling-adds are O(channels x frames) and are not counted.
  FLOPs ~ 2 x MACs. :func:`macs_per_second` is the asymptotic rate for long
  inputs (frames = sample_rate / hop, pyramid level ``k`` has ``L / 2**k``
  frames); :func:`macs` is exact for one input length, padding included.
"""
import json
import math
import os

from . import architectures


# --- lengths ----------------------------------------------------------------------------

def hop(hp):
    """Encoder stride in samples: ``enc_kernel_size // 2``."""
    return hp["enc_kernel_size"] // 2


def pad_multiple(variant, hp):
    """The model zero-pads an input of ``T`` samples to a multiple of this (the variant's padding rule,
    :func:`npsep.architectures.pad_multiple`)."""
    return architectures.pad_multiple(variant, hp)


def padded_length(variant, hp, num_samples):
    """Length after the model's own padding (:func:`npsep.architectures.padded_length`)."""
    return architectures.padded_length(variant, hp, num_samples)


def num_frames(hp, padded_samples):
    """Encoder frames for ``padded_samples``: ``floor((T + 2*(K//2) - K) / hop) + 1``."""
    K = hp["enc_kernel_size"]
    return (padded_samples + 2 * (K // 2) - K) // hop(hp) + 1


def level_lengths(hp, frames):
    """Frames at each level of the depthwise pyramid.

    Level 0 has ``frames``; each stride-2, kernel-5, padding-2 convolution
    gives ``ceil(L / 2)``. A float ``frames`` gives the asymptotic ``L / 2**k``.
    """
    out = [frames]
    for _ in range(1, hp["upsampling_depth"]):
        L = out[-1]
        out.append(L / 2 if isinstance(L, float) else -(-L // 2))
    return out


# --- receptive field --------------------------------------------------------------------

def block_support(lo, hi, upsampling_depth):
    """Frames of a U-block's input that can change its outputs ``lo..hi`` (inclusive).

    Output ``i`` sums the pyramid levels ``k = 0..Q-1`` upsampled by nearest
    neighbour, i.e. level ``k`` at index ``i >> k``; level ``k`` index ``m``
    (kernel 5; stride 1 at level 0, then stride 2 per level, padding 2) sees
    the block input ``[2**k m - 2**(k+1), 2**k m + 2**(k+1)]``. Pointwise
    convolutions and the residual do not widen this.
    """
    los = [((lo >> k) << k) - 2 ** (k + 1) for k in range(upsampling_depth)]
    his = [((hi >> k) << k) + 2 ** (k + 1) for k in range(upsampling_depth)]
    return min(los), max(his)


def frames_of_sample(hp, t):
    """Encoder frames the decoder (transposed conv, padding ``K//2``) adds into output sample ``t``."""
    K, h = hp["enc_kernel_size"], hop(hp)
    p = K // 2
    return -(-(t + p - K + 1) // h), (t + p) // h


def samples_of_frames(hp, lo, hi):
    """Input samples the encoder (conv, padding ``K//2``) reads for frames ``lo..hi``."""
    K, h = hp["enc_kernel_size"], hop(hp)
    p = K // 2
    return lo * h - p, hi * h - p + K - 1


def sample_support(hp, t):
    """Input samples ``(first, last)`` that can change output sample ``t`` (unbounded signal)."""
    lo, hi = frames_of_sample(hp, t)
    flo, fhi = lo, hi
    for _ in range(hp["num_blocks"]):
        flo, fhi = block_support(flo, fhi, hp["upsampling_depth"])
    # the masked encoder output of frame l also reaches the decoder directly
    flo, fhi = min(flo, lo), max(fhi, hi)
    return samples_of_frames(hp, flo, fhi)


def receptive_field(hp):
    """Receptive field in samples: the widest ``sample_support`` over all output positions.

    Computed in closed form, in O(hop) steps whatever the depth. An output sample
    reads frames ``lo .. lo + d`` (:func:`frames_of_sample`; ``d`` is largest at some
    phase of the hop and every ``lo`` occurs with it). A block maps frames ``lo .. hi``
    to ``P floor(lo/P) - 2P .. P floor(hi/P) + 2P`` with ``P = 2**(Q-1)``
    (:func:`block_support`), so ``N`` blocks give at most ``P ceil(d/P) + 4PN`` frames
    between the ends, reached when ``lo`` is one frame below a multiple of ``P``; the
    encoder reads ``hop`` samples per frame plus its kernel.
    """
    h, K = hop(hp), hp["enc_kernel_size"]
    P, N = 2 ** (hp["upsampling_depth"] - 1), hp["num_blocks"]
    d = max(b - a for a, b in (frames_of_sample(hp, t) for t in range(h)))
    return (P * -(-d // P) + 4 * P * N) * h + K


# --- multiply-adds ----------------------------------------------------------------------

def mac_breakdown(variant, hp, frames):
    """Multiply-adds per layer group for ``frames`` encoder frames: a dict ``name -> MACs``.

    ``frames`` an int: exact; a float: asymptotic (see :func:`level_lengths`).
    """
    architectures.check_hparams(variant, hp)
    arch = architectures.architecture(variant)
    E, K = hp["enc_num_basis"], hp["enc_kernel_size"]
    C_out, C_in = hp["out_channels"], hp["in_channels"]
    N, S = hp["num_blocks"], hp["num_sources"]
    L = frames
    levels = level_lengths(hp, L)

    def ublock(c_out, c_in):  # expand, depthwise pyramid, project back
        return c_out * c_in * L + sum(c_in * architectures.DEPTHWISE_KERNEL * Lk for Lk in levels) + c_in * c_out * L

    out = {"encoder": E * K * L}
    bottleneck = "bottleneck" if arch.bottleneck == "bottleneck" else f"bottleneck ({arch.bottleneck})"
    out[bottleneck] = E * C_out * L
    if arch.block == "gc_block":
        G = hp["group_size"]
        c, h = C_out // G, 3 * C_out // G
        tac = (G * c * h + h * h + G * 2 * h * c) * L
        out["blocks"] = N * (tac + G * ublock(c, C_in // G))
    else:
        out["blocks"] = N * ublock(C_out, C_in)
    if arch.mask_head == "channel_axis":
        if C_out != E:
            out["reshape_before_masks"] = C_out * E * L
        out["mask conv (channel axis)"] = S * E * (E + 1) * L
    else:
        out["mask_net"] = C_out * S * E * L
    out["decoder"] = (S * E * S * K if arch.decoder == "mixing" else S * E * K) * L
    return out


def macs(variant, hp, num_samples):
    """Exact multiply-adds to separate one input of ``num_samples`` samples (after padding)."""
    frames = num_frames(hp, padded_length(variant, hp, num_samples))
    return sum(mac_breakdown(variant, hp, frames).values())


def macs_per_second(variant, hp, sample_rate):
    """Asymptotic multiply-adds per second of audio: ``sample_rate / hop`` frames per second."""
    return sum(mac_breakdown(variant, hp, float(sample_rate) / hop(hp)).values())


# --- layer by layer ---------------------------------------------------------------------

PUBLISHED = {
    "improved-u16-b512": dict(
        variant="improved", sample_rate=8000, checkpoint="Improved_Sudormrf_U16_Bases512_WSJ02mix.pt",
        hparams=dict(out_channels=256, in_channels=512, num_blocks=16, upsampling_depth=5,
                     enc_kernel_size=21, enc_num_basis=512, num_sources=2)),
    "groupcomm-u8-b512": dict(
        variant="groupcomm", sample_rate=8000, checkpoint="GroupCom_Sudormrf_U8_Bases512_WSJ02mix.pt",
        hparams=dict(out_channels=256, in_channels=512, num_blocks=8, upsampling_depth=5,
                     enc_kernel_size=21, enc_num_basis=512, num_sources=2, group_size=16)),
}
"""The configurations of the authors' published checkpoints, for ``npsep info --preset NAME``."""


def config_shapes(variant, hp):
    """The tensor shapes of a configuration, every PReLU slope shaped as in the public code
    (:func:`npsep.architectures.published_shapes`): name -> shape."""
    return architectures.published_shapes(variant, hp)


def config_parameter_count(variant, hp):
    """Parameters of a configuration with the public code's PReLU slopes (:func:`config_shapes`)."""
    return sum(math.prod(shape) for shape in config_shapes(variant, hp).values())


def _describe_module(variant, hp, module, shapes):
    """``(operation, output shape, pyramid level or None, applications per position)`` of a
    module, from its name and tensor shapes. Output lengths are in units of ``L`` frames."""
    E, K, S = hp["enc_num_basis"], hp["enc_kernel_size"], hp["num_sources"]
    G = hp.get("group_size", 1)
    last = module.rsplit(".", 1)[-1]
    w = shapes.get(module + ".weight") or shapes.get(module + "._filters")
    in_group = ".UBlock." in module or ".TAC_input." in module or ".TAC_output." in module
    times = G if in_group else 1
    per = f"{G} x " if in_group or module.endswith(".TAC_norm") else ""  # same weights, every group
    level = 0
    if ".spp_dw." in module:
        level = int(module.split(".spp_dw.")[1].split(".")[0])
    frames = "L" if level == 0 else f"L/{2 ** level}"
    if module.endswith(("encoder.0", "encoder", "encoder.filterbank")):
        return f"Conv1d 1->{E}, kernel {K}, stride {K // 2}", f"[{E}, L]", 0, 1
    if module.endswith("decoder.filterbank"):
        return (f"ConvTranspose1d {E}->1 per source, kernel {K}, stride {K // 2}",
                f"[{S}, T]", 0, S)
    if module == "decoder":
        groups = f"groups {S}" if architectures.architecture(variant).decoder == "grouped" else "groups 1"
        return (f"ConvTranspose1d {w[0]}->{S}, kernel {K}, stride {K // 2}, {groups}",
                f"[{S}, T]", 0, 1)
    if module + ".gamma" in shapes or (len(w) == 1 and module + ".bias" in shapes):
        c = (shapes.get(module + ".gamma") or w)[0]
        kind = "GlobLN" if module + ".gamma" in shapes else "GroupNorm(1)"
        unused = " (unused by forward)" if last == "ln_mask_in" else ""
        return f"{kind} over [{c}, {frames}]{unused}", f"{per}[{c}, {frames}]", None, 0
    if len(w) == 1:
        return f"PReLU, {w[0]} slope{'s' if w[0] > 1 else ''}", "", None, 0
    if len(w) == 4:
        return f"Conv2d 1->{S}, kernel ({E + 1}, 1): conv along channels", f"[{S}, {E}, L]", 0, E
    if len(w) == 3 and w[1] == 1 and ".spp_dw." in module:
        stride = 1 if level == 0 else 2
        return (f"depthwise conv, kernel {w[2]}, stride {stride}", f"{per}[{w[0]}, {frames}]", level, times)
    if len(w) == 3 and w[2] == 1:
        return f"1x1 conv {w[1]}->{w[0]}", f"{per}[{w[0]}, L]", 0, times
    if len(w) == 2:
        if ".TAC_mean." in module:
            return f"Linear {w[1]}->{w[0]} of the mean over groups", f"[{w[0]}, L]", 0, 1
        return f"Linear {w[1]}->{w[0]} on each group", f"{G} x [{w[0]}, L]", 0, times
    raise ValueError(f"no layer description for {module!r}")


def layer_table(variant, hp, sample_rate, shapes=None, fold_blocks=True):
    """Parameters and multiply-adds per second of audio, layer by layer.

    ``shapes``: name -> tensor shape of a weights file; ``None`` uses :func:`config_shapes`.
    Returns a list of dicts, one per module of the state dict in state-dict order:
    ``layer`` (module name; with ``fold_blocks`` the block index is ``*`` and the row
    stands for all ``N`` blocks), ``operation``, ``output`` (shape per batch item: ``L``
    encoder frames, ``T`` samples), ``count`` (blocks it stands for), ``parameters`` (all
    ``count`` of them), ``macs_per_second`` (multiply-adds per second of audio, all of them:
    weights x positions, the frames of a pyramid level being ``sample_rate / hop / 2**k``).
    The sums equal :func:`config_parameter_count` (or the file's) and :func:`macs_per_second`.
    """
    shapes = config_shapes(variant, hp) if shapes is None else {k: tuple(v) for k, v in shapes.items()}
    L = float(sample_rate) / hop(hp)
    modules = {}
    for name, shape in shapes.items():
        modules.setdefault(name.rsplit(".", 1)[0], {})[name] = shape
    rows = {}
    for module, tensors in modules.items():
        op, out, level, times = _describe_module(variant, hp, module, shapes)
        params = sum(math.prod(s) for s in tensors.values())
        macs = 0.0
        if level is not None and times:
            w = tensors.get(module + ".weight") or tensors.get(module + "._filters")
            macs = math.prod(w) * times * L / 2 ** level
        key = module
        if fold_blocks:
            parts = module.split(".")
            if "sm" in parts:
                i = parts.index("sm")
                parts[i + 1] = "*"
                key = ".".join(parts)
        row = rows.get(key)
        if row is None:
            rows[key] = dict(layer=key, operation=op, output=out, count=1, parameters=params,
                             macs_per_second=macs)
        else:
            row["count"] += 1
            row["parameters"] += params
            row["macs_per_second"] += macs
    return list(rows.values())


def format_layers(rows, sample_rate, hp):
    """``npsep info --layers`` text: one line per layer, then the totals."""
    head = ("layer", "operation", "output", "n", "parameters", "MMAC/s")
    lines = [[r["layer"], r["operation"], r["output"], str(r["count"]), f"{r['parameters']:,}",
              f"{r['macs_per_second'] / 1e6:,.1f}" if r["macs_per_second"] else "-"] for r in rows]
    total_p = sum(r["parameters"] for r in rows)
    total_m = sum(r["macs_per_second"] for r in rows)
    lines.append(["total", "", "", "", f"{total_p:,}", f"{total_m / 1e6:,.1f}"])
    widths = [max(len(x[i]) for x in lines + [list(head)]) for i in range(len(head))]
    right = (False, False, False, True, True, True)

    def fmt(cells):
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    frames = float(sample_rate) / hop(hp)
    return "\n".join([fmt(head), rule] + [fmt(x) for x in lines[:-1]] + [rule, fmt(lines[-1]), "",
                      f"L = {frames:g} encoder frames per second of audio at {sample_rate} Hz "
                      f"(hop {hop(hp)}); T = samples. MMAC/s: millions of multiply-adds per "
                      "second of audio (FLOPs ~ 2 x MACs); norms, activations, biases and "
                      "upsample-adds are not counted."])


# --- summary ----------------------------------------------------------------------------

def parameter_count(tensors):
    """Number of parameters: the total size of all tensors."""
    return int(sum(int(t.size) for t in tensors.values()))


def summary(path):
    """A dict describing the weights file ``path`` (raises WeightsError if it is bad)."""
    from .weights import load
    config, tensors = load(path)
    return describe(config, os.fspath(path), parameter_count(tensors),
                    {k: tuple(v.shape) for k, v in tensors.items()})


def preset_summary(name):
    """:func:`summary` of a :data:`PUBLISHED` configuration (no weights file needed)."""
    c = PUBLISHED[name]
    config = {"variant": c["variant"], "hparams": c["hparams"], "sample_rate": c["sample_rate"],
              "mixture_consistency": c["variant"] == "groupcomm"}
    return describe(config, f"(preset {name}: {c['checkpoint']})",
                    config_parameter_count(c["variant"], c["hparams"]),
                    config_shapes(c["variant"], c["hparams"]))


def describe(config, file, parameters, shapes):
    """The summary dict of a model config (``variant``, ``hparams``, ``sample_rate`` ...) with
    ``parameters`` parameters whose tensors have ``shapes`` (name -> shape)."""
    variant, hp, rate = config["variant"], config["hparams"], config["sample_rate"]
    rf = receptive_field(hp)
    return {"file": file, "variant": variant, "hparams": dict(hp),
            "sample_rate": rate, "mixture_consistency": bool(config.get("mixture_consistency")),
            "num_sources": hp["num_sources"], "parameters": parameters,
            "receptive_field_samples": rf, "receptive_field_seconds": rf / rate,
            "pad_multiple": pad_multiple(variant, hp),
            "macs_per_second": macs_per_second(variant, hp, rate),
            "macs_per_second_breakdown": mac_breakdown(variant, hp, float(rate) / hop(hp)),
            "source": config.get("source") or {},
            "layers": layer_table(variant, hp, rate, shapes)}


def format_summary(s):
    """Human-readable text for :func:`summary`."""
    hp = s["hparams"]
    lines = [f"file              {s['file']}",
             f"variant           {s['variant']}",
             "hyper-parameters  " + ", ".join(f"{k}={hp[k]}" for k in _ordered(s["variant"], hp)),
             f"parameters        {s['parameters']:,} ({s['parameters'] / 1e6:.2f} M)",
             f"sample rate       {s['sample_rate']} Hz",
             f"sources           {s['num_sources']}",
             f"receptive field   {s['receptive_field_samples']} samples "
             f"({s['receptive_field_seconds']:.3f} s; convolutions only, the global "
             "normalisations see the whole input)",
             f"multiply-adds     {s['macs_per_second'] / 1e9:.3f} G per second of audio "
             f"(~{2 * s['macs_per_second'] / 1e9:.2f} GFLOP/s)",
             f"input padding     to a multiple of {s['pad_multiple']} samples",
             f"mixture consist.  {'yes' if s['mixture_consistency'] else 'no'}"]
    src = s.get("source") or {}
    if src.get("name"):
        lines.append(f"converted from    {src['name']}")
    return "\n".join(lines)


def _ordered(variant, hp):
    try:
        names = architectures.hparam_names(variant)
    except ValueError:
        names = ()
    return [k for k in names if k in hp] + sorted(k for k in hp if k not in names)


def run(args):
    """``npsep info``: the summary of a weights file or preset, ``--layers`` adds the layer table."""
    from .errors import NpsepError
    from .models import resolve
    preset = getattr(args, "preset", None)
    model = [m for m in (args.model, getattr(args, "model_name", None)) if m is not None]
    if len(model) + (preset is not None) != 1:
        raise NpsepError("give either a MODEL (a weights file, or a model name also given as -m) "
                         f"or --preset NAME (presets: {', '.join(PUBLISHED)})")
    s = summary(resolve(model[0])) if preset is None else preset_summary(preset)
    layers = getattr(args, "layers", False)
    if not layers:
        s.pop("layers")
    if args.json:
        print(json.dumps(s, indent=2, sort_keys=True))
    else:
        print(format_summary(s))
        if layers:
            print()
            print(format_layers(s["layers"], s["sample_rate"], s["hparams"]))
    return 0
