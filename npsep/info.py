"""What a model costs and sees: parameter count, receptive field, multiply-adds.

``npsep info MODEL`` prints :func:`summary`. The arithmetic lives in small
functions of the hyper-parameters (names as in :mod:`npsep.layout`) so that the
documentation can cite them:

* :func:`pad_multiple` - the length the model pads its input to a multiple of;
* :func:`num_frames` / :func:`level_lengths` - encoder frames and the lengths of
  the levels of the U-block pyramid;
* :func:`block_support` / :func:`receptive_field` - the span of input samples
  that can change one output sample;
* :func:`mac_breakdown` / :func:`macs` / :func:`macs_per_second` - multiply-adds.

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

from . import layout


# --- lengths ----------------------------------------------------------------------------

def hop(hp):
    """Encoder stride in samples: ``enc_kernel_size // 2``."""
    return hp["enc_kernel_size"] // 2


def pad_multiple(variant, hp):
    """The model zero-pads an input of ``T`` samples to a multiple of this (SPEC section 1).

    Improved / group-comm: ``(K//2) * 2**Q``; original and Asteroid: ``lcm(K//2, 2**Q)``.
    """
    h, q = hop(hp), 2 ** hp["upsampling_depth"]
    if variant in ("improved", "groupcomm"):
        return h * q
    return h * q // math.gcd(h, q)


def padded_length(variant, hp, num_samples):
    """Length after the model's own padding (improved / group-comm: at least one multiple)."""
    n = pad_multiple(variant, hp)
    padded = n * -(-num_samples // n)
    if variant in ("improved", "groupcomm"):
        padded = max(padded, n)
    return padded


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

    The supports shift with the output position by a pattern that repeats
    every ``hop * 2**(Q-1)`` samples; twice that many positions, far from the
    origin, are enumerated.
    """
    period = hop(hp) * 2 ** hp["upsampling_depth"]
    origin = period * 10 ** 6
    width = 0
    for t in range(origin, origin + period):
        a, b = sample_support(hp, t)
        width = max(width, b - a + 1)
    return width


# --- multiply-adds ----------------------------------------------------------------------

def mac_breakdown(variant, hp, frames):
    """Multiply-adds per layer group for ``frames`` encoder frames: a dict ``name -> MACs``.

    ``frames`` an int: exact; a float: asymptotic (see :func:`level_lengths`).
    """
    layout.check_hparams(variant, hp)
    E, K = hp["enc_num_basis"], hp["enc_kernel_size"]
    C_out, C_in = hp["out_channels"], hp["in_channels"]
    N, S = hp["num_blocks"], hp["num_sources"]
    L = frames
    levels = level_lengths(hp, L)
    out = {"encoder": E * K * L}

    def pyramid(channels):
        return sum(channels * 5 * Lk for Lk in levels)

    if variant in ("original", "asteroid_sudormrf"):
        out["bottleneck (l1)"] = E * C_out * L
        per_block = C_out * C_in * L + pyramid(C_in) + C_in * C_out * L
        out["blocks"] = N * per_block
        if C_out != E:
            out["reshape_before_masks"] = C_out * E * L
        out["mask conv (channel axis)"] = S * E * (E + 1) * L
        out["decoder"] = S * E * K * L
    elif variant in ("improved", "asteroid_improved"):
        out["bottleneck"] = E * C_out * L
        per_block = C_out * C_in * L + pyramid(C_in) + C_in * C_out * L
        out["blocks"] = N * per_block
        out["mask_net"] = C_out * S * E * L
        out["decoder"] = (S * E * S * K if variant == "improved" else S * E * K) * L
    elif variant == "groupcomm":
        G = hp["group_size"]
        c, ci = C_out // G, C_in // G
        h = 3 * c
        tac = (G * c * h + h * h + G * 2 * h * c) * L
        ublock = G * (c * ci * L + pyramid(ci) + ci * c * L)
        out["bottleneck"] = E * C_out * L
        out["blocks"] = N * (tac + ublock)
        out["mask_net"] = C_out * S * E * L
        out["decoder"] = S * E * S * K * L
    else:
        layout.check_variant(variant)
    return out


def macs(variant, hp, num_samples):
    """Exact multiply-adds to separate one input of ``num_samples`` samples (after padding)."""
    frames = num_frames(hp, padded_length(variant, hp, num_samples))
    return sum(mac_breakdown(variant, hp, frames).values())


def macs_per_second(variant, hp, sample_rate):
    """Asymptotic multiply-adds per second of audio: ``sample_rate / hop`` frames per second."""
    return sum(mac_breakdown(variant, hp, float(sample_rate) / hop(hp)).values())


# --- summary ----------------------------------------------------------------------------

def parameter_count(tensors):
    """Number of parameters: the total size of all tensors."""
    return int(sum(int(t.size) for t in tensors.values()))


def summary(path):
    """A dict describing the weights file ``path`` (raises WeightsError if it is bad)."""
    from .weights import load
    config, tensors = load(path)
    variant, hp, rate = config["variant"], config["hparams"], config["sample_rate"]
    rf = receptive_field(hp)
    return {"file": os.fspath(path), "variant": variant, "hparams": dict(hp),
            "sample_rate": rate, "mixture_consistency": bool(config.get("mixture_consistency")),
            "num_sources": hp["num_sources"], "parameters": parameter_count(tensors),
            "receptive_field_samples": rf, "receptive_field_seconds": rf / rate,
            "pad_multiple": pad_multiple(variant, hp),
            "macs_per_second": macs_per_second(variant, hp, rate),
            "macs_per_second_breakdown": mac_breakdown(variant, hp, float(rate) / hop(hp)),
            "source": config.get("source") or {}}


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
        names = layout.hparam_names(variant)
    except ValueError:
        names = ()
    return [k for k in names if k in hp] + sorted(k for k in hp if k not in names)


def run(args):
    """``npsep info``."""
    s = summary(args.model)
    if args.json:
        print(json.dumps(s, indent=2, sort_keys=True))
    else:
        print(format_summary(s))
    return 0
