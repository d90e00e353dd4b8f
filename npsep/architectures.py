"""The five SuDoRM-RF variants as data: what each is made of, its hyper-parameters, its tensors.

:data:`ARCHITECTURES` is the table of ``docs/variants.md`` as one frozen
:class:`Architecture` per variant; nothing outside this module branches on a
variant's name. From a variant and its hyper-parameters, :func:`parameter_slots`
builds the model's parameter tree (:class:`Model`, its blocks and layers) with a
:class:`Slot` (state-dict name and shape) at every leaf. That one tree gives

* :func:`expected_shapes` - the exact list of state-dict tensors and their shapes,
  which the weights loader checks a file against and the converter reads backwards;
* :func:`unflatten` - the same tree with the arrays of a state dict at its leaves,
  which the oracle (:mod:`npsep.reference`) and the fast path (:mod:`npsep.fast`)
  compute with, so that no state-dict name appears in the math.

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
from dataclasses import dataclass, fields, is_dataclass, make_dataclass
from typing import Optional

HPARAMS = ("out_channels", "in_channels", "num_blocks", "upsampling_depth",
           "enc_kernel_size", "enc_num_basis", "num_sources")
"""Hyper-parameters every variant has."""

MASK_ACTS = ("softmax", "sigmoid", "relu")

DEPTHWISE_KERNEL = 5
"""Kernel size of every depthwise convolution of the U-block pyramid."""

PRELU = "prelu"
"""Placeholder shape for a PReLU slope: ``(1,)`` (shared) or ``(C,)`` (per channel)."""


@dataclass(frozen=True)
class Architecture:
    """What sets one variant apart: a column of the table in ``docs/variants.md``."""

    name: str
    source: str
    """The PyTorch class the variant reproduces."""
    prefix: str
    """State-dict prefix of the separator (Asteroid keeps it under ``masker.``)."""
    encoder_weight: str
    """State-dict name of the encoder's ``[E, 1, K]`` filters."""
    encoder_bias: bool
    encoder_relu: bool
    norm: str
    """``"groupnorm"`` (GroupNorm(1, C): ``weight``/``bias``) or ``"globln"`` (``gamma``/``beta``)."""
    bottleneck: str
    """State-dict name of the 1x1 conv before the blocks."""
    block: str
    """``"u_block"`` (original), ``"uconv_block"`` (improved) or ``"gc_block"`` (group communication)."""
    per_channel_prelus: tuple
    """The PReLUs that have one slope per channel in the public code (the others share one slope):
    ``"block"`` every PReLU of a block, ``"final_norm"`` the one after a block's final norm."""
    mask_head: str
    """``"channel_axis"`` (1x1 ``reshape_before_masks`` if ``C_out != E``, then a Conv2d along the
    channels) or ``"conv"`` (PReLU, then a 1x1 conv ``C_out -> S*E``)."""
    mask_act: str
    """The mask nonlinearity, or its default when :attr:`mask_act_is_hparam`."""
    mask_act_is_hparam: bool
    decoder: str
    """``"grouped"`` (ConvTranspose1d ``S*E -> S``, ``groups = S``, with bias), ``"mixing"``
    (``groups = 1``, no bias) or ``"shared"`` (one ``E``-filter bank for every source, no bias)."""
    decoder_weight: str
    padding: str
    """``"lcm"``: a multiple of ``lcm(K//2, 2**Q)``; ``"product"``: a multiple of ``(K//2) * 2**Q``,
    at least one."""
    in_channels_is_basis: bool
    """Asteroid builds its blocks with ``in_channels == enc_num_basis``."""
    unused_norm: Optional[str]
    """A norm the state dict carries but the forward pass never uses."""
    mixture_consistency: bool
    """The default of the inference recipe's mixture-consistency step."""
    detected_by: tuple
    """Name prefixes that all appear in this variant's state dict (and that tell it apart)."""

    @property
    def extra_hparams(self):
        """Hyper-parameters only this variant has."""
        return (("group_size",) if self.block == "gc_block" else ()) + \
            (("mask_act",) if self.mask_act_is_hparam else ())

    def mask_activation(self, hp):
        """The mask nonlinearity for ``hp``. A softmax over a single source is constantly 1,
        so a fixed softmax head becomes a sigmoid when ``S = 1``."""
        if self.mask_act_is_hparam:
            return hp["mask_act"]
        if self.mask_act == "softmax" and hp["num_sources"] == 1:
            return "sigmoid"
        return self.mask_act


_ORIGINAL = Architecture(
    name="original", source="sudormrf.SuDORMRF", prefix="", encoder_weight="encoder.0.weight",
    encoder_bias=True, encoder_relu=True, norm="groupnorm", bottleneck="l1", block="u_block",
    per_channel_prelus=("block",), mask_head="channel_axis", mask_act="softmax",
    mask_act_is_hparam=False, decoder="grouped", decoder_weight="decoder.weight", padding="lcm",
    in_channels_is_basis=False, unused_norm="ln_mask_in", mixture_consistency=False,
    detected_by=("encoder.0.weight", "l1.weight"))
_IMPROVED = Architecture(
    name="improved", source="improved_sudormrf.SuDORMRF", prefix="", encoder_weight="encoder.weight",
    encoder_bias=False, encoder_relu=False, norm="globln", bottleneck="bottleneck", block="uconv_block",
    per_channel_prelus=(), mask_head="conv", mask_act="relu", mask_act_is_hparam=False,
    decoder="mixing", decoder_weight="decoder.weight", padding="product", in_channels_is_basis=False,
    unused_norm=None, mixture_consistency=False, detected_by=("encoder.weight", "bottleneck.weight"))

ARCHITECTURES = {a.name: a for a in (
    _ORIGINAL,
    _IMPROVED,
    Architecture(**{**vars(_IMPROVED), "name": "groupcomm", "block": "gc_block",
                    "source": "groupcomm_sudormrf_v2.GroupCommSudoRmRf", "mixture_consistency": True,
                    "detected_by": _IMPROVED.detected_by + ("sm.0.TAC.",)}),
    Architecture(**{**vars(_ORIGINAL), "name": "asteroid_sudormrf", "source": "Asteroid SuDORMRFNet",
                    "prefix": "masker.", "encoder_weight": "encoder.filterbank._filters", "encoder_bias": False,
                    "mask_act_is_hparam": True, "decoder": "shared",
                    "decoder_weight": "decoder.filterbank._filters", "in_channels_is_basis": True,
                    "unused_norm": None, "detected_by": ("masker.l1.weight",)}),
    Architecture(**{**vars(_IMPROVED), "name": "asteroid_improved", "source": "Asteroid SuDORMRFImprovedNet",
                    "prefix": "masker.", "encoder_weight": "encoder.filterbank._filters",
                    "per_channel_prelus": ("final_norm",), "mask_act_is_hparam": True, "decoder": "shared",
                    "decoder_weight": "decoder.filterbank._filters", "padding": "lcm",
                    "in_channels_is_basis": True, "detected_by": ("masker.bottleneck.weight",)}),
)}
"""Variant name -> :class:`Architecture`, in the order of ``docs/variants.md``."""

VARIANTS = tuple(ARCHITECTURES)

DEFAULT_MASK_ACT = {a.name: a.mask_act for a in ARCHITECTURES.values() if a.mask_act_is_hparam}
"""The default ``mask_act`` of the variants that have it as a hyper-parameter."""


def architecture(variant):
    """The :class:`Architecture` of ``variant``; ``ValueError`` unless it is one of :data:`VARIANTS`."""
    if not isinstance(variant, str) or variant not in ARCHITECTURES:
        raise ValueError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    return ARCHITECTURES[variant]


def hparam_names(variant):
    """All hyper-parameter names of ``variant``, in a stable order."""
    return HPARAMS + architecture(variant).extra_hparams


def check_hparams(variant, hp):
    """Raise ``ValueError`` naming the first hyper-parameter that is missing or invalid."""
    arch = architecture(variant)
    for name in hparam_names(variant):
        if name not in hp:
            raise ValueError(f"hyper-parameter {name!r} is missing for variant {variant!r}")
    for name in HPARAMS + ("group_size",):
        if name in hp and (not isinstance(hp[name], int) or isinstance(hp[name], bool) or hp[name] < 1):
            raise ValueError(f"hyper-parameter {name!r} must be a positive integer, got {hp[name]!r}")
    if hp["enc_kernel_size"] % 2 == 0 or hp["enc_kernel_size"] < 3:
        raise ValueError(f"enc_kernel_size must be odd and at least 3, got {hp['enc_kernel_size']}")
    if arch.mask_head == "channel_axis" and hp["enc_num_basis"] % 2:
        raise ValueError("the channel-axis mask convolution needs an even enc_num_basis, "
                         f"got {hp['enc_num_basis']}")
    if arch.in_channels_is_basis and hp["in_channels"] != hp["enc_num_basis"]:
        raise ValueError("Asteroid models have in_channels == enc_num_basis, "
                         f"got {hp['in_channels']} and {hp['enc_num_basis']}")
    if "group_size" in arch.extra_hparams:
        g = hp["group_size"]
        if hp["out_channels"] % g or hp["in_channels"] % g:
            raise ValueError(f"group_size {g} must divide out_channels {hp['out_channels']} "
                             f"and in_channels {hp['in_channels']}")
    if "mask_act" in hp and hp["mask_act"] not in MASK_ACTS:
        raise ValueError(f"mask_act must be one of {', '.join(MASK_ACTS)}, got {hp['mask_act']!r}")


def pad_multiple(variant, hp):
    """The input is zero-padded to a multiple of this many samples (see :attr:`Architecture.padding`)."""
    hop, levels = hp["enc_kernel_size"] // 2, 2 ** hp["upsampling_depth"]
    if architecture(variant).padding == "product":
        return hop * levels
    return hop * levels // math.gcd(hop, levels)


def padded_length(variant, hp, T):
    """Length a ``T``-sample waveform is zero-padded to before the encoder.

    The next multiple of :func:`pad_multiple`; with the ``"product"`` rule (improved and
    group-comm) at least one multiple, so that the ``L = T_pad / (K//2)`` encoder frames
    halve exactly at every level of the pyramid.
    """
    n = pad_multiple(variant, hp)
    padded = n * math.ceil(T / n)
    return max(padded, n) if architecture(variant).padding == "product" else padded


# --- the parameter tree ----------------------------------------------------------------------
# Every layer is a frozen dataclass whose fields are its tensors or sub-layers, in state-dict
# order. :func:`parameter_slots` fills the leaves with Slots, :func:`unflatten` with arrays.

@dataclass(frozen=True)
class Slot:
    """A leaf of the parameter tree before it is filled: a state-dict name and its shape, where a
    PReLU slope's shape is ``(PRELU, C)`` and ``published`` the shape the public code gives it."""

    name: str
    shape: tuple
    published: Optional[tuple] = None


def layer(name, field_names, doc, module=__name__):
    """A frozen dataclass ``name`` with the fields ``field_names`` (space-separated): one node of a
    parameter tree (or of a fast-path plan built from one)."""
    cls = make_dataclass(name, field_names.split(), frozen=True)
    cls.__doc__, cls.__module__ = doc, module
    return cls


Conv = layer("Conv", "w b", "A convolution or linear layer: weight ``w``, bias ``b`` (``None`` for none).")
Norm = layer("Norm", "gamma beta", "GlobLN or GroupNorm(1, C): per-channel scale ``gamma`` and shift ``beta``.")
ConvNorm = layer("ConvNorm", "conv norm", "A convolution followed by a norm.")
NormAct = layer("NormAct", "norm act", "A norm followed by a PReLU with slope(s) ``act``.")
ConvNormAct = layer("ConvNormAct", "conv norm act", "A 1x1 convolution, a norm and a PReLU.")
LinearAct = layer("LinearAct", "linear act", "An ``nn.Linear`` followed by a PReLU with slope(s) ``act``.")
UConvBlock = layer("UConvBlock", "proj pyramid final_norm res",
                   "Improved U-ConvBlock: expand (``proj``), depthwise ``pyramid`` (one :class:`ConvNorm` "
                   "per level), norm and PReLU, residual 1x1 conv ``res``.")
UBlock = layer("UBlock", "proj pyramid exp final_norm out",
               "Original U-block: as :class:`UConvBlock` up to ``final_norm``, then ``exp`` (1x1 conv and "
               "norm), the residual, and ``out`` (norm and PReLU).")
TAC = layer("TAC", "input mean output norm",
            "Transform-average-concatenate: ``input``, ``mean`` and ``output`` layers and a GlobLN.")
GCBlock = layer("GCBlock", "tac ublock",
                "Group-communication block: TAC across the groups, then one U-ConvBlock shared by them.")
MaskHead = layer("MaskHead", "act conv",
                 "Mask logits: ``act`` (PReLU slope, ``None`` for the channel-axis head) then ``conv``.")
Model = layer("Model", "encoder norm bottleneck blocks reshape mask decoder unused",
              "A whole model: encoder, norm and bottleneck before the blocks, the blocks, the mask head "
              "(after ``reshape`` if any), the decoder, and a norm the forward pass leaves ``unused``.")


def map_tree(fn, tree):
    """``tree`` with every :class:`Slot` leaf replaced by ``fn(slot)``."""
    if isinstance(tree, Slot):
        return fn(tree)
    if is_dataclass(tree):
        return type(tree)(**{f.name: map_tree(fn, getattr(tree, f.name)) for f in fields(tree)})
    if isinstance(tree, tuple):
        return tuple(map_tree(fn, t) for t in tree)
    return tree


def slots(tree):
    """The :class:`Slot` leaves of ``tree``, in state-dict order."""
    found = []
    map_tree(found.append, tree)
    return found


def parameter_slots(variant, hp):
    """The :class:`Model` tree of ``variant`` with hyper-parameters ``hp``, a :class:`Slot` at every leaf."""
    check_hparams(variant, hp)
    a = architecture(variant)
    E, K = hp["enc_num_basis"], hp["enc_kernel_size"]
    C_out, C_in = hp["out_channels"], hp["in_channels"]
    Q, N, S = hp["upsampling_depth"], hp["num_blocks"], hp["num_sources"]
    q = a.prefix
    shared, final_shared = _shared_slope(a, "block"), _shared_slope(a, "final_norm")
    if a.block == "u_block":
        blocks = tuple(u_block_slots(f"{q}sm.{i}.", C_out, C_in, Q, a.norm, shared) for i in range(N))
    elif a.block == "uconv_block":
        blocks = tuple(uconv_block_slots(f"{q}sm.{i}.", C_out, C_in, Q, a.norm, shared, final_shared)
                       for i in range(N))
    else:
        blocks = tuple(gc_block_slots(f"{q}sm.{i}.", C_out, C_in, Q, hp["group_size"]) for i in range(N))
    if a.mask_head == "channel_axis":
        reshape = conv_slots(f"{q}reshape_before_masks", C_out, E) if C_out != E else None
        mask = MaskHead(None, Conv(Slot(f"{q}m.weight", (S, 1, E + 1, 1)), Slot(f"{q}m.bias", (S,))))
    else:
        reshape = None
        mask = MaskHead(_prelu(f"{q}mask_net.0.weight", C_out, shared=True), conv_slots(f"{q}mask_net.1", C_out, S * E))
    if a.decoder == "grouped":
        decoder = Conv(Slot(a.decoder_weight, (E * S, 1, K)), Slot(a.decoder_weight.replace("weight", "bias"), (S,)))
    elif a.decoder == "mixing":
        decoder = Conv(Slot(a.decoder_weight, (S * E, S, K)), None)
    else:
        decoder = Conv(Slot(a.decoder_weight, (E, 1, K)), None)
    encoder_bias = Slot(a.encoder_weight.replace("weight", "bias"), (E,)) if a.encoder_bias else None
    return Model(encoder=Conv(Slot(a.encoder_weight, (E, 1, K)), encoder_bias),
                 norm=norm_slots(f"{q}ln", E, a.norm), bottleneck=conv_slots(f"{q}{a.bottleneck}", E, C_out),
                 blocks=blocks, reshape=reshape, mask=mask, decoder=decoder,
                 unused=norm_slots(a.unused_norm, E, a.norm) if a.unused_norm else None)


def expected_shapes(variant, hp):
    """The state-dict tensors of ``variant`` with hyper-parameters ``hp``.

    Returns an ordered dict ``name -> shape`` where a shape is a tuple of ints,
    or ``(PRELU, C)`` for a PReLU slope that may be ``(1,)`` or ``(C,)``.
    """
    return {s.name: s.shape for s in slots(parameter_slots(variant, hp))}


def published_shapes(variant, hp):
    """:func:`expected_shapes` with every PReLU slope as the public code shapes it: name -> shape."""
    return {s.name: s.published or s.shape for s in slots(parameter_slots(variant, hp))}


def fill(tree, state_dict):
    """``tree`` with the array ``state_dict[slot.name]`` at each :class:`Slot` leaf."""
    return map_tree(lambda s: state_dict[s.name], tree)


def unflatten(variant, hp, state_dict):
    """The :class:`Model` tree of ``variant`` with the arrays of ``state_dict`` (name -> array) at its leaves."""
    return fill(parameter_slots(variant, hp), state_dict)


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


# --- the slots of each kind of layer, by state-dict name -------------------------------------

def _shared_slope(arch, role):
    """Does a block's PReLU of ``role`` (``"block"`` or ``"final_norm"``) share one slope in the
    public code of ``arch``?"""
    return not ({role, "block"} & set(arch.per_channel_prelus))


def _prelu(name, c, shared):
    return Slot(name, (PRELU, c), (1,) if shared else (c,))


def conv_slots(name, c_in, c_out):
    """A 1x1 Conv1d ``c_in -> c_out`` (``name.weight``, ``name.bias``)."""
    return Conv(Slot(f"{name}.weight", (c_out, c_in, 1)), Slot(f"{name}.bias", (c_out,)))


def norm_slots(name, c, kind):
    """A GroupNorm(1, C) (``weight``/``bias``) or GlobLN (``gamma``/``beta``) over ``c`` channels."""
    keys = ("weight", "bias") if kind == "groupnorm" else ("gamma", "beta")
    return Norm(*(Slot(f"{name}.{k}", (c,)) for k in keys))


def _linear_act(name, c_in, c_out):
    return LinearAct(Conv(Slot(f"{name}.0.weight", (c_out, c_in)), Slot(f"{name}.0.bias", (c_out,))),
                     _prelu(f"{name}.1.weight", c_out, shared=True))


def _block_front(p, C_out, C_in, Q, kind, shared):
    """The expansion and the depthwise pyramid that every U-block starts with."""
    proj = ConvNormAct(conv_slots(f"{p}proj_1x1.conv", C_out, C_in), norm_slots(f"{p}proj_1x1.norm", C_in, kind),
                       _prelu(f"{p}proj_1x1.act.weight", C_in, shared))
    pyramid = tuple(ConvNorm(Conv(Slot(f"{p}spp_dw.{k}.conv.weight", (C_in, 1, DEPTHWISE_KERNEL)),
                                  Slot(f"{p}spp_dw.{k}.conv.bias", (C_in,))),
                             norm_slots(f"{p}spp_dw.{k}.norm", C_in, kind)) for k in range(Q))
    return proj, pyramid


def _final_norm(p, C_in, kind, shared):
    return NormAct(norm_slots(f"{p}final_norm.norm", C_in, kind), _prelu(f"{p}final_norm.act.weight", C_in, shared))


def u_block_slots(p, C_out, C_in, Q, kind, shared=False):
    """Original U-block."""
    proj, pyramid = _block_front(p, C_out, C_in, Q, kind, shared)
    return UBlock(proj, pyramid,
                  ConvNorm(conv_slots(f"{p}conv_1x1_exp.conv", C_in, C_out),
                           norm_slots(f"{p}conv_1x1_exp.norm", C_out, kind)),
                  _final_norm(p, C_in, kind, shared),
                  NormAct(norm_slots(f"{p}module_act.norm", C_out, kind), _prelu(f"{p}module_act.act.weight", C_out, shared)))


def uconv_block_slots(p, C_out, C_in, Q, kind, shared=True, final_shared=True):
    """Improved U-ConvBlock."""
    proj, pyramid = _block_front(p, C_out, C_in, Q, kind, shared)
    return UConvBlock(proj, pyramid, _final_norm(p, C_in, kind, final_shared), conv_slots(f"{p}res_conv", C_in, C_out))


def gc_block_slots(p, C_out, C_in, Q, G):
    """Group-communication block: TAC across G groups (hidden size ``3 C_out / G``), then one shared
    U-ConvBlock on ``C_out / G`` channels."""
    return GCBlock(tac_slots(f"{p}TAC.", C_out // G), uconv_block_slots(f"{p}UBlock.", C_out // G, C_in // G, Q, "globln"))


def tac_slots(p, c):
    """TAC on groups of ``c`` channels, hidden size ``3c``."""
    h = 3 * c
    return TAC(_linear_act(f"{p}TAC_input", c, h), _linear_act(f"{p}TAC_mean", h, h),
               _linear_act(f"{p}TAC_output", 2 * h, c), norm_slots(f"{p}TAC_norm", c, "globln"))
