"""The PyTorch reference modules against the golden fixtures, npsep.architectures, and their own writers."""
import pickletools
import zipfile

import pytest
import torch

from conftest import valid_hparams
from npsep import architectures
from torch_reference import (FIXTURES, build, load_fixture, load_whole_model, read_whole_model,
                             save_asteroid_package, save_whole_model, stub_state_dict)

FIXTURE_VARIANTS = {"original_tiny": "original", "improved_tiny": "improved",
                    "groupcomm_tiny": "groupcomm"}
TINY = dict(out_channels=16, in_channels=32, num_blocks=2, upsampling_depth=3,
            enc_kernel_size=21, enc_num_basis=32, num_sources=2)


def hparams(variant, **changes):
    return valid_hparams(variant, {**TINY, **changes}, group_size=4)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", sorted(FIXTURE_VARIANTS))
def test_reproduces_fixture(name):
    # Our modules run the same float32 PyTorch operations as the original code, in the
    # same order, on the same weights; only rounding (a different summation order inside
    # a kernel at worst) may differ, far below 1e-5 of the output scale.
    model, x, y = load_fixture(name)
    with torch.no_grad():
        y_hat = model(x)
    assert y_hat.shape == y.shape
    assert ((y_hat - y).abs().max() / y.abs().max()).item() <= 1e-5


@pytest.mark.parametrize("variant", architectures.VARIANTS)
@pytest.mark.parametrize("changes", [{}, dict(out_channels=32), dict(upsampling_depth=1, num_blocks=1),
                                     dict(enc_num_basis=16, num_sources=3, enc_kernel_size=9)])
def test_state_dict_matches_layout(variant, changes):
    hp = hparams(variant, **changes)
    expected = architectures.expected_shapes(variant, hp)
    published = architectures.published_shapes(variant, hp)  # PReLU slopes as the public code has them
    actual = {k: tuple(v.shape) for k, v in build(variant, hp).state_dict().items()}
    assert set(actual) == set(expected)
    for key, shape in expected.items():
        assert architectures.shape_matches(shape, actual[key]), key
        assert actual[key] == published[key], key


def pickled_globals(path):
    with zipfile.ZipFile(path) as z:
        data = z.read(next(n for n in z.namelist() if n.endswith("/data.pkl")))
    return {arg for op, arg, _ in pickletools.genops(data) if op.name == "GLOBAL"}


def pickled_tree(stub, path="model"):
    """(path, class, plain attribute names, parameter shapes) of every pickled module."""
    d = stub.__dict__
    plain = sorted(k for k in d if not k.startswith("_"))
    params = {k: None if v is None else tuple(v.shape) for k, v in d["_parameters"].items()}
    rows = [(path, f"{type(stub).__module__}.{type(stub).__name__}", plain, params)]
    for name, child in d["_modules"].items():
        rows += pickled_tree(child, f"{path}.{name}")
    return rows


@pytest.mark.parametrize("name", sorted(FIXTURE_VARIANTS))
def test_whole_model_writer_round_trip(name, tmp_path):
    variant = FIXTURE_VARIANTS[name]
    fixture, _, _ = load_fixture(name)
    hp = {k: getattr(fixture, k) for k in architectures.HPARAMS}
    if variant == "groupcomm":
        hp["group_size"] = fixture.sm[0].num_group
    torch.manual_seed(1)
    model = build(variant, hp).eval()
    path = tmp_path / "model.pt"
    save_whole_model(model, path, variant)

    fixture_path = FIXTURES / f"{name}.pt"
    assert pickled_globals(path) == pickled_globals(fixture_path)
    assert pickled_tree(read_whole_model(path)) == pickled_tree(read_whole_model(fixture_path))

    loaded = load_whole_model(path, variant, hp)
    x = torch.randn(2, 1, 1234)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


@pytest.mark.parametrize("variant", ["asteroid_sudormrf", "asteroid_improved"])
def test_asteroid_package_round_trip(variant, tmp_path):
    torch.manual_seed(2)
    hp = hparams(variant)
    model = build(variant, hp).eval()
    path = tmp_path / "model.pth"
    save_asteroid_package(model, path, variant)
    package = torch.load(path, weights_only=True)
    assert package["model_name"] == {"asteroid_sudormrf": "SuDORMRFNet",
                                     "asteroid_improved": "SuDORMRFImprovedNet"}[variant]
    assert package["model_args"]["n_filters"] == hp["enc_num_basis"]
    state = package["state_dict"]
    assert list(state)[:2] == ["encoder.encoder.filterbank._filters", "encoder.filterbank._filters"]
    assert torch.equal(state.pop("encoder.encoder.filterbank._filters"), state["encoder.filterbank._filters"])
    loaded = build(variant, hp).eval()
    loaded.load_state_dict(state, strict=True)
    x = torch.randn(1, 1, 999)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_stub_state_dict_of_fixture_is_complete():
    model, _, _ = load_fixture("original_tiny")
    state = stub_state_dict(read_whole_model(FIXTURES / "original_tiny.pt"))
    assert set(state) == set(model.state_dict())


CASES = [(v, {}) for v in architectures.VARIANTS] + [
    (v, dict(num_sources=1, mask_act=act)) for v in ("asteroid_sudormrf", "asteroid_improved")
    for act in architectures.MASK_ACTS] + [
    # hop 4 with Q=3: only Asteroid's crop of the upsampled tensor keeps odd lengths working
    (v, dict(enc_kernel_size=9)) for v in ("asteroid_sudormrf", "asteroid_improved")] + [
    ("original", dict(num_sources=1)), ("improved", dict(num_sources=3, upsampling_depth=1))]


@pytest.mark.parametrize("variant,changes", CASES)
def test_any_length(variant, changes):
    hp = hparams(variant, **changes)
    model = build(variant, hp).eval()
    S = hp["num_sources"]
    with torch.no_grad():
        for T in (1, 2, 7, 80, 161, 1001):
            assert model(torch.randn(2, 1, T)).shape == (2, S, T)
            assert model(torch.randn(3, T)).shape == (3, S, T)
