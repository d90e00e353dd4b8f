"""Which SuDoRM-RF variant a state dict holds, and its hyper-parameters, read from its tensors.

Every hyper-parameter of :data:`npsep.architectures.HPARAMS` (and ``group_size``) is
visible in some tensor's shape or in how many numbered sub-modules there are;
:func:`infer_hparams` reads each from one place, and
:func:`weights_convert.match.select_tensors` then checks *every* tensor
against :func:`npsep.architectures.expected_shapes`, so an inconsistent file is
caught there. Only ``mask_act`` (Asteroid) cannot be read from shapes.
"""
import re

from npsep.architectures import ARCHITECTURES, architecture
from npsep.errors import ConvertError

FILTERBANK = ".filterbank._filters"
"""How Asteroid names the tensor of a free filterbank (encoder or decoder)."""


def detect_variant(tensors):
    """The variant whose tensor names ``tensors`` has (a dict name -> array): the one whose
    :attr:`~npsep.architectures.Architecture.detected_by` prefixes all occur, the most specific
    if several do."""
    names = list(tensors)
    found = [a for a in ARCHITECTURES.values()
             if all(any(n.startswith(prefix) for n in names) for prefix in a.detected_by)]
    if found:
        return max(found, key=lambda a: len(a.detected_by)).name
    sample = ", ".join(repr(n) for n in names[:3]) or "none"
    raise ConvertError(f"not a SuDoRM-RF model: no variant has these tensors (first: {sample})")


def infer_hparams(variant, tensors):
    """The hyper-parameters of ``variant`` that the shapes of ``tensors`` show (no ``mask_act``)."""
    arch = architecture(variant)
    encoder, masker = arch.encoder_weight, arch.prefix
    if arch.encoder_weight.endswith(FILTERBANK) and encoder not in tensors:
        raise ConvertError(f"no {encoder!r}: npsep needs Asteroid's learned ('free') filterbank")
    E, _, K = _shape(tensors, encoder, 3)
    C_out = _shape(tensors, f"{masker}{arch.bottleneck}.weight", 3)[0]
    grouped = "group_size" in arch.extra_hparams
    block = f"{masker}sm.0." + ("UBlock." if grouped else "")
    hp = {"out_channels": C_out,
          "in_channels": _shape(tensors, f"{block}proj_1x1.conv.weight", 3)[0],
          "num_blocks": _count(tensors, f"{masker}sm."),
          "upsampling_depth": _count(tensors, f"{block}spp_dw."),
          "enc_kernel_size": K, "enc_num_basis": E,
          "num_sources": _num_sources(arch, tensors, E)}
    if grouped:
        hp["group_size"] = _group_size(tensors, C_out)
        hp["in_channels"] *= hp["group_size"]
    return hp


def _num_sources(arch, tensors, E):
    """S: from the channel-axis mask conv ``(S, 1, E+1, 1)``, else from the decoder's
    ``(S*E, S, K)`` when it mixes the sources, else from the mask conv's ``S*E`` rows."""
    if arch.mask_head == "channel_axis":
        return _shape(tensors, f"{arch.prefix}m.weight", 4)[0]
    if arch.decoder == "mixing":
        return _shape(tensors, arch.decoder_weight, 3)[1]
    return _shape(tensors, f"{arch.prefix}mask_net.1.weight", 3)[0] // max(E, 1)


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
