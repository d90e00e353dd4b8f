"""train.py --init-state: a new run starts from another run's weights (its ckpt.pt
or a plain state_dict), with a fresh optimizer, step and learning rate."""

import json
import os
import shutil
import sys

import numpy as np
import pytest
from scipy.io import wavfile

torch = pytest.importorskip("torch")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "training"))

import make_corpus  # noqa: E402
import train  # noqa: E402

TINY = {"out_channels": 8, "in_channels": 16, "num_blocks": 1, "upsampling_depth": 2,
        "enc_kernel_size": 21, "enc_num_basis": 16, "num_sources": 2}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A training split of four voices and a validation split of two mixtures."""
    d = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    os.makedirs(d / "train")
    index, off = [], 0
    for i, v in enumerate(["en+m1", "en+f1", "en+m2", "en+f2"]):
        index.append({"id": "u%d" % i, "shard": 0, "offset": off, "length": 8000, "voice": v})
        off += 8000
    np.save(d / "train" / "shard_000.npy", (rng.standard_normal(off) * 0.1).astype(np.float32))
    (d / "train" / "index.json").write_text(json.dumps({"sr": 8000, "utterances": index}))
    os.makedirs(d / "val")
    ms = []
    for k in range(2):
        mid = "val_mix%04d" % k
        os.makedirs(d / "val" / mid)
        for name, q in zip(("mix", "s1", "s2"), make_corpus.mix_pair(
                rng.standard_normal(4000), rng.standard_normal(3000), 1.0, 0.5)):
            wavfile.write(str(d / "val" / mid / (name + ".wav")), 8000, q)
        ms.append({"id": mid})
    (d / "val" / "manifest.json").write_text(json.dumps({"sr": 8000, "mixtures": ms}))
    cfg = d / "tiny.json"
    cfg.write_text(json.dumps({"run": "tiny", "model": TINY, "val_every": 1, "val_count": 2,
                               "seg_sec": 0.5, "batch_size": 2, "threads": 1}))
    return str(d), str(cfg)


def run(corpus, run_dir, *extra):
    data, cfg = corpus
    train.main(["--config", cfg, "--data", data, "--run-dir", run_dir] + list(extra))
    return torch.load(os.path.join(run_dir, "ckpt.pt"), map_location="cpu", weights_only=False)


def assert_same_weights_up_to_decoder_scale(got, want):
    assert set(got) == set(want)
    for k in want:
        if k == "decoder.weight":
            c = float((got[k] * want[k]).sum() / (want[k] * want[k]).sum())
            assert c > 0 and torch.allclose(got[k], c * want[k], rtol=1e-5, atol=1e-7)
        else:
            assert torch.equal(got[k], want[k]), k


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    run_dir = str(tmp_path_factory.mktemp("run_a"))
    return run_dir, run(corpus, run_dir, "--set", "max_steps=3")


def test_new_run_starts_from_a_checkpoint_with_fresh_optimizer(corpus, trained, tmp_path):
    src_dir, src = trained
    assert src["step"] == 3
    ck = run(corpus, str(tmp_path), "--init-state", os.path.join(src_dir, "ckpt.pt"), "--set", "max_steps=0")
    assert ck["step"] == 0 and ck["optimizer"]["state"] == {}
    assert_same_weights_up_to_decoder_scale(ck["model"], src["model"])
    # the same run without --init-state starts elsewhere: the test can tell the two apart
    fresh = run(corpus, str(tmp_path / "fresh"), "--set", "max_steps=0")
    assert not torch.equal(fresh["model"]["encoder.weight"], src["model"]["encoder.weight"])


def test_new_run_starts_from_a_plain_state_dict(corpus, trained, tmp_path):
    src_dir, _ = trained
    sd = torch.load(os.path.join(src_dir, "best_state_dict.pt"), map_location="cpu")
    ck = run(corpus, str(tmp_path), "--init-state", os.path.join(src_dir, "best_state_dict.pt"),
             "--set", "max_steps=0")
    assert_same_weights_up_to_decoder_scale(ck["model"], sd)
    # the decoder gets a fresh initialisation's scale back (the export folded a gain into it)
    fresh = run(corpus, str(tmp_path / "fresh"), "--set", "max_steps=0")["model"]["decoder.weight"]
    assert abs(float(ck["model"]["decoder.weight"].norm() / fresh.norm()) - 1) < 1e-5


def test_init_state_refuses_another_model_or_a_stranger_file(corpus, trained, tmp_path):
    src_dir, _ = trained
    with pytest.raises(SystemExit) as e:
        run(corpus, str(tmp_path / "a"), "--init-state", os.path.join(src_dir, "ckpt.pt"),
            "--set", "model.num_blocks=2", "--set", "max_steps=0")
    assert "cannot initialise" in str(e.value) and "differs" in str(e.value)
    torch.save({"weights": [1, 2]}, str(tmp_path / "odd.pt"))
    with pytest.raises(SystemExit) as e:
        run(corpus, str(tmp_path / "b"), "--init-state", str(tmp_path / "odd.pt"), "--set", "max_steps=0")
    assert "neither a training checkpoint nor a state_dict" in str(e.value)
    assert "\n" not in str(e.value)
    for d in ("a", "b"):
        assert not os.path.exists(tmp_path / d / "ckpt.pt")


def test_init_state_and_init_npz_are_alternatives(corpus, tmp_path):
    with pytest.raises(SystemExit) as e:
        run(corpus, str(tmp_path), "--init-state", "x.pt", "--init-npz", "y.npz")
    assert e.value.code == 2


def test_deepen_appends_identity_blocks_so_the_deeper_model_starts_where_the_shallow_one_was(
        corpus, trained, tmp_path):
    src_dir, src = trained
    ck = run(corpus, str(tmp_path), "--init-state", os.path.join(src_dir, "ckpt.pt"), "--deepen",
             "--set", "model.num_blocks=3", "--set", "max_steps=0")
    got = ck["model"]
    assert ck["config"]["model"]["num_blocks"] == 3
    for k in src["model"]:
        if k != "decoder.weight":
            assert torch.equal(got[k], src["model"][k]), k
    added = [k for k in got if k.startswith(("sm.1.", "sm.2."))]
    assert added and all(k.replace("sm.1.", "sm.0.").replace("sm.2.", "sm.0.") in src["model"] for k in added)
    for b in (1, 2):
        assert not got["sm.%d.res_conv.weight" % b].any() and not got["sm.%d.res_conv.bias" % b].any()
        assert got["sm.%d.proj_1x1.conv.weight" % b].any()  # the rest of the block is a fresh init
    # same output as the shallow model with the same (rescaled) decoder
    shallow = train.build_model(TINY)
    shallow.load_state_dict({k: v for k, v in got.items() if k in src["model"]})
    deep = train.build_model(dict(TINY, num_blocks=3))
    deep.load_state_dict(got)
    x = torch.randn(1, 1, 1600, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(deep(x), shallow(x))
    # without --deepen the same request is refused, and so is making a model shallower
    with pytest.raises(SystemExit) as e:
        run(corpus, str(tmp_path / "a"), "--init-state", os.path.join(src_dir, "ckpt.pt"),
            "--set", "model.num_blocks=3", "--set", "max_steps=0")
    assert "differs" in str(e.value)
    with pytest.raises(SystemExit) as e:
        run(corpus, str(tmp_path / "b"), "--init-state", os.path.join(tmp_path, "ckpt.pt"), "--deepen",
            "--set", "max_steps=0")
    assert "differs" in str(e.value)


def test_deepen_needs_initial_weights(corpus, tmp_path):
    with pytest.raises(SystemExit) as e:
        run(corpus, str(tmp_path), "--deepen")
    assert e.value.code == 2


@pytest.mark.skipif(not (shutil.which("g++") or shutil.which("c++")),
                    reason="torch.compile on the CPU needs a C++ compiler")
def test_compiled_training_steps_train_the_plain_module(corpus, trained, tmp_path):
    """With compile on, the steps go through torch.compile; the checkpoint holds the plain
    module's state (no wrapper prefix) and the weights moved."""
    _, src = trained
    ck = run(corpus, str(tmp_path), "--set", "compile=true", "--set", "max_steps=3")
    assert ck["step"] == 3 and ck["config"]["compile"] is True
    assert set(ck["model"]) == set(src["model"])
    fresh = run(corpus, str(tmp_path / "fresh"), "--set", "max_steps=0")["model"]
    assert not torch.equal(ck["model"]["encoder.weight"], fresh["encoder.weight"])
