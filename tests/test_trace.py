"""npsep's layer traces against PyTorch forward hooks: the same names, the same values.

Tolerance: relative max error ``max|npsep - torch| / max|torch| <= 1e-4`` on every layer (the
whole-model tolerance of ``test_parity.py``, here held by every intermediate). The float64
oracle against PyTorch's float32 differs by float32 rounding only, ~1e-7 per operation growing
to ~5e-7 through the blocks; a wrong tap, pad, eps or slope gives 1e-3 or more
(``test_trace_faults.py``).
"""
import numpy as np
import pytest

from npsep.parity import tracefile
from npsep.parity.compare import compare
from npsep.parity.trace import stage_names, trace, trace_fast
from npsep.torch_recorder import record, record_layers
from trace_cases import CASES, npsep_model, torch_case

RTOL = 1e-4


@pytest.mark.parametrize("name", CASES)
def test_trace_names_are_the_named_modules_in_hook_order(name):
    variant, hp, module, x = torch_case(name)
    torch_layers, repeated = record_layers(module, x)
    ours = trace(variant, hp, npsep_model(variant, hp, module).tensors, x[:, 0].numpy())
    assert list(ours) == list(torch_layers)
    modules = {n for n, _ in module.named_modules()}
    assert set(ours) - {tracefile.OUTPUT} <= modules
    called_once = modules - set(repeated) - {""}
    never_called = called_once - set(ours)  # modules without a call of their own (ModuleList), or unused
    assert all(n.endswith(("ln_mask_in", "filterbank", "spp_dw")) for n in never_called), never_called
    assert all(n.endswith("upsampler") for n in repeated)
    assert (hp["upsampling_depth"] > 2) == bool(repeated)


@pytest.mark.parametrize("name", CASES)
def test_oracle_trace_matches_torch_hooks_on_every_layer(name):
    variant, hp, module, x = torch_case(name)
    torch_layers, _ = record_layers(module, x)
    ours = trace(variant, hp, npsep_model(variant, hp, module).tensors, x[:, 0].numpy())
    report = compare(torch_layers, ours, RTOL)
    assert report["first_divergence"] is None, [(r["name"], r["rel_max"]) for r in report["layers"] if not r["ok"]]
    assert len(report["layers"]) == len(torch_layers) and not report["only_in_b"]
    assert max(r["rel_max"] for r in report["layers"]) > 0  # computed, not copied


@pytest.mark.parametrize("name", CASES)
def test_fast_trace_matches_torch_at_its_stages(name):
    variant, hp, module, x = torch_case(name)
    torch_layers, _ = record_layers(module, x)
    fast = trace_fast(npsep_model(variant, hp, module), x[:, 0].numpy())
    encoder, bottleneck, blocks = stage_names(variant, hp)
    assert list(fast) == [encoder, bottleneck, *blocks, tracefile.OUTPUT]
    report = compare(torch_layers, fast, RTOL)
    assert report["first_divergence"] is None and not report["only_in_b"]
    assert fast[blocks[0]].dtype == np.float32


def test_trace_file_round_trip_keeps_order_input_and_metadata(tmp_path):
    variant, hp, module, x = torch_case("improved_tiny")
    written = record(module, x, tmp_path / "t.npz", note="hello")
    layers, meta = tracefile.load(tmp_path / "t.npz")
    assert list(layers) == list(written) and meta["note"] == "hello" and meta["source"] == "torch"
    assert all(np.array_equal(layers[n], written[n]) for n in written)
    with np.load(tmp_path / "t.npz") as z:
        assert np.array_equal(z["__input__"], x.numpy())
    assert not [p for p in tmp_path.iterdir() if p.name != "t.npz"]


def test_unreadable_trace_is_one_error(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(tracefile.TraceError, match="not a readable npsep trace"):
        tracefile.load(tmp_path / "bad.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(tracefile.TraceError, match="bad.npz|other.npz"):
        tracefile.load(tmp_path / "other.npz")
