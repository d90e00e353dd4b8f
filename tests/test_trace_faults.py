"""Fault localisation: a PyTorch model with one deliberate mistake, traced with forward hooks and
compared with npsep's oracle trace by ``npsep compare``, is reported with exactly the module that
holds the mistake as the first divergence (exit status 1), and the unchanged model passes."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from npsep.cli import main
from npsep.parity import tracefile
from npsep.parity.trace import trace
from npsep.torch_recorder import record
from trace_cases import npsep_model, torch_case


def flip_stride2_padding(module):
    """Pad the stride-2 depthwise conv with 3 zeros before and 1 after instead of 2 and 2."""
    conv = module.sm[1].spp_dw[2].conv
    conv.padding = (0,)
    conv.register_forward_pre_hook(lambda m, inputs: (F.pad(inputs[0], (3, 1)),))


def globln_eps(module):
    """A GlobLN with eps 1e-3 instead of 1e-8 (a common default in other toolkits)."""
    norm = module.sm[0].final_norm.norm

    def forward(x):
        mean = x.mean(dim=(1, 2), keepdim=True)
        var = (x - mean).pow(2).mean(dim=(1, 2), keepdim=True)
        return norm.gamma[:, None] * (x - mean) / (var + 1e-3).sqrt() + norm.beta[:, None]
    norm.forward = forward


def groupnorm_eps(module):
    """GroupNorm with eps 1e-3 instead of the model's 1e-8 (PyTorch's default 1e-5 changes this
    block by less than 1e-4 relative: where the variance is O(1), an eps is invisible below it)."""
    module.sm[1].proj_1x1.norm.eps = 1e-3


def prelu_slope(module):
    """One block's PReLU with a slope of 0.2 everywhere instead of the trained ones."""
    with torch.no_grad():
        module.sm[1].UBlock.final_norm.act.weight.fill_(0.2)


def encoder_shift(module):
    """The encoder fed the input one sample late (padding on the wrong side by one)."""
    module.encoder.register_forward_pre_hook(lambda m, inputs: (F.pad(inputs[0], (1, 0))[..., :-1],))


def mask_softmax_axis(module):
    """The mask softmax over the bases instead of over the sources."""
    module.masker.output_act.dim = 2


def residual_bias_dropped(module):
    """The residual 1x1 conv of the second block without its bias."""
    with torch.no_grad():
        module.sm[1].res_conv.bias.zero_()


def decoder_bias_dropped(module):
    """The grouped decoder without its per-source bias."""
    with torch.no_grad():
        module.decoder.bias.zero_()


FAULTS = [
    ("improved_tiny", flip_stride2_padding, "sm.1.spp_dw.2.conv"),
    ("improved_tiny", globln_eps, "sm.0.final_norm.norm"),
    ("original_tiny", groupnorm_eps, "sm.1.proj_1x1.norm"),
    ("groupcomm_tiny", prelu_slope, "sm.1.UBlock.final_norm.act"),
    ("asteroid_improved", encoder_shift, "encoder"),
    ("asteroid_sudormrf", mask_softmax_axis, "masker.output_act"),
    ("improved_tiny", residual_bias_dropped, "sm.1.res_conv"),
    ("original_tiny", decoder_bias_dropped, "decoder"),
]


def traces(case, fault, folder):
    """npsep's oracle trace of the healthy model and the torch trace of the faulty one, as files."""
    variant, hp, module, x = torch_case(case)
    npsep_layers = trace(variant, hp, npsep_model(variant, hp, module).tensors, x[:, 0].numpy())
    tracefile.save(folder / "npsep.npz", npsep_layers, {"source": "npsep"}, x.numpy())
    if fault:
        fault(module)
    record(module, x, folder / "torch.npz")
    return folder / "npsep.npz", folder / "torch.npz"


@pytest.mark.parametrize("case, fault, layer", FAULTS, ids=[f[1].__name__ for f in FAULTS])
def test_compare_names_the_faulty_module_first(case, fault, layer, tmp_path, capsys):
    a, b = traces(case, fault, tmp_path)
    assert main(["compare", str(a), str(b)]) == 1
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1].endswith(f"first divergence: {layer}")
    assert f"{layer} " in next(line for line in out.splitlines() if "<- first divergence" in line)
    assert main(["compare", str(a), str(b), "--json"]) == 1
    import json
    report = json.loads(capsys.readouterr().out)
    assert report["first_divergence"] == layer
    rows = [r["name"] for r in report["layers"]]
    assert all(r["ok"] for r in report["layers"][:rows.index(layer)])


@pytest.mark.parametrize("case", sorted({f[0] for f in FAULTS}))
def test_compare_passes_the_unchanged_model(case, tmp_path, capsys):
    a, b = traces(case, None, tmp_path)
    assert main(["compare", str(a), str(b)]) == 0
    assert "common layers within relative 0.0001" in capsys.readouterr().out


def test_compare_reports_a_shape_change_as_the_divergence(tmp_path, capsys):
    a, _ = traces("improved_tiny", None, tmp_path)
    layers, meta = tracefile.load(a)
    layers["sm.0.proj_1x1.norm"] = layers["sm.0.proj_1x1.norm"][..., :-1]
    tracefile.save(tmp_path / "cut.npz", layers, meta, np.zeros(1))
    assert main(["compare", str(a), str(tmp_path / "cut.npz")]) == 1
    assert capsys.readouterr().out.strip().endswith("first divergence: sm.0.proj_1x1.norm")
