"""npsep against PyTorch, whole model: the golden fixtures and a grid of configurations.

Tolerance: relative max error ``max|npsep - torch| / max|torch| <= 1e-4``. Both
compute in float32; they differ by rounding only (summation order inside the
GEMMs and convolutions, and ``(x - mu) * (gamma / sd)`` for ``gamma * (x - mu) / sd``),
which is ~1e-7 per operation and grows through the normalised blocks to ~1e-6 on
these models (the fixtures come out at ~4e-7), so 1e-4 leaves two decades of
margin while any real mistake (a wrong tap, pad, norm or order) gives O(1) errors.
"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import npsep
from npsep import architectures
from conftest import TORCH_BLOCKED
from torch_reference import (build, load_fixture, save_asteroid_package, save_state_dict,
                             save_whole_model)
from weights_convert import convert

FIXTURES = Path(__file__).parent / "fixtures"
RTOL = 1e-4


def rel_err(actual, expected):
    expected = np.asarray(expected, dtype=np.float64)
    return np.abs(np.asarray(actual, dtype=np.float64) - expected).max() / np.abs(expected).max()


# --- the golden fixtures, converted where torch cannot be imported -----------------------------

NO_TORCH_CONVERT = TORCH_BLOCKED + """
from npsep.cli import main
code = main(["convert", sys.argv[1], sys.argv[2]])
assert not any(m.split(".")[0] == "torch" for m in sys.modules)
sys.exit(code)
"""


@pytest.mark.parametrize("name", ["original_tiny", "improved_tiny", "groupcomm_tiny"])
def test_fixture_converted_without_torch_reproduces_original_output(name, tmp_path):
    dst = tmp_path / f"{name}.npz"
    run = subprocess.run([sys.executable, "-c", NO_TORCH_CONVERT, str(FIXTURES / f"{name}.pt"), str(dst)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    manifest = json.loads((FIXTURES / "MANIFEST.json").read_text())[name]
    model = npsep.load(dst)
    assert model.variant == manifest["variant"]
    assert {k: model.hparams[k] for k in manifest["config"]} == manifest["config"]
    with np.load(FIXTURES / f"{name}.io.npz") as io:
        x, y = io["x"], io["y"]
    out = model.forward(x)
    assert out.shape == y.shape
    assert rel_err(out, y) <= RTOL


@pytest.mark.parametrize("name", ["original_tiny", "improved_tiny", "groupcomm_tiny"])
def test_own_torch_modules_and_npsep_agree_on_fixture(name, tmp_path):
    """Our torch modules (tests/torch_reference.py) reproduce the fixture, and npsep matches them too."""
    module, x, y = load_fixture(name)
    with torch.no_grad():
        ours = module(x).numpy()
    assert rel_err(ours, y.numpy()) <= 1e-5
    convert(FIXTURES / f"{name}.pt", tmp_path / "m.npz")
    assert rel_err(npsep.load(tmp_path / "m.npz").forward(x.numpy()), ours) <= RTOL


# --- a grid of configurations, through every kind of checkpoint --------------------------------

def grid():
    """Configurations covering S = 1..4, Q = 1..5, several K and E, C_in != C_out, T from 1 to 40000,
    batch 1 and 3. Original-code variants need at most one factor 2 in K//2 (their upsample-add has
    no crop; the original code fails otherwise); the Asteroid ones crop, so they also get K = 9, 17."""
    K_orig, K_ast = [21, 5, 11, 13, 21], [9, 21, 17, 5, 11]
    E_values, T_values = [16, 8, 32, 24, 12], [1, 161, 3201, 40000, 77]
    cases = []
    for variant in architectures.VARIANTS:
        for i in range(5):
            S, Q = 1 + (i + len(cases)) % 4, 1 + i
            E = E_values[i]
            hp = dict(out_channels=8 + 4 * (i % 2), in_channels=16 if i % 2 else 12, num_blocks=1 + i % 2,
                      upsampling_depth=Q, enc_kernel_size=(K_ast if variant.startswith("asteroid") else K_orig)[i],
                      enc_num_basis=E, num_sources=S)
            if variant == "groupcomm":
                hp.update(out_channels=8, in_channels=16, group_size=[1, 2, 4, 8, 2][i])
            if variant.startswith("asteroid"):
                hp["in_channels"] = E
                hp["mask_act"] = ["softmax", "relu", "sigmoid", architectures.DEFAULT_MASK_ACT[variant], "softmax"][i]
            cases.append(pytest.param(variant, hp, T_values[i], 3 if i % 2 else 1, id=f"{variant}-{i}"))
    return cases


def write_checkpoints(variant, module, folder):
    """Every kind of checkpoint a user may hold for this variant."""
    paths = {"state-dict": folder / "state_dict.pt"}
    save_state_dict(module, paths["state-dict"])
    if variant.startswith("asteroid"):
        paths["asteroid"] = folder / "package.pth"
        save_asteroid_package(module, paths["asteroid"], variant)
    else:
        paths["whole-model"] = folder / "model.pt"
        save_whole_model(module, paths["whole-model"], variant)
    return paths


@pytest.mark.parametrize("variant, hp, T, batch", grid())
def test_npsep_matches_torch_over_grid(variant, hp, T, batch, tmp_path):
    torch.manual_seed(T + batch)
    module = build(variant, hp).eval()
    with torch.no_grad():  # random init leaves norms at identity: perturb every parameter
        for p in module.parameters():
            p.add_(0.1 * torch.randn_like(p))
    x = np.random.default_rng(T).standard_normal((batch, 1, T)).astype(np.float32)
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    for kind, path in write_checkpoints(variant, module, tmp_path).items():
        overrides = {"variant": variant, "mask_act": hp.get("mask_act")} if kind == "state-dict" else {}
        if variant == "groupcomm" and kind == "state-dict":
            overrides["group_size"] = hp["group_size"]
        config = convert(path, tmp_path / f"{kind}.npz", **overrides)
        assert {k: config["hparams"][k] for k in hp} == hp, kind
        out = npsep.load(tmp_path / f"{kind}.npz").forward(x)
        assert out.shape == (batch, hp["num_sources"], T)
        assert rel_err(out, expected) <= RTOL, kind


# --- the inference recipe ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["improved_tiny", "groupcomm_tiny"])
def test_separate_applies_the_authors_recipe(name, tmp_path):
    """The authors' inference recipe (``docs/recipe.md``), computed with torch: standardise (torch.std, unbiased), forward, rescale;
    mixture consistency for group-communication checkpoints."""
    module, x, _ = load_fixture(name)
    convert(FIXTURES / f"{name}.pt", tmp_path / "m.npz")
    model = npsep.load(tmp_path / "m.npz")
    x = x[:, 0] * 3 + 0.5  # (B, T), not zero-mean, not unit-variance
    mean, std = x.mean(-1, keepdim=True), x.std(-1, keepdim=True)
    with torch.no_grad():
        s = module(((x - mean) / (std + 1e-9)).unsqueeze(1)) * std.unsqueeze(1) + mean.unsqueeze(1)
    if name.startswith("groupcomm"):
        assert model.mixture_consistency
        s = s + (x.unsqueeze(1) - s.sum(1, keepdim=True)) / s.shape[1]
        np.testing.assert_allclose(model.separate(x.numpy()).sum(1), x.numpy(), rtol=0, atol=1e-4)
    assert rel_err(model.separate(x.numpy()), s.numpy()) <= RTOL


def test_forward_accepts_every_documented_shape(tmp_path):
    convert(FIXTURES / "improved_tiny.pt", tmp_path / "m.npz")
    model = npsep.load(tmp_path / "m.npz")
    with np.load(FIXTURES / "improved_tiny.io.npz") as io:
        x = io["x"]
    full = model.forward(x)
    np.testing.assert_array_equal(model.forward(x[:, 0]), full)
    np.testing.assert_array_equal(model.forward(x[1, 0]), full[1:])
    np.testing.assert_array_equal(model.forward(x.astype(np.float64)), full)
    for bad in (np.zeros((2, 2, 5), np.float32), np.zeros((1, 0), np.float32), np.array([1.0, np.nan])):
        with pytest.raises(ValueError):
            model.forward(bad)
