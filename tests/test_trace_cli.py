"""``npsep trace``, ``compare`` and ``golden`` from the command line: without PyTorch, on .npy and
audio inputs, and every user error as one line with exit status 1."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from npsep.cli import main
from conftest import TORCH_BLOCKED
from npsep.parity import tracefile
from npsep.weights import make_config, random_tensors, save

ROOT = Path(__file__).resolve().parent.parent
HP = dict(out_channels=8, in_channels=16, num_blocks=2, upsampling_depth=3, enc_kernel_size=11,
          enc_num_basis=16, num_sources=2)

WITHOUT_TORCH = TORCH_BLOCKED + """
from npsep.cli import main
for argv in (["trace", sys.argv[1], sys.argv[2], "-o", sys.argv[3] + "/fast.npz"],
             ["trace", sys.argv[1], sys.argv[2], "-o", sys.argv[3] + "/oracle.npz", "--oracle"],
             ["compare", sys.argv[3] + "/oracle.npz", sys.argv[3] + "/fast.npz"],
             ["golden", sys.argv[1], "-o", sys.argv[3] + "/golden"]):
    assert main(argv) == 0, argv
assert not [m for m in sys.modules if m.split(".")[0] == "torch" or m == "npsep.torch_recorder"]
"""


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "m.npz"
    save(path, random_tensors("original", HP, seed=3), make_config("original", HP))
    return path


def test_trace_compare_golden_run_without_torch(model, tmp_path):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).standard_normal((2, 1, 517)).astype(np.float32))
    run = subprocess.run([sys.executable, "-c", WITHOUT_TORCH, str(model), str(tmp_path / "x.npy"), str(tmp_path)],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert "all 6 common layers within relative 0.0001" in run.stdout
    oracle, meta = tracefile.load(tmp_path / "oracle.npz")
    assert meta["dtype"] == "float64" and meta["config"]["variant"] == "original" and meta["npsep_version"]
    assert oracle["output"].shape == (2, 2, 517) and "sm.1.spp_dw.2.conv" in oracle
    fast, meta = tracefile.load(tmp_path / "fast.npz")
    assert list(fast) == ["encoder", "l1", "sm.0", "sm.1", "sm", "output"] and meta["mode"].startswith("fast")
    assert (tmp_path / "golden" / "manifest.json").exists()


def test_trace_of_an_audio_file_takes_channels_as_the_batch(model, tmp_path, capsys):
    x = np.random.default_rng(1).uniform(-0.5, 0.5, (300, 2))
    sf.write(tmp_path / "a.wav", x, 8000, subtype="FLOAT")
    assert main(["trace", str(model), str(tmp_path / "a.wav"), "-o", str(tmp_path / "t.npz"), "--oracle"]) == 0
    layers, meta = tracefile.load(tmp_path / "t.npz")
    assert layers["output"].shape == (2, 2, 300) and meta["input"] == "a.wav"
    with np.load(tmp_path / "t.npz") as z:
        np.testing.assert_array_equal(z["__input__"][:, 0], x.T.astype(np.float32))


def one_line_error(argv, capsys, match):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and match in err, err


def test_user_errors_are_one_line(model, tmp_path, capsys):
    sf.write(tmp_path / "a16k.wav", np.zeros(100), 16000)
    one_line_error(["trace", str(model), str(tmp_path / "a16k.wav"), "-o", str(tmp_path / "t.npz")], capsys,
                   "16000 Hz, the model's rate is 8000 Hz")
    np.save(tmp_path / "bad.npy", np.zeros((2, 3, 4)))
    one_line_error(["trace", str(model), str(tmp_path / "bad.npy"), "-o", str(tmp_path / "t.npz")], capsys,
                   "expected finite real samples")
    np.save(tmp_path / "x.npy", np.zeros(50, np.float32))
    one_line_error(["trace", str(model), str(tmp_path / "x.npy"), "-o", str(tmp_path / "no" / "t.npz")], capsys,
                   "cannot write the trace")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    one_line_error(["compare", str(tmp_path / "junk.npz"), str(tmp_path / "junk.npz")], capsys,
                   "not a readable npsep trace")
    one_line_error(["compare", str(tmp_path / "junk.npz"), str(tmp_path / "junk.npz"), "--rtol", "-1"], capsys,
                   "--rtol must be positive")
    one_line_error(["golden", str(model), "-o", str(tmp_path / "no" / "g")], capsys, "no such folder")
    assert not (tmp_path / "t.npz").exists() and not (tmp_path / "no").exists()


def test_compare_json_is_strict_and_complete(model, tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.ones(64, np.float32))
    assert main(["trace", str(model), str(tmp_path / "x.npy"), "-o", str(tmp_path / "o.npz"), "--oracle"]) == 0
    assert main(["trace", str(model), str(tmp_path / "x.npy"), "-o", str(tmp_path / "f.npz")]) == 0
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "f.npz"), str(tmp_path / "o.npz"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in report["layers"]] == ["encoder", "l1", "sm.0", "sm.1", "sm", "output"]
    assert report["first_divergence"] is None and report["only_in_b"] and not report["only_in_a"]
