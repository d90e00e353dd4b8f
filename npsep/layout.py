"""What each SuDoRM-RF variant is made of: its hyper-parameters and its tensors.

A model is described by a *variant* name and a dict of hyper-parameters (the
names of the original code). :func:`expected_shapes` turns that description
into the exact list of state-dict tensors the variant needs, with their
shapes; the weights loader checks a file against it and the converter infers
hyper-parameters by reading it backwards.

Symbols used in the shapes below (see ``docs/architecture.md``)::

    E      enc_num_basis      encoder bases
    K      enc_kernel_size    encoder kernel (odd), hop K // 2
    C_out  out_channels       channels between blocks (the paper's C)
    C_in   in_channels        channels inside a block
    Q      upsampling_depth   levels of the multi-resolution pyramid
    N      num_blocks         number of U-blocks
    S      num_sources        separated sources
    G      group_size         groups of a group-communication block
"""
import math

VARIANTS = ("original", "improved", "groupcomm", "asteroid_sudormrf", "asteroid_improved")

HPARAMS = ("out_channels", "in_channels", "num_blocks", "upsampling_depth",
           "enc_kernel_size", "enc_num_basis", "num_sources")
"""Hyper-parameters every variant has."""

EXTRA_HPARAMS = {"groupcomm": ("group_size",),
                 "asteroid_sudormrf": ("mask_act",),
                 "asteroid_improved": ("mask_act",)}
"""Hyper-parameters only some variants have."""

MASK_ACTS = ("softmax", "sigmoid", "relu")

DEFAULT_MASK_ACT = {"asteroid_sudormrf": "softmax", "asteroid_improved": "relu"}

PRELU = "prelu"
"""Placeholder shape for a PReLU slope: ``(1,)`` (shared) or ``(C,)`` (per channel)."""


def hparam_names(variant):
    """All hyper-parameter names of ``variant``, in a stable order."""
    check_variant(variant)
    return HPARAMS + EXTRA_HPARAMS.get(variant, ())


def check_variant(variant):
    """Raise ``ValueError`` unless ``variant`` is one of :data:`VARIANTS`."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")


def check_hparams(variant, hp):
    """Raise ``ValueError`` naming the first hyper-parameter that is missing or invalid."""
    for name in hparam_names(variant):
        if name not in hp:
            raise ValueError(f"hyper-parameter {name!r} is missing for variant {variant!r}")
    for name in HPARAMS + ("group_size",):
        if name in hp and (not isinstance(hp[name], int) or isinstance(hp[name], bool) or hp[name] < 1):
            raise ValueError(f"hyper-parameter {name!r} must be a positive integer, got {hp[name]!r}")
    if hp["enc_kernel_size"] % 2 == 0 or hp["enc_kernel_size"] < 3:
        raise ValueError(f"enc_kernel_size must be odd and at least 3, got {hp['enc_kernel_size']}")
    if variant in ("original", "asteroid_sudormrf") and hp["enc_num_basis"] % 2:
        raise ValueError("the channel-axis mask convolution needs an even enc_num_basis, "
                         f"got {hp['enc_num_basis']}")
    if variant.startswith("asteroid") and hp["in_channels"] != hp["enc_num_basis"]:
        raise ValueError("Asteroid models have in_channels == enc_num_basis, "
                         f"got {hp['in_channels']} and {hp['enc_num_basis']}")
    if variant == "groupcomm":
        g = hp["group_size"]
        if hp["out_channels"] % g or hp["in_channels"] % g:
            raise ValueError(f"group_size {g} must divide out_channels {hp['out_channels']} "
                             f"and in_channels {hp['in_channels']}")
    if "mask_act" in hp and hp["mask_act"] not in MASK_ACTS:
        raise ValueError(f"mask_act must be one of {', '.join(MASK_ACTS)}, got {hp['mask_act']!r}")


def expected_shapes(variant, hp):
    """The state-dict tensors of ``variant`` with hyper-parameters ``hp``.

    Returns an ordered dict ``name -> shape`` where a shape is a tuple of ints,
    or ``(PRELU, C)`` for a PReLU slope that may be ``(1,)`` or ``(C,)``.
    """
    check_hparams(variant, hp)
    E, K = hp["enc_num_basis"], hp["enc_kernel_size"]
    C_out, C_in = hp["out_channels"], hp["in_channels"]
    Q, N, S = hp["upsampling_depth"], hp["num_blocks"], hp["num_sources"]
    shapes = {}

    if variant == "original":
        shapes["encoder.0.weight"] = (E, 1, K)
        shapes["encoder.0.bias"] = (E,)
        shapes.update(_norm("ln", E, "groupnorm"))
        shapes.update(_conv1x1("l1", E, C_out))
        for i in range(N):
            shapes.update(_ublock(f"sm.{i}.", C_out, C_in, Q))
        if C_out != E:
            shapes.update(_conv1x1("reshape_before_masks", C_out, E))
        shapes["m.weight"] = (S, 1, E + 1, 1)
        shapes["m.bias"] = (S,)
        shapes["decoder.weight"] = (E * S, 1, K)
        shapes["decoder.bias"] = (S,)
        shapes.update(_norm("ln_mask_in", E, "groupnorm"))

    elif variant in ("improved", "groupcomm"):
        shapes["encoder.weight"] = (E, 1, K)
        shapes.update(_norm("ln", E, "globln"))
        shapes.update(_conv1x1("bottleneck", E, C_out))
        for i in range(N):
            if variant == "improved":
                shapes.update(_uconvblock(f"sm.{i}.", C_out, C_in, Q))
            else:
                shapes.update(_gcblock(f"sm.{i}.", C_out, C_in, Q, hp["group_size"]))
        shapes["mask_net.0.weight"] = (PRELU, C_out)
        shapes.update(_conv1x1("mask_net.1", C_out, S * E))
        shapes["decoder.weight"] = (S * E, S, K)

    elif variant == "asteroid_sudormrf":
        shapes["encoder.filterbank._filters"] = (E, 1, K)
        shapes.update(_norm("masker.ln", E, "groupnorm"))
        shapes.update(_conv1x1("masker.l1", E, C_out))
        for i in range(N):
            shapes.update(_ublock(f"masker.sm.{i}.", C_out, C_in, Q))
        if C_out != E:
            shapes.update(_conv1x1("masker.reshape_before_masks", C_out, E))
        shapes["masker.m.weight"] = (S, 1, E + 1, 1)
        shapes["masker.m.bias"] = (S,)
        shapes["decoder.filterbank._filters"] = (E, 1, K)

    elif variant == "asteroid_improved":
        shapes["encoder.filterbank._filters"] = (E, 1, K)
        shapes.update(_norm("masker.ln", E, "globln"))
        shapes.update(_conv1x1("masker.bottleneck", E, C_out))
        for i in range(N):
            shapes.update(_uconvblock(f"masker.sm.{i}.", C_out, C_in, Q))
        shapes["masker.mask_net.0.weight"] = (PRELU, C_out)
        shapes.update(_conv1x1("masker.mask_net.1", C_out, S * E))
        shapes["decoder.filterbank._filters"] = (E, 1, K)

    return shapes


def padded_length(variant, hp, T):
    """Length a ``T``-sample waveform is zero-padded to before the encoder.

    Original and Asteroid: the next multiple of ``lcm(K//2, 2**Q)``. Improved and
    group-comm: the next multiple of ``n = (K//2) * 2**Q``, at least ``n``, so that the
    ``L = T_pad / (K//2)`` encoder frames halve exactly at every level of the pyramid.
    """
    hop, levels = hp["enc_kernel_size"] // 2, 2 ** hp["upsampling_depth"]
    if variant in ("improved", "groupcomm"):
        n = hop * levels
        return n * max(1, math.ceil(T / n))
    n = hop * levels // math.gcd(hop, levels)
    return n * math.ceil(T / n)


def shape_matches(expected, actual):
    """Does an actual tensor shape satisfy an expected one (PReLU: ``(1,)`` or ``(C,)``)?"""
    actual = tuple(actual)
    if expected and expected[0] == PRELU:
        return actual in ((1,), (expected[1],))
    return actual == tuple(expected)


def describe_shape(expected):
    """An expected shape as text for messages: ``"(256, 512, 1)"``, or ``"(1,) or (C,)"`` for a PReLU."""
    if expected and expected[0] == PRELU:
        return f"(1,) or ({expected[1]},)"
    return str(tuple(expected))


# --- building blocks of the state dict -------------------------------------------------

def _conv1x1(name, c_in, c_out):
    return {f"{name}.weight": (c_out, c_in, 1), f"{name}.bias": (c_out,)}


def _norm(name, c, kind):
    keys = ("weight", "bias") if kind == "groupnorm" else ("gamma", "beta")
    return {f"{name}.{k}": (c,) for k in keys}


def _pyramid(p, C_in, Q, kind):
    shapes = {}
    for k in range(Q):
        shapes[f"{p}spp_dw.{k}.conv.weight"] = (C_in, 1, 5)
        shapes[f"{p}spp_dw.{k}.conv.bias"] = (C_in,)
        shapes.update(_norm(f"{p}spp_dw.{k}.norm", C_in, kind))
    return shapes


def _ublock(p, C_out, C_in, Q):
    """Original U-block (GroupNorm everywhere)."""
    shapes = {**_conv1x1(f"{p}proj_1x1.conv", C_out, C_in),
              **_norm(f"{p}proj_1x1.norm", C_in, "groupnorm"),
              f"{p}proj_1x1.act.weight": (PRELU, C_in),
              **_pyramid(p, C_in, Q, "groupnorm"),
              **_conv1x1(f"{p}conv_1x1_exp.conv", C_in, C_out),
              **_norm(f"{p}conv_1x1_exp.norm", C_out, "groupnorm"),
              **_norm(f"{p}final_norm.norm", C_in, "groupnorm"),
              f"{p}final_norm.act.weight": (PRELU, C_in),
              **_norm(f"{p}module_act.norm", C_out, "groupnorm"),
              f"{p}module_act.act.weight": (PRELU, C_out)}
    return shapes


def _uconvblock(p, C_out, C_in, Q):
    """Improved U-ConvBlock (GlobLN everywhere, residual 1x1 conv at the end)."""
    return {**_conv1x1(f"{p}proj_1x1.conv", C_out, C_in),
            **_norm(f"{p}proj_1x1.norm", C_in, "globln"),
            f"{p}proj_1x1.act.weight": (PRELU, C_in),
            **_pyramid(p, C_in, Q, "globln"),
            **_norm(f"{p}final_norm.norm", C_in, "globln"),
            f"{p}final_norm.act.weight": (PRELU, C_in),
            **_conv1x1(f"{p}res_conv", C_in, C_out)}


def _gcblock(p, C_out, C_in, Q, G):
    """Group-communication block: TAC across G groups, then one shared U-ConvBlock."""
    c, h = C_out // G, 3 * C_out // G
    t = f"{p}TAC."
    return {f"{t}TAC_input.0.weight": (h, c), f"{t}TAC_input.0.bias": (h,),
            f"{t}TAC_input.1.weight": (PRELU, h),
            f"{t}TAC_mean.0.weight": (h, h), f"{t}TAC_mean.0.bias": (h,),
            f"{t}TAC_mean.1.weight": (PRELU, h),
            f"{t}TAC_output.0.weight": (c, 2 * h), f"{t}TAC_output.0.bias": (c,),
            f"{t}TAC_output.1.weight": (PRELU, c),
            **_norm(f"{t}TAC_norm", c, "globln"),
            **_uconvblock(f"{p}UBlock.", c, C_in // G, Q)}
