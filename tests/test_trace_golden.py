"""``npsep golden`` and ``npsep.testing.assert_parity`` on a real port: ONNX Runtime running the
improved fixture exported from the PyTorch test module, and the same port with one mistake.

The exported graph takes an input already zero-padded to the padding multiple (the padding
rule depends on the length, which the exporter would bake in as a constant); the port pads on
the host and trims the output, as a deployment of such a graph does.
"""
import json
import re
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import numpy_helper

from npsep import testing
from npsep.architectures import padded_length
from npsep.cli import main
from npsep.parity import golden
from npsep.weights import make_config, save
from trace_cases import MANIFEST, torch_case

NAME = "improved_tiny"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """``(folder, golden dir, onnx path)``: the fixture's weights file, its golden set, its ONNX export."""
    folder = tmp_path_factory.mktemp("golden")
    variant, hp, module, _ = torch_case(NAME)
    save(folder / "model.npz", {k: v.numpy() for k, v in module.state_dict().items()}, make_config(variant, hp))
    assert main(["golden", str(folder / "model.npz"), "-o", str(folder / "golden")]) == 0
    x = torch.zeros(1, 1, 2 * padded_length(variant, hp, 1))
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation notices
        warnings.simplefilter("ignore")
        torch.onnx.export(module, x, folder / "model.onnx", input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "B", 2: "T"}, "y": {0: "B", 2: "T"}}, dynamo=False)
    return folder, folder / "golden", folder / "model.onnx"


def onnx_port(path):
    """``forward_fn`` of an ONNX Runtime session: pad on the host, run, trim."""
    variant, hp = MANIFEST[NAME]["variant"], MANIFEST[NAME]["config"]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def forward(x):  # [1, 1, T] -> [1, S, T]
        T = x.shape[-1]
        padded = np.pad(x, ((0, 0), (0, 0), (0, padded_length(variant, hp, T) - T)))
        return session.run(None, {"x": padded})[0][..., :T]
    return forward


def test_golden_set_has_the_awkward_lengths_and_a_manifest(exported):
    _, folder, _ = exported
    manifest = json.loads((folder / "manifest.json").read_text())
    lengths = [c["length"] for c in manifest["cases"]]
    hp = MANIFEST[NAME]["config"]
    n = padded_length("improved", hp, 1)
    assert {1, 2, 7, n - 1, n, n + 1, 2 * n + 1, hp["enc_kernel_size"] // 2 + 1} <= set(lengths)
    assert max(lengths) >= 4 * 8000 and lengths == sorted(set(lengths))
    assert manifest["rtol"] == 1e-4 and manifest["config"]["variant"] == "improved"
    _, loaded = golden.read(folder)
    assert all(x.shape == (1, 1, e["length"]) and y.shape == (1, 2, e["length"]) for e, x, y in loaded)


def test_onnx_runtime_port_passes(exported):
    _, folder, path = exported
    testing.assert_parity(onnx_port(path), folder)
    rtol, results = testing.parity_errors(onnx_port(path), folder)
    assert 0 < max(err for _, err, _ in results) < rtol


def test_onnx_port_with_a_perturbed_weight_fails_naming_the_worst_case(exported, tmp_path):
    _, folder, path = exported
    graph = onnx.load(path)
    bias = next(t for t in graph.graph.initializer if t.name == "sm.1.res_conv.bias")
    bias.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(bias) + np.float32(0.05), bias.name))
    onnx.save(graph, tmp_path / "perturbed.onnx")
    port = onnx_port(tmp_path / "perturbed.onnx")
    _, results = testing.parity_errors(port, folder)
    worst = max(results, key=lambda r: r[1])[0]["name"]
    with pytest.raises(AssertionError) as failure:
        testing.assert_parity(port, folder)
    first_line = str(failure.value).splitlines()[0]
    assert first_line.startswith(f"{len(results)} of {len(results)} golden cases beyond relative 0.0001")
    assert f"worst: {worst} (T=" in first_line


def test_port_failing_only_short_inputs_names_those_cases(exported):
    _, folder, path = exported
    onnx_forward, K = onnx_port(path), MANIFEST[NAME]["config"]["enc_kernel_size"]

    def port(x):  # refuses to separate inputs shorter than the encoder kernel: silence
        return np.zeros((1, 2, x.shape[-1]), np.float32) if x.shape[-1] < K else onnx_forward(x)
    with pytest.raises(AssertionError) as failure:
        testing.assert_parity(port, folder)
    named = set(re.findall(r"^  (\w+) \(T=", str(failure.value), re.M))
    _, loaded = golden.read(folder)
    assert named == {e["name"] for e, _, _ in loaded if e["length"] < K}


def test_wrong_output_size_is_named(exported):
    _, folder, _ = exported
    with pytest.raises(AssertionError, match=r"worst: \w+ \(T=\d+, .*\): output shape \(1, 1, \d+\) has the wrong size"):
        testing.assert_parity(lambda x: x, folder)


def test_golden_refuses_a_non_empty_folder_in_one_line(exported, capsys):
    folder, target, _ = exported
    assert main(["golden", str(folder / "model.npz"), "-o", str(target)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists and is not an empty folder" in err
