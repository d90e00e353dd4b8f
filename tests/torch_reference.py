"""PyTorch reference implementations of the five SuDoRM-RF variants, for the tests.

Written from the architecture in ``docs/architecture.md`` and ``docs/variants.md``; module and
parameter names follow the original code (https://github.com/etzinis/sudo_rm_rf, and Asteroid's
``asteroid/models/sudormrf.py``, https://github.com/asteroid-team/asteroid) so that ``state_dict()`` keys equal ``npsep.architectures.expected_shapes``.
Shapes in comments: ``B`` batch, ``T`` samples, ``E`` bases, ``L`` frames, ``S`` sources.

Also here: reading the original code's whole-model pickles without running their
classes (:func:`load_whole_model`, :func:`load_fixture`) and writing checkpoints the
way the original code (:func:`save_whole_model`) and Asteroid
(:func:`save_asteroid_package`) do.
"""
import copy
import json
import math
import pickle
import sys
import types
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

FIXTURES = Path(__file__).resolve().parent / "fixtures"


# --- building blocks -----------------------------------------------------------------

class GlobLN(nn.Module):
    """gamma[c] * (x - mean) / sqrt(var + 1e-8) + beta[c], statistics over all of (C, *)."""

    def __init__(self, channel_size):
        super().__init__()
        self.channel_size = channel_size
        self.gamma = nn.Parameter(torch.ones(channel_size))
        self.beta = nn.Parameter(torch.zeros(channel_size))

    def forward(self, x):                                             # (B, C, *)
        dims = list(range(1, x.dim()))
        mean = x.mean(dim=dims, keepdim=True)
        var = (x - mean).pow(2).mean(dim=dims, keepdim=True)
        normed = (x - mean) / (var + 1e-8).sqrt()
        return (self.gamma * normed.transpose(1, -1) + self.beta).transpose(1, -1)


def group_norm(channels):
    """GlobLN with keys weight/bias: the original code's normalisation."""
    return nn.GroupNorm(1, channels, eps=1e-8)


class ConvNormAct(nn.Module):
    """PReLU(norm(pointwise(x)))."""

    def __init__(self, c_in, c_out, norm, prelu):
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, 1)
        self.norm = norm(c_out)
        self.act = nn.PReLU(prelu)

    def forward(self, x):
        return self.act(self.norm(self.conv(x)))


class ConvNorm(nn.Module):
    """norm(pointwise(x))."""

    def __init__(self, c_in, c_out, norm):
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, 1)
        self.norm = norm(c_out)

    def forward(self, x):
        return self.norm(self.conv(x))


class NormAct(nn.Module):
    """PReLU(norm(x))."""

    def __init__(self, channels, norm, prelu):
        super().__init__()
        self.norm = norm(channels)
        self.act = nn.PReLU(prelu)

    def forward(self, x):
        return self.act(self.norm(x))


class DilatedConvNorm(nn.Module):
    """norm(depthwise 5-tap conv(x)), stride 1 or 2, zero padding 2."""

    def __init__(self, channels, stride, norm):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 5, stride=stride, padding=2, groups=channels)
        self.norm = norm(channels)

    def forward(self, x):                                             # (B, C, L) -> (B, C, ceil(L/stride))
        return self.norm(self.conv(x))


class _MultiResolution(nn.Module):
    """The U-shaped pyramid shared by both block kinds.

    d_0 = dw(u0), d_k = dw_stride2(d_{k-1}); then coarsest to finest d_{k-1} += up2(d_k).
    The original code adds up2(d_k) as is (its padding makes the lengths match);
    Asteroid crops it to the length of d_{k-1}.
    """
    crop_upsampled = False

    def _pyramid(self, c_in, depth, norm):
        self.depth = depth
        self.spp_dw = nn.ModuleList(DilatedConvNorm(c_in, 1 if k == 0 else 2, norm)
                                    for k in range(depth))
        if depth > 1:
            self.upsampler = nn.Upsample(scale_factor=2)

    def multires(self, u0):                                           # (B, C_in, L) -> (B, C_in, L)
        d = [self.spp_dw[0](u0)]
        for conv in self.spp_dw[1:]:
            d.append(conv(d[-1]))                                     # (B, C_in, ceil(L / 2**k))
        while len(d) > 1:
            up = self.upsampler(d.pop())
            d[-1] = d[-1] + (up[..., :d[-1].shape[-1]] if self.crop_upsampled else up)
        return d[0]


class UBlock(_MultiResolution):
    """Original U-block: module_act(x + conv_1x1_exp(final_norm(pyramid(proj_1x1(x)))))."""

    def __init__(self, c_out, c_in, depth):
        super().__init__()
        self.proj_1x1 = ConvNormAct(c_out, c_in, group_norm, c_in)
        self._pyramid(c_in, depth, group_norm)
        self.conv_1x1_exp = ConvNorm(c_in, c_out, group_norm)
        self.final_norm = NormAct(c_in, group_norm, c_in)
        self.module_act = NormAct(c_out, group_norm, c_out)

    def forward(self, x):                                             # (B, C_out, L)
        d0 = self.multires(self.proj_1x1(x))                          # (B, C_in, L)
        return self.module_act(self.conv_1x1_exp(self.final_norm(d0)) + x)


class UConvBlock(_MultiResolution):
    """Improved U-ConvBlock: x + res_conv(final_norm(pyramid(proj_1x1(x)))), GlobLN everywhere."""

    def __init__(self, c_out, c_in, depth, final_prelu=1):
        super().__init__()
        self.proj_1x1 = ConvNormAct(c_out, c_in, GlobLN, 1)
        self._pyramid(c_in, depth, GlobLN)
        self.final_norm = NormAct(c_in, GlobLN, final_prelu)
        self.res_conv = nn.Conv1d(c_in, c_out, 1)

    def forward(self, x):                                             # (B, C_out, L)
        d0 = self.multires(self.proj_1x1(x))                          # (B, C_in, L)
        return self.res_conv(self.final_norm(d0)) + x


class AsteroidUBlock(UBlock):
    crop_upsampled = True


class AsteroidUConvBlock(UConvBlock):
    """Asteroid's U-ConvBlock: final_norm's PReLU is per channel."""
    crop_upsampled = True

    def __init__(self, c_out, c_in, depth):
        super().__init__(c_out, c_in, depth, final_prelu=c_in)


class TAC(nn.Module):
    """Transform-average-concatenate across the G groups, at every (b, l)."""

    def __init__(self, n, hidden):
        super().__init__()
        self.TAC_input = nn.Sequential(nn.Linear(n, hidden), nn.PReLU())
        self.TAC_mean = nn.Sequential(nn.Linear(hidden, hidden), nn.PReLU())
        self.TAC_output = nn.Sequential(nn.Linear(2 * hidden, n), nn.PReLU())
        self.TAC_norm = GlobLN(n)

    def forward(self, x):                                             # (B, G, n, L)
        B, G, n, L = x.shape
        h = self.TAC_input(x.permute(0, 3, 1, 2))                     # (B, L, G, H)
        m = self.TAC_mean(h.mean(2, keepdim=True)).expand_as(h)       # (B, L, G, H)
        o = self.TAC_output(torch.cat([h, m], dim=-1))                # (B, L, G, n)
        o = self.TAC_norm(o.permute(0, 2, 3, 1).reshape(B * G, n, L))  # GlobLN per (b, g)
        return x + o.view(B, G, n, L)


class GCBlock(nn.Module):
    """Group-communication block: TAC across groups, then one U-ConvBlock shared by the groups."""
    pickled_as = "GC_UConvBlock"

    def __init__(self, c_out, c_in, depth, groups):
        super().__init__()
        self.num_group = groups
        self.TAC = TAC(c_out // groups, 3 * c_out // groups)
        self.UBlock = UConvBlock(c_out // groups, c_in // groups, depth)

    def forward(self, x):                                             # (B, C_out, L)
        B, C, L = x.shape
        y = self.TAC(x.view(B, self.num_group, C // self.num_group, L))
        return self.UBlock(y.view(B * self.num_group, C // self.num_group, L)).view(B, C, L)


def as_3d(x):
    return x.unsqueeze(1) if x.dim() == 2 else x                      # (B, T) -> (B, 1, T)


def pad_end(x, length):
    return F.pad(x, (0, length - x.shape[-1]))


def _ceil_to(t, n):
    return n * -(-t // n)


# --- the original code's three models ------------------------------------------------

class _OriginalCodeModel(nn.Module):
    """Hyper-parameters as plain attributes, as the original code's pickles carry them."""

    def __init__(self, out_channels, in_channels, num_blocks, upsampling_depth,
                 enc_kernel_size, enc_num_basis, num_sources):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_blocks = num_blocks
        self.upsampling_depth = upsampling_depth
        self.enc_kernel_size = enc_kernel_size
        self.enc_num_basis = enc_num_basis
        self.num_sources = num_sources

    def _decoder(self, groups, bias):
        E, K, S = self.enc_num_basis, self.enc_kernel_size, self.num_sources
        return nn.ConvTranspose1d(E * S, S, K, stride=K // 2, padding=K // 2,
                                  output_padding=K // 2 - 1, groups=groups, bias=bias)


class OriginalSuDORMRF(_OriginalCodeModel):
    """The original SuDoRM-RF: ReLU encoder with bias, GroupNorm U-blocks, channel-axis Conv2d masks."""
    pickled_as = "SuDORMRF"

    def __init__(self, **hp):
        super().__init__(**hp)
        E, K, S = self.enc_num_basis, self.enc_kernel_size, self.num_sources
        C_out, Q = self.out_channels, self.upsampling_depth
        self.lcm = math.lcm(K // 2, 2 ** Q)
        self.encoder = nn.Sequential(nn.Conv1d(1, E, K, stride=K // 2, padding=K // 2), nn.ReLU())
        self.ln = group_norm(E)
        self.l1 = nn.Conv1d(E, C_out, 1)
        self.sm = nn.Sequential(*(UBlock(C_out, self.in_channels, Q) for _ in range(self.num_blocks)))
        if C_out != E:
            self.reshape_before_masks = nn.Conv1d(C_out, E, 1)
        self.m = nn.Conv2d(1, S, (E + 1, 1), padding=(E - E // 2, 0))
        self.decoder = self._decoder(groups=S, bias=True)
        self.ln_mask_in = group_norm(E)                               # in the state dict, never used

    def forward(self, x):                                             # (B, 1, T) -> (B, S, T)
        x = as_3d(x)
        T = x.shape[-1]
        v = self.encoder(pad_end(x, _ceil_to(T, self.lcm)))           # (B, E, L)
        y = self.sm(self.l1(self.ln(v)))                              # (B, C_out, L)
        if self.out_channels != self.enc_num_basis:
            y = self.reshape_before_masks(y)                          # (B, E, L)
        z = self.m(y.unsqueeze(1))                                    # (B, S, E, L)
        masks = torch.sigmoid(z) if self.num_sources == 1 else z.softmax(dim=1)
        return self.decoder((masks * v.unsqueeze(1)).flatten(1, 2))[..., :T]


class _ImprovedBase(_OriginalCodeModel):
    """The improved and group-communication SuDoRM-RF: linear encoder, GlobLN, ReLU masks from a 1x1 conv, groups=1 decoder."""

    def __init__(self, hp, make_block):
        super().__init__(**hp)
        E, K, S = self.enc_num_basis, self.enc_kernel_size, self.num_sources
        C_out, Q = self.out_channels, self.upsampling_depth
        self.n_least_samples_req = K // 2 * 2 ** Q
        self.encoder = nn.Conv1d(1, E, K, stride=K // 2, padding=K // 2, bias=False)
        self.ln = GlobLN(E)
        self.bottleneck = nn.Conv1d(E, C_out, 1)
        self.sm = nn.Sequential(*(make_block() for _ in range(self.num_blocks)))
        self.mask_net = nn.Sequential(nn.PReLU(), nn.Conv1d(C_out, S * E, 1))
        self.decoder = self._decoder(groups=1, bias=False)
        self.mask_nl_class = nn.ReLU()

    def forward(self, x):                                             # (B, 1, T) -> (B, S, T)
        x = as_3d(x)
        T, n = x.shape[-1], self.n_least_samples_req
        v = self.encoder(pad_end(x, _ceil_to(T, n)))          # (B, E, L)
        y = self.sm(self.bottleneck(self.ln(v)))                      # (B, C_out, L)
        masks = self.mask_nl_class(self.mask_net(y).view(v.shape[0], self.num_sources,
                                                         self.enc_num_basis, -1))  # (B, S, E, L)
        return self.decoder((masks * v.unsqueeze(1)).flatten(1, 2))[..., :T]


class ImprovedSuDORMRF(_ImprovedBase):
    pickled_as = "SuDORMRF"

    def __init__(self, **hp):
        super().__init__(hp, lambda: UConvBlock(hp["out_channels"], hp["in_channels"],
                                                hp["upsampling_depth"]))


class GroupCommSuDORMRF(_ImprovedBase):
    pickled_as = "GroupCommSudoRmRf"

    def __init__(self, group_size, **hp):
        super().__init__(hp, lambda: GCBlock(hp["out_channels"], hp["in_channels"],
                                             hp["upsampling_depth"], group_size))
        self.in_audio_channels = 1


# --- Asteroid's two models -----------------------------------------------------------

class FreeFB(nn.Module):
    def __init__(self, n_filters, kernel_size):
        super().__init__()
        self._filters = nn.Parameter(nn.init.xavier_normal_(torch.empty(n_filters, 1, kernel_size)))


class PaddedEncoder(nn.Module):
    """Zero-pad the end to a multiple of lcm(K//2, 2**Q), then conv1d(filters, stride K//2, padding K//2)."""

    def __init__(self, n_filters, kernel_size, upsampling_depth):
        super().__init__()
        self.filterbank = FreeFB(n_filters, kernel_size)
        self.lcm = math.lcm(kernel_size // 2, 2 ** upsampling_depth)

    def forward(self, x):                                             # (B, 1, T) -> (B, E, L)
        h = self.filterbank._filters.shape[-1] // 2
        return F.conv1d(pad_end(x, _ceil_to(x.shape[-1], self.lcm)), self.filterbank._filters,
                        stride=h, padding=h)


class Decoder(nn.Module):
    """Each source decoded alone with the same filters (ConvTranspose1d E -> 1), then padded/cut to T."""

    def __init__(self, n_filters, kernel_size):
        super().__init__()
        self.filterbank = FreeFB(n_filters, kernel_size)

    def forward(self, spec, length):                                  # (B, S, E, L) -> (B, S, T)
        B, S, E, L = spec.shape
        h = self.filterbank._filters.shape[-1] // 2
        wav = F.conv_transpose1d(spec.reshape(B * S, E, L), self.filterbank._filters,
                                 stride=h, padding=h, output_padding=h - 1).view(B, S, -1)
        return pad_end(wav, length)


MASK_ACTIVATIONS = {"softmax": lambda: nn.Softmax(dim=1), "sigmoid": nn.Sigmoid, "relu": nn.ReLU}


class AsteroidSuDORMRFMasker(nn.Module):
    def __init__(self, E, S, C_out, N, Q, mask_act):
        super().__init__()
        self.ln = group_norm(E)
        self.l1 = nn.Conv1d(E, C_out, 1)
        self.sm = nn.Sequential(*(AsteroidUBlock(C_out, E, Q) for _ in range(N)))
        if C_out != E:
            self.reshape_before_masks = nn.Conv1d(C_out, E, 1)
        self.m = nn.Conv2d(1, S, (E + 1, 1), padding=(E - E // 2, 0))
        self.output_act = MASK_ACTIVATIONS[mask_act]()

    def forward(self, v):                                             # (B, E, L) -> (B, S, E, L)
        y = self.sm(self.l1(self.ln(v)))
        if hasattr(self, "reshape_before_masks"):
            y = self.reshape_before_masks(y)
        return self.output_act(self.m(y.unsqueeze(1)))


class AsteroidImprovedMasker(nn.Module):
    def __init__(self, E, S, C_out, N, Q, mask_act):
        super().__init__()
        self.ln = GlobLN(E)
        self.bottleneck = nn.Conv1d(E, C_out, 1)
        self.sm = nn.Sequential(*(AsteroidUConvBlock(C_out, E, Q) for _ in range(N)))
        self.mask_net = nn.Sequential(nn.PReLU(), nn.Conv1d(C_out, S * E, 1))
        self.output_act = MASK_ACTIVATIONS[mask_act]()

    def forward(self, v):                                             # (B, E, L) -> (B, S, E, L)
        y = self.mask_net(self.sm(self.bottleneck(self.ln(v))))
        return self.output_act(y.view(v.shape[0], -1, v.shape[1], v.shape[2]))


class AsteroidNet(nn.Module):
    """Asteroid's SuDORMRFNet and SuDORMRFImprovedNet: encoder (+ReLU for SuDORMRFNet), masker, per-source decoder, output length T.

    ``model_args`` holds the constructor arguments under Asteroid's names, as
    ``BaseEncoderMaskerDecoder.get_model_args`` reports them.
    """

    def __init__(self, variant, out_channels, in_channels, num_blocks, upsampling_depth,
                 enc_kernel_size, enc_num_basis, num_sources, mask_act):
        super().__init__()
        E, K, S, Q = enc_num_basis, enc_kernel_size, num_sources, upsampling_depth
        masker = AsteroidSuDORMRFMasker if variant == "asteroid_sudormrf" else AsteroidImprovedMasker
        relu = variant == "asteroid_sudormrf"
        self.encoder = PaddedEncoder(E, K, Q)
        self.masker = masker(E, S, out_channels, num_blocks, Q, mask_act)
        self.decoder = Decoder(E, K)
        self.enc_activation = nn.ReLU() if relu else nn.Identity()
        self.model_args = {"fb_name": "FreeFB", "n_filters": E, "kernel_size": K, "stride": K // 2,
                           "sample_rate": 8000, "in_chan": E, "n_src": S, "bn_chan": out_channels,
                           "num_blocks": num_blocks, "upsampling_depth": Q, "mask_act": mask_act,
                           "encoder_activation": "relu" if relu else None}

    def forward(self, x):                                             # (B, 1, T) -> (B, S, T)
        x = as_3d(x)
        v = self.enc_activation(self.encoder(x))                      # (B, E, L)
        return self.decoder(self.masker(v) * v.unsqueeze(1), x.shape[-1])


# --- factory -------------------------------------------------------------------------

MODELS = {"original": OriginalSuDORMRF, "improved": ImprovedSuDORMRF,
          "groupcomm": GroupCommSuDORMRF,
          "asteroid_sudormrf": lambda **hp: AsteroidNet("asteroid_sudormrf", **hp),
          "asteroid_improved": lambda **hp: AsteroidNet("asteroid_improved", **hp)}

HPARAMS = ("out_channels", "in_channels", "num_blocks", "upsampling_depth",
           "enc_kernel_size", "enc_num_basis", "num_sources")
EXTRA_HPARAMS = {"groupcomm": ("group_size",), "asteroid_sudormrf": ("mask_act",),
                 "asteroid_improved": ("mask_act",)}


def build(variant, hparams):
    """A randomly initialised model of ``variant``; ``hparams`` uses npsep.architectures's names."""
    names = HPARAMS + EXTRA_HPARAMS.get(variant, ())
    return MODELS[variant](**{k: hparams[k] for k in names})


# --- reading whole-model pickles without running them --------------------------------

class _Inert:
    """Stand-in for a pickled module class: it only keeps the pickled ``__dict__``."""


_SAFE_GLOBALS = {("collections", "OrderedDict"), ("builtins", "set"), ("__builtin__", "set"),
                 ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_parameter")}


class _InertUnpickler(pickle.Unpickler):
    """Maps sudo_rm_rf.* and torch.nn.modules.* classes to inert stubs; refuses anything unknown."""
    _stubs = {}

    def find_class(self, module, name):
        if module.startswith(("sudo_rm_rf.", "torch.nn.modules.")):
            key = (module, name)
            if key not in self._stubs:
                self._stubs[key] = type(name, (_Inert,), {"__module__": module})
            return self._stubs[key]
        if (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")


inert_pickle = types.ModuleType("inert_pickle")
inert_pickle.Unpickler = _InertUnpickler
inert_pickle.load = pickle.load


def read_whole_model(path):
    """The root object of a whole-model pickle, as a tree of inert stubs."""
    return torch.load(path, map_location="cpu", weights_only=False, pickle_module=inert_pickle)


def stub_state_dict(stub, prefix=""):
    """What ``state_dict()`` of the pickled module would return, from its ``_parameters`` trees."""
    d = stub.__dict__
    skip = d.get("_non_persistent_buffers_set", set())
    state = {prefix + k: v.detach() for k, v in d["_parameters"].items() if v is not None}
    state.update({prefix + k: v for k, v in d["_buffers"].items() if v is not None and k not in skip})
    for name, child in d["_modules"].items():
        if child is not None:
            state.update(stub_state_dict(child, f"{prefix}{name}."))
    return state


def load_whole_model(path, variant, hparams):
    """Our module of ``variant`` holding the weights of a whole-model pickle (strict load)."""
    model = build(variant, hparams)
    model.load_state_dict(stub_state_dict(read_whole_model(path)), strict=True)
    return model.eval()


def load_fixture(name):
    """``(model, x, y)`` of a golden fixture: our module with its weights, input, original output."""
    entry = json.loads((FIXTURES / "MANIFEST.json").read_text())[name]
    model = load_whole_model(FIXTURES / f"{name}.pt", entry["variant"], entry["config"])
    with np.load(FIXTURES / f"{name}.io.npz") as io:
        return model, torch.from_numpy(io["x"]), torch.from_numpy(io["y"])


# --- writers ---------------------------------------------------------------------------

ORIGINAL_MODULES = {"original": "sudo_rm_rf.dnn.models.sudormrf",
                    "improved": "sudo_rm_rf.dnn.models.improved_sudormrf",
                    "groupcomm": "sudo_rm_rf.dnn.models.groupcomm_sudormrf_v2"}


def save_whole_model(model, path, variant):
    """``torch.save(model)`` as the original code writes it.

    A copy of ``model`` gets, for each of our classes, a subclass named as the
    original class (``pickled_as`` or the same name) in the original module path,
    which exists in ``sys.modules`` only while saving.
    """
    twin = copy.deepcopy(model)
    name = ORIGINAL_MODULES[variant]
    fake = types.ModuleType(name)
    for module in twin.modules():
        cls = type(module)
        if cls.__module__ == __name__:
            alias = getattr(cls, "pickled_as", cls.__name__)
            if not hasattr(fake, alias):
                setattr(fake, alias, type(alias, (cls,), {"__module__": name, "__qualname__": alias}))
            module.__class__ = getattr(fake, alias)
    parts = name.split(".")
    packages = {".".join(parts[:i]): types.ModuleType(".".join(parts[:i])) for i in range(1, len(parts))}
    registered = {**packages, name: fake}
    saved = {k: sys.modules[k] for k in registered if k in sys.modules}
    sys.modules.update(registered)
    try:
        torch.save(twin, path)
    finally:
        for k in registered:
            del sys.modules[k]
        sys.modules.update(saved)


def save_state_dict(model, path):
    torch.save(model.state_dict(), path)


ASTEROID_MODEL_NAMES = {"asteroid_sudormrf": "SuDORMRFNet", "asteroid_improved": "SuDORMRFImprovedNet"}


def save_asteroid_package(model, path, variant):
    """An Asteroid model package as a recipe publishes it.

    ``BaseModel.serialize()`` gives model_name, state_dict, model_args and
    infos.software_versions; the recipe adds the dataset's ``get_infos()``
    (dataset, task, licenses) at the top level and ``save_publishable`` adds
    recipe_name, training_config and final_metrics to infos.  Asteroid's
    ``_Padder`` wraps the encoder and also registers its filterbank, so the
    encoder filters are saved twice, first as ``encoder.encoder.filterbank._filters``.
    """
    state = model.state_dict()
    state = {"encoder.encoder.filterbank._filters": state["encoder.filterbank._filters"], **state}
    infos = {"software_versions": {"torch_version": str(torch.__version__),
                                   "pytorch_lightning_version": "1.9.5",
                                   "asteroid_version": "0.7.0"},
             "recipe_name": "SuDORMRFNet", "training_config": {"data": {"sample_rate": 8000}},
             "final_metrics": {"si_sdr": 0.0}}
    licenses = [{"title": "WHAM!", "title_link": "http://wham.whisper.ai/", "author": "Whisper.ai",
                 "author_link": "https://whisper.ai/", "license": "CC BY-NC 4.0",
                 "license_link": "https://creativecommons.org/licenses/by-nc/4.0/",
                 "non_commercial": True}]
    torch.save({"model_name": ASTEROID_MODEL_NAMES[variant], "state_dict": state,
                "model_args": dict(model.model_args), "infos": infos,
                "dataset": "WHAM", "task": "sep_clean", "licenses": licenses}, path)
