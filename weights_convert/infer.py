"""Which SuDoRM-RF variant a state dict holds, and its hyper-parameters, read from its tensors.

Every hyper-parameter of :data:`npsep.layout.HPARAMS` (and ``group_size``) is
visible in some tensor's shape or in how many numbered sub-modules there are;
:func:`infer_hparams` reads each from one place, and
:func:`weights_convert.match.select_tensors` then checks *every* tensor
against :func:`npsep.layout.expected_shapes`, so an inconsistent file is
caught there. Only ``mask_act`` (Asteroid) cannot be read from shapes.
"""
import re

from npsep.errors import ConvertError

_FAMILIES = {
    # variant: (encoder weight (E, 1, K), 1x1 conv whose rows are C_out, prefix of the masker)
    "original": ("encoder.0.weight", "l1.weight", ""),
    "improved": ("encoder.weight", "bottleneck.weight", ""),
    "groupcomm": ("encoder.weight", "bottleneck.weight", ""),
    "asteroid_sudormrf": ("encoder.filterbank._filters", "masker.l1.weight", "masker."),
    "asteroid_improved": ("encoder.filterbank._filters", "masker.bottleneck.weight", "masker."),
}


def detect_variant(tensors):
    """The variant whose tensor names ``tensors`` has (a dict name -> array)."""
    names = set(tensors)
    if {"encoder.0.weight", "l1.weight"} <= names:
        return "original"
    if {"encoder.weight", "bottleneck.weight"} <= names:
        grouped = any(n.startswith(("sm.0.TAC.", "sm.0.UBlock.")) for n in names)
        return "groupcomm" if grouped else "improved"
    if "masker.l1.weight" in names:
        return "asteroid_sudormrf"
    if "masker.bottleneck.weight" in names:
        return "asteroid_improved"
    sample = ", ".join(repr(n) for n in list(tensors)[:3]) or "none"
    raise ConvertError(f"not a SuDoRM-RF model: no variant has these tensors (first: {sample})")


def infer_hparams(variant, tensors):
    """The hyper-parameters of ``variant`` that the shapes of ``tensors`` show (no ``mask_act``)."""
    encoder, bottleneck, masker = _FAMILIES[variant]
    if variant.startswith("asteroid") and encoder not in tensors:
        raise ConvertError(f"no {encoder!r}: npsep needs Asteroid's learned ('free') filterbank")
    E, _, K = _shape(tensors, encoder, 3)
    C_out = _shape(tensors, bottleneck, 3)[0]
    block = f"{masker}sm.0." + ("UBlock." if variant == "groupcomm" else "")
    hp = {"out_channels": C_out,
          "in_channels": _shape(tensors, f"{block}proj_1x1.conv.weight", 3)[0],
          "num_blocks": _count(tensors, f"{masker}sm."),
          "upsampling_depth": _count(tensors, f"{block}spp_dw."),
          "enc_kernel_size": K, "enc_num_basis": E,
          "num_sources": _num_sources(variant, tensors, E)}
    if variant == "groupcomm":
        hp["group_size"] = _group_size(tensors, C_out)
        hp["in_channels"] *= hp["group_size"]
    return hp


def _num_sources(variant, tensors, E):
    """S: from the mask conv (original kinds), the decoder (improved kinds) or the mask rows."""
    if variant == "original":
        return _shape(tensors, "m.weight", 4)[0]
    if variant == "asteroid_sudormrf":
        return _shape(tensors, "masker.m.weight", 4)[0]
    if variant == "asteroid_improved":
        return _shape(tensors, "masker.mask_net.1.weight", 3)[0] // max(E, 1)
    return _shape(tensors, "decoder.weight", 3)[1]


def _group_size(tensors, C_out):
    """G = C_out / (C_out / G), the second read off the TAC input layer ``(3 C_out/G, C_out/G)``."""
    name = "sm.0.TAC.TAC_input.0.weight"
    per_group = _shape(tensors, name, 2)[1]
    if per_group == 0 or C_out % per_group:
        raise ConvertError(f"tensor {name!r} has {per_group} input features, which does not "
                           f"divide out_channels {C_out}")
    return C_out // per_group


def _shape(tensors, name, ndim):
    """The shape of a tensor the inference relies on; it must exist and have ``ndim`` axes."""
    if name not in tensors:
        raise ConvertError(f"tensor {name!r} is missing")
    shape = tuple(tensors[name].shape)
    if len(shape) != ndim:
        raise ConvertError(f"tensor {name!r} has shape {shape}, expected {ndim} dimensions")
    return shape


def _count(tensors, prefix):
    """How many numbered sub-modules ``<prefix><i>.`` there are (1 + the largest ``i``)."""
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    found = [int(m.group(1)) for m in map(pattern.match, tensors) if m]
    return max(found) + 1 if found else 0
