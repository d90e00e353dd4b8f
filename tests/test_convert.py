"""weights_convert: PyTorch checkpoints -> npsep weights, without torch or running pickled code.

The converter never imports torch; these tests do, to write checkpoints and to
read the golden fixtures independently of the converter.
"""
import functools
import hashlib
import io
import json
import os
import pickle
import subprocess
import sys
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

import weights_convert
from conftest import valid_hparams as hparams
from npsep import architectures, weights
from npsep.cli import main
from npsep.errors import ConvertError
from torch_reference import (FIXTURES, build, read_whole_model, save_asteroid_package,
                             save_state_dict, save_whole_model, stub_state_dict)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MANIFEST = json.loads((FIXTURES / "MANIFEST.json").read_text())
ASTEROID = ("asteroid_sudormrf", "asteroid_improved")
WHOLE_MODEL = ("original", "improved", "groupcomm")

CONFIGS = [  # (C_out, C_in, N, Q, K, E, S): C_in above and below C_out, C_out == E or not
    dict(out_channels=8, in_channels=12, num_blocks=2, upsampling_depth=2,
         enc_kernel_size=5, enc_num_basis=10, num_sources=1),
    dict(out_channels=16, in_channels=8, num_blocks=1, upsampling_depth=3,
         enc_kernel_size=21, enc_num_basis=16, num_sources=3),
    dict(out_channels=12, in_channels=24, num_blocks=3, upsampling_depth=1,
         enc_kernel_size=7, enc_num_basis=6, num_sources=2),
]


def random_model(variant, hp, seed=0):
    """A reference model whose every parameter is drawn at random (norm gains included)."""
    torch.manual_seed(seed)
    model = build(variant, hp)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p))
    return model


def state_of(model):
    return {k: v.detach() for k, v in model.state_dict().items()}


def converted(src, dst, **overrides):
    """Convert with the Python API and read the result back with npsep's own loader."""
    weights_convert.convert(src, dst, **overrides)
    return weights.load(dst)


def assert_same_tensors(tensors, state):
    """Exactly the names of ``state``, every value equal to it in float32."""
    assert sorted(tensors) == sorted(state)
    for name, value in state.items():
        expected = value.float().numpy()
        assert tensors[name].dtype == np.float32
        assert tensors[name].shape == expected.shape, name
        np.testing.assert_array_equal(tensors[name], expected, err_msg=name)


def run_cli(capsys, *argv):
    """``npsep convert`` in-process: (status, stdout lines, stderr lines)."""
    status = main(["convert", *map(str, argv)])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err.splitlines()


def assert_one_line_error(capsys, src, dst, *options, match=None):
    """Exit 1, one ``error:`` line on stderr, nothing on stdout, no file left behind."""
    folder_before = sorted(os.listdir(os.path.dirname(str(dst))))
    status, out, err = run_cli(capsys, src, dst, *options)
    assert status == 1
    assert out == []
    assert len(err) == 1 and err[0].startswith("npsep convert: error: "), err
    assert "Traceback" not in err[0]
    if match:
        assert match in err[0], err[0]
    assert sorted(os.listdir(os.path.dirname(str(dst)))) == folder_before
    return err[0]


# --- the golden fixtures, converted where torch cannot be imported ----------------------

NO_TORCH = """
import sys
sys.modules["torch"] = None            # any 'import torch' now raises ImportError
from npsep.cli import main
status = main(["convert", sys.argv[1], sys.argv[2]])
loaded = sorted(m for m, mod in sys.modules.items()
                if mod is not None and (m == "torch" or m.startswith("torch.")))
print("TORCH_MODULES", loaded)
sys.exit(status)
"""


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_fixture_converts_without_torch(name, tmp_path):
    src, dst = FIXTURES / f"{name}.pt", tmp_path / f"{name}.npz"
    done = subprocess.run([sys.executable, "-c", NO_TORCH, str(src), str(dst)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "TORCH_MODULES []" in done.stdout
    assert done.stderr == ""

    config, tensors = weights.load(dst)
    entry = MANIFEST[name]
    assert config["variant"] == entry["variant"]
    assert config["hparams"] == entry["config"]
    assert config["sample_rate"] == 8000
    assert config["mixture_consistency"] == (entry["variant"] == "groupcomm")
    assert config["source"]["kind"] == "whole-model"
    assert config["source"]["name"] == src.name
    assert config["source"]["sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
    assert_same_tensors(tensors, stub_state_dict(read_whole_model(src)))


def test_python_dash_m_and_no_torch_import_in_sources(tmp_path):
    """``python -m weights_convert`` works, and no converter module mentions importing torch."""
    dst = tmp_path / "out.npz"
    done = subprocess.run([sys.executable, "-m", "weights_convert",
                           str(FIXTURES / "improved_tiny.pt"), str(dst)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert dst.exists() and "wrote" in done.stdout
    package = os.path.dirname(weights_convert.__file__)
    for filename in os.listdir(package):
        if filename.endswith(".py"):
            with open(os.path.join(package, filename)) as f:
                source = f.read()
            assert "import torch" not in source and "from torch" not in source, filename


# --- malicious pickles are refused without running anything -----------------------------

class Payload:
    """Pickles as ``call(*args)``: what a hostile checkpoint would run on load."""

    def __init__(self, call, *args):
        self.call, self.args = call, args

    def __reduce__(self):
        return self.call, self.args


def payloads(marker):
    return {"posix.system": Payload(os.system, f"touch {marker}"),
            "builtins.eval": Payload(eval, f"__import__('os').system('touch {marker}')"),
            "subprocess.Popen": Payload(subprocess.Popen, ["touch", str(marker)])}


@pytest.mark.parametrize("global_name", ["posix.system", "builtins.eval", "subprocess.Popen"])
def test_malicious_checkpoint_is_refused(global_name, tmp_path, capsys):
    marker = tmp_path / "pwned"
    src = tmp_path / "evil.pt"
    model = random_model("improved", hparams("improved", CONFIGS[0]))
    torch.save({"state_dict": model.state_dict(), "extra": payloads(marker)[global_name]}, src)
    message = assert_one_line_error(capsys, src, tmp_path / "out.npz", match=global_name)
    assert "refusing" in message
    assert not marker.exists()


def test_malicious_payload_is_real(tmp_path):
    """Control: the os.system payload does run under plain pickle, so the refusal above matters."""
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(payloads(marker)["posix.system"]))
    assert marker.exists()


@pytest.mark.parametrize("protocol", [2, 4])
def test_malicious_raw_zip_is_refused(protocol, tmp_path):
    """A hand-made torch zip (GLOBAL / STACK_GLOBAL opcodes) whose data.pkl runs os.system."""
    marker = tmp_path / "pwned"
    src = tmp_path / "evil.pt"
    with zipfile.ZipFile(src, "w") as z:
        payload = pickle.dumps(payloads(marker)["posix.system"], protocol=protocol)
        z.writestr("evil/data.pkl", payload)
        z.writestr("evil/byteorder", "little")
    with pytest.raises(ConvertError, match="posix.system"):
        weights_convert.convert(src, tmp_path / "out.npz")
    assert not marker.exists()


def test_refused_name_with_a_newline_stays_one_line(tmp_path, capsys):
    """STACK_GLOBAL takes its names from strings, which may hold newlines."""
    def string(text):  # SHORT_BINUNICODE
        return b"\x8c" + bytes([len(text)]) + text.encode()
    src = tmp_path / "odd.pt"
    with zipfile.ZipFile(src, "w") as z:
        z.writestr("odd/data.pkl", b"\x80\x04" + string("os") + string("sys\ntem") + b"\x93.")
    assert_one_line_error(capsys, src, tmp_path / "out.npz", match="'os.sys\\ntem'")


def test_unknown_class_is_refused(tmp_path, capsys):
    """A model class outside sudo_rm_rf / torch.nn (here this test module's) is never imported."""
    src = tmp_path / "custom.pt"
    torch.save(CustomNet(), src)
    assert_one_line_error(capsys, src, tmp_path / "out.npz", match="test_convert.CustomNet")


class CustomNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)


# --- damaged and unrelated files ----------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _unrelated_files():
    """name -> bytes of files that are not SuDoRM-RF checkpoints."""
    fixture = (FIXTURES / "improved_tiny.pt").read_bytes()
    rng = np.random.default_rng(0)
    text_zip = io.BytesIO()
    with zipfile.ZipFile(text_zip, "w") as z:
        z.writestr("notes/readme.txt", "hello")
    files = {"truncated": fixture[:len(fixture) // 2], "empty": b"",
             "random": rng.integers(0, 256, 4096, dtype=np.uint8).tobytes(),
             "plain_pickle": pickle.dumps({"a": 1}), "text_zip": text_zip.getvalue()}
    for name, obj in {"linear_state_dict": nn.Linear(3, 2).state_dict(),
                      "linear_model": nn.Linear(3, 2), "list": [1, 2, 3],
                      "empty_dict": {}, "wrapped_junk": {"model": "not a model"}}.items():
        buffer = io.BytesIO()
        torch.save(obj, buffer)
        files[name] = buffer.getvalue()
    buffer = io.BytesIO()
    torch.save(nn.Linear(3, 2).state_dict(), buffer, _use_new_zipfile_serialization=False)
    files["legacy"] = buffer.getvalue()
    return files


UNRELATED = {"truncated": "not a PyTorch zip checkpoint", "empty": "empty",
             "random": "not a PyTorch zip checkpoint", "plain_pickle": "not a PyTorch zip",
             "text_zip": "data.pkl", "linear_state_dict": "not a SuDoRM-RF model",
             "linear_model": "torch.nn.modules.linear.Linear", "list": "a list",
             "empty_dict": "empty dict", "wrapped_junk": "a str", "legacy": "legacy"}


@pytest.mark.parametrize("name", sorted(UNRELATED))
def test_unrelated_or_damaged_file(name, tmp_path, capsys):
    src = tmp_path / f"{name}.pt"
    src.write_bytes(_unrelated_files()[name])
    assert_one_line_error(capsys, src, tmp_path / "out.npz", match=UNRELATED[name])


def test_truncated_file_through_the_command_line(tmp_path):
    """The real command line in a subprocess: status 1, one stderr line, no traceback, no file."""
    src, dst = tmp_path / "half.pt", tmp_path / "out.npz"
    data = (FIXTURES / "original_tiny.pt").read_bytes()
    src.write_bytes(data[:len(data) // 2])
    done = subprocess.run([sys.executable, "-m", "npsep.cli", "convert", str(src), str(dst)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
    assert done.stdout == "" and not dst.exists()


def test_truncated_pickle_inside_an_intact_zip(tmp_path, capsys):
    def cut_pickle(name, data):
        return data[:len(data) // 2] if name.endswith("/data.pkl") else data
    _rewrite_zip(FIXTURES / "groupcomm_tiny.pt", tmp_path / "cut.pt", cut_pickle)
    assert_one_line_error(capsys, tmp_path / "cut.pt", tmp_path / "out.npz",
                          match="damaged checkpoint")


def test_missing_source(tmp_path, capsys):
    message = assert_one_line_error(capsys, tmp_path / "nope.pt", tmp_path / "out.npz")
    assert message.endswith("nope.pt: no such file")


def test_existing_destination_needs_overwrite(tmp_path, capsys):
    src, dst = FIXTURES / "original_tiny.pt", tmp_path / "out.npz"
    dst.write_bytes(b"keep me")
    assert_one_line_error(capsys, src, dst, match="--overwrite")
    assert dst.read_bytes() == b"keep me"
    status, out, err = run_cli(capsys, src, dst, "--overwrite")
    assert status == 0 and err == [] and len(out) == 1 and out[0].startswith(f"wrote {dst}")
    assert weights.load(dst)[0]["variant"] == "original"


def test_missing_destination_folder(tmp_path, capsys):
    status, _, err = run_cli(capsys, FIXTURES / "original_tiny.pt", tmp_path / "no" / "out.npz")
    assert status == 1 and len(err) == 1 and "cannot write" in err[0]


# --- state dicts, Asteroid packages and whole models round-trip exactly ----------------

@pytest.mark.parametrize("variant", architectures.VARIANTS)
@pytest.mark.parametrize("config", range(len(CONFIGS)))
def test_state_dict_round_trip(variant, config, tmp_path):
    hp = hparams(variant, CONFIGS[config], group_size=(2, 4, 3)[config])
    model = random_model(variant, hp, seed=config)
    save_state_dict(model, tmp_path / "sd.pt")
    cfg, tensors = converted(tmp_path / "sd.pt", tmp_path / "out.npz")
    assert cfg["variant"] == variant and cfg["hparams"] == hp
    assert cfg["source"]["kind"] == "state-dict"
    assert cfg["mixture_consistency"] == (variant == "groupcomm")
    assert_same_tensors(tensors, state_of(model))


@pytest.mark.parametrize("variant", ASTEROID)
@pytest.mark.parametrize("config", range(len(CONFIGS)))
def test_asteroid_package_round_trip(variant, config, tmp_path):
    mask_act = ("sigmoid", "softmax", "relu")[config]
    hp = hparams(variant, CONFIGS[config], mask_act=mask_act)
    model = random_model(variant, hp, seed=config)
    model.model_args["sample_rate"] = 16000.0
    save_asteroid_package(model, tmp_path / "pkg.pt", variant)
    cfg, tensors = converted(tmp_path / "pkg.pt", tmp_path / "out.npz")
    assert cfg["variant"] == variant and cfg["hparams"] == hp
    assert cfg["sample_rate"] == 16000 and cfg["source"]["kind"] == "asteroid"
    assert_same_tensors(tensors, state_of(model))


@pytest.mark.parametrize("variant", WHOLE_MODEL)
def test_whole_model_round_trip(variant, tmp_path):
    hp = hparams(variant, CONFIGS[1], group_size=4)
    model = random_model(variant, hp)
    save_whole_model(model, tmp_path / "whole.pt", variant)
    cfg, tensors = converted(tmp_path / "whole.pt", tmp_path / "out.npz")
    assert cfg["variant"] == variant and cfg["hparams"] == hp
    assert cfg["source"]["kind"] == "whole-model"
    assert_same_tensors(tensors, state_of(model))


@pytest.mark.parametrize("wrap", ["state_dict", "model_state_dict", "model", "module."])
def test_wrapped_state_dicts(wrap, tmp_path):
    hp = hparams("groupcomm", CONFIGS[0])
    model = random_model("groupcomm", hp)
    state = model.state_dict()
    if wrap == "module.":
        obj = OrderedDict((f"module.{k}", v) for k, v in state.items())
    else:
        obj = {wrap: state, "epoch": 3, "optimizer_state_dict": {"state": {}, "lr": 1e-3}}
    torch.save(obj, tmp_path / "ckpt.pt")
    cfg, tensors = converted(tmp_path / "ckpt.pt", tmp_path / "out.npz")
    assert cfg["hparams"] == hp
    assert_same_tensors(tensors, state_of(model))


def test_model_key_holding_a_whole_model(tmp_path):
    """``{"model": <whole model>}``: the model inside is read like a whole-model pickle."""
    hp = hparams("original", CONFIGS[0])
    model = random_model("original", hp)
    save_whole_model(model, tmp_path / "whole.pt", "original")

    def wrap_in_dict(name, data):  # PROTO 2, {, 'model', <the model>, SETITEM, STOP
        if not name.endswith("/data.pkl"):
            return data
        assert data[:2] == b"\x80\x02" and data[-1:] == b"."
        return b"\x80\x02}X\x05\x00\x00\x00model" + data[2:-1] + b"s."
    _rewrite_zip(tmp_path / "whole.pt", tmp_path / "wrapped.pt", wrap_in_dict)
    cfg, tensors = converted(tmp_path / "wrapped.pt", tmp_path / "out.npz")
    assert cfg["source"]["kind"] == "whole-model" and cfg["hparams"] == hp
    assert_same_tensors(tensors, state_of(model))


@pytest.mark.parametrize("variant", ["original", "improved"])
def test_prelu_shared_or_per_channel(variant, tmp_path):
    """The original code uses per-channel PReLUs, the improved one shared ones: both are read."""
    hp = hparams(variant, CONFIGS[0])
    model = random_model(variant, hp)
    block = model.sm[0]
    if variant == "original":
        block.proj_1x1.act = nn.PReLU(1)                       # shared where it is usually not
    else:
        block.final_norm.act = nn.PReLU(hp["in_channels"])     # per channel where it is usually not
        model.mask_net[0] = nn.PReLU(hp["out_channels"])
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p))
    save_state_dict(model, tmp_path / "sd.pt")
    cfg, tensors = converted(tmp_path / "sd.pt", tmp_path / "out.npz")
    assert cfg["hparams"] == hp
    assert_same_tensors(tensors, state_of(model))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_other_float_dtypes_become_float32(dtype, tmp_path):
    hp = hparams("improved", CONFIGS[0])
    model = random_model("improved", hp).to(dtype)
    save_state_dict(model, tmp_path / "sd.pt")
    _, tensors = converted(tmp_path / "sd.pt", tmp_path / "out.npz")
    assert_same_tensors(tensors, state_of(model))


def test_views_with_offsets_and_strides(tmp_path):
    """Tensors saved as views (offset into a shared storage, transposed strides) are read right."""
    hp = hparams("improved", CONFIGS[0])
    state = state_of(random_model("improved", hp))
    E, K, C_out = hp["enc_num_basis"], hp["enc_kernel_size"], hp["out_channels"]
    shared = torch.randn(3 * E * K)
    state["encoder.weight"] = shared[E * K:2 * E * K].view(E, 1, K)
    state["ln.gamma"] = shared[5:5 + E]
    state["bottleneck.weight"] = torch.randn(1, E, C_out).permute(2, 1, 0)
    assert not state["bottleneck.weight"].is_contiguous()
    torch.save(state, tmp_path / "views.pt")
    _, tensors = converted(tmp_path / "views.pt", tmp_path / "out.npz")
    assert_same_tensors(tensors, state)


def test_big_endian_storages(tmp_path):
    """A checkpoint whose byteorder record says 'big' has byte-swapped storages."""
    hp = hparams("improved", CONFIGS[0])
    model = random_model("improved", hp)
    save_state_dict(model, tmp_path / "little.pt")
    big = tmp_path / "big.pt"
    _rewrite_zip(tmp_path / "little.pt", big, _byteswap_storages)
    _, tensors = converted(big, tmp_path / "out.npz")
    assert_same_tensors(tensors, state_of(model))


def _byteswap_storages(name, data):
    if name.endswith("/byteorder"):
        return b"big"
    if "/data/" in name:                       # every storage here is float32
        return np.frombuffer(data, "<f4").astype(">f4").tobytes()
    return data


def _rewrite_zip(src, dst, change):
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(dst, "w") as new:
        for info in old.infolist():
            new.writestr(info.filename, change(info.filename, old.read(info)))


def test_integer_buffers_are_dropped_with_a_note(tmp_path, capsys):
    hp = hparams("original", CONFIGS[0])
    model = random_model("original", hp)
    model.register_buffer("num_batches_tracked", torch.tensor(7))
    save_state_dict(model, tmp_path / "sd.pt")
    status, out, err = run_cli(capsys, tmp_path / "sd.pt", tmp_path / "out.npz")
    assert status == 0 and len(out) == 1
    assert err == ["npsep convert: note: ignored integer buffer 'num_batches_tracked' "
                   "(int64, shape ())"]
    _, tensors = weights.load(tmp_path / "out.npz")
    assert "num_batches_tracked" not in tensors


# --- settings, overrides and disagreements -------------------------------------------------

def test_settings_and_overrides(tmp_path, capsys):
    src, dst = FIXTURES / "groupcomm_tiny.pt", tmp_path / "out.npz"
    status, _, err = run_cli(capsys, src, dst, "--variant", "groupcomm", "--sample-rate", "16000",
                             "--no-mixture-consistency")
    assert status == 0 and err == []
    config = weights.load(dst)[0]
    assert config["sample_rate"] == 16000 and config["mixture_consistency"] is False
    config = weights_convert.convert(src, dst, overwrite=True, num_blocks=2, group_size=4)
    assert config["mixture_consistency"] is True and config["sample_rate"] == 8000


def test_state_dict_mask_act_override(tmp_path):
    hp = hparams("asteroid_sudormrf", CONFIGS[0])
    save_state_dict(random_model("asteroid_sudormrf", hp), tmp_path / "sd.pt")
    cfg, _ = converted(tmp_path / "sd.pt", tmp_path / "out.npz", mask_act="sigmoid")
    assert cfg["hparams"]["mask_act"] == "sigmoid"


@pytest.mark.parametrize("options, match", [
    (["--variant", "improved"], "--variant improved disagrees"),
    (["--mask-act", "relu"], "mask_act does not apply to the 'original' variant"),
])
def test_overrides_that_disagree(options, match, tmp_path, capsys):
    assert_one_line_error(capsys, FIXTURES / "original_tiny.pt", tmp_path / "out.npz", *options,
                          match=match)


def test_hparam_override_must_match_shapes(tmp_path):
    with pytest.raises(ConvertError, match="num_blocks=3 but the tensor shapes show num_blocks=2"):
        weights_convert.convert(FIXTURES / "improved_tiny.pt", tmp_path / "out.npz", num_blocks=3)
    with pytest.raises(ConvertError, match="group_size"):
        weights_convert.convert(FIXTURES / "groupcomm_tiny.pt", tmp_path / "out.npz", group_size=2)
    assert not (tmp_path / "out.npz").exists()


@pytest.mark.parametrize("attribute, value", [("num_blocks", 3), ("enc_num_basis", 64),
                                              ("num_sources", 4)])
def test_whole_model_attribute_disagreeing_with_shapes(attribute, value, tmp_path):
    hp = hparams("improved", CONFIGS[0])
    model = random_model("improved", hp)
    setattr(model, attribute, value)
    save_whole_model(model, tmp_path / "whole.pt", "improved")
    with pytest.raises(ConvertError, match=f"gives {attribute}={value}"):
        weights_convert.convert(tmp_path / "whole.pt", tmp_path / "out.npz")


def test_whole_model_group_size_disagreeing_with_shapes(tmp_path):
    hp = hparams("groupcomm", CONFIGS[0], group_size=2)
    model = random_model("groupcomm", hp)
    for block in model.sm:
        block.num_group = 4
    save_whole_model(model, tmp_path / "whole.pt", "groupcomm")
    with pytest.raises(ConvertError, match="group_size=4 but the tensor shapes show group_size=2"):
        weights_convert.convert(tmp_path / "whole.pt", tmp_path / "out.npz")


def _package(tmp_path, variant="asteroid_improved", edit=None):
    """An Asteroid package after ``edit(package_dict)``."""
    model = random_model(variant, hparams(variant, CONFIGS[0]))
    save_asteroid_package(model, tmp_path / "pkg.pt", variant)
    package = torch.load(tmp_path / "pkg.pt", weights_only=True)
    if edit:
        edit(package)
    torch.save(package, tmp_path / "pkg.pt")
    return tmp_path / "pkg.pt"


@pytest.mark.parametrize("edit, match", [
    (lambda p: p["model_args"].update(fb_name="stft"), "filterbank 'stft' is not supported"),
    (lambda p: p["model_args"].update(stride=5), "stride 5"),
    (lambda p: p.update(model_name="ConvTasNet"), "'ConvTasNet' is not SuDoRM-RF"),
    (lambda p: p["model_args"].update(bn_chan=64), "gives out_channels=64"),
    (lambda p: p["model_args"].update(mask_act="tanh"), "mask_act 'tanh' is not supported"),
    (lambda p: p["state_dict"].update({"encoder.encoder.filterbank._filters":
                                       p["state_dict"]["encoder.filterbank._filters"] + 1}),
     "should duplicate"),
    (lambda p: p["state_dict"].pop("encoder.filterbank._filters"), "free"),
    (lambda p: p["state_dict"].update({"masker.extra.weight": torch.ones(2)}), "unexpected tensor"),
    (lambda p: p["state_dict"]["masker.ln.gamma"].fill_(float("nan")), "non-finite"),
    (lambda p: p["state_dict"].update({"masker.ln.beta": torch.ones(10, dtype=torch.int64)}),
     "dtype int64"),
    (lambda p: p["state_dict"].update({"masker.ln.beta": torch.ones(11)}), "masker.ln.beta"),
    (lambda p: p.update(model_name="SuDORMRFNet"), "package says 'asteroid_sudormrf'"),
])
def test_bad_asteroid_packages(edit, match, tmp_path):
    src = _package(tmp_path, edit=edit)
    with pytest.raises(ConvertError, match=match):
        weights_convert.convert(src, tmp_path / "out.npz")
    assert not (tmp_path / "out.npz").exists()


@pytest.mark.parametrize("edit, match", [
    (lambda p: p["model_args"].update(n_src=[2]), "num_sources as [2]"),
    (lambda p: p["model_args"].update(mask_act=1), "mask_act as 1, not a string"),
    (lambda p: p["model_args"].update(fb_name=["free"]), "filterbank ['free']"),
    (lambda p: p["model_args"].update(stride="2"), "stride '2'"),
    (lambda p: p.update(model_name=["SuDORMRFNet"]), "model ['SuDORMRFNet']"),
    (lambda p: p["model_args"].update(sample_rate="x" * 100), "sample_rate 'xxx"),
    (lambda p: p["state_dict"].update({"masker.ln.beta": "not a tensor"}), "holds a str"),
])
def test_odd_values_in_asteroid_packages(edit, match, tmp_path, capsys):
    """Whatever a pickle puts where a number or a name belongs ends as one readable line."""
    src = _package(tmp_path, variant="asteroid_sudormrf", edit=edit)
    assert_one_line_error(capsys, src, tmp_path / "out.npz", match=match)


@pytest.mark.parametrize("attribute, value, match", [
    ("out_channels", "16", "gives out_channels as '16', not an integer"),
    ("num_blocks", [2], "gives num_blocks as [2]"),
    ("num_group", 2.0, "num_group as 2.0"),
])
def test_odd_values_in_whole_models(attribute, value, match, tmp_path, capsys):
    hp = hparams("groupcomm", CONFIGS[0])
    model = random_model("groupcomm", hp)
    setattr(model.sm[0] if attribute == "num_group" else model, attribute, value)
    save_whole_model(model, tmp_path / "whole.pt", "groupcomm")
    assert_one_line_error(capsys, tmp_path / "whole.pt", tmp_path / "out.npz", match=match)


def test_asteroid_settings_must_agree_with_the_package(tmp_path):
    src = _package(tmp_path, variant="asteroid_sudormrf")
    with pytest.raises(ConvertError, match="--mask-act relu disagrees"):
        weights_convert.convert(src, tmp_path / "out.npz", mask_act="relu")
    with pytest.raises(ConvertError, match="--sample-rate 16000 disagrees"):
        weights_convert.convert(src, tmp_path / "out.npz", sample_rate=16000)
    config = weights_convert.convert(src, tmp_path / "out.npz", mask_act="softmax",
                                     sample_rate=8000)
    assert config["hparams"]["mask_act"] == "softmax"


@pytest.mark.parametrize("edit, rate", [
    (lambda p: None, 8000),                                      # model_args comes first
    (lambda p: p["model_args"].pop("sample_rate"), 22050),       # infos.training_config.data
    (lambda p: (p["model_args"].pop("sample_rate"), p["infos"].update(sample_rate=16000.0)), 16000),
    (lambda p: (p["model_args"].pop("sample_rate"), p.pop("infos")), 8000),     # the default
])
def test_asteroid_sample_rate_fallbacks(edit, rate, tmp_path):
    def edit_and_mark(package):
        package["infos"]["training_config"]["data"]["sample_rate"] = 22050
        edit(package)
    config = weights_convert.convert(_package(tmp_path, edit=edit_and_mark), tmp_path / "out.npz")
    assert config["sample_rate"] == rate


@pytest.mark.parametrize("rate", [float("nan"), float("inf"), 8000.5, -8000, "8k", True])
def test_asteroid_unusable_sample_rate(rate, tmp_path):
    src = _package(tmp_path, edit=lambda p: p["model_args"].update(sample_rate=rate))
    with pytest.raises(ConvertError, match="unusable sample_rate"):
        weights_convert.convert(src, tmp_path / "out.npz")


def test_storage_shorter_than_declared(tmp_path):
    save_state_dict(random_model("improved", hparams("improved", CONFIGS[0])), tmp_path / "sd.pt")

    def cut_first_storage(name, data):
        return data[:-4] if name.endswith("/data/0") else data
    _rewrite_zip(tmp_path / "sd.pt", tmp_path / "cut.pt", cut_first_storage)
    with pytest.raises(ConvertError, match="storage '0' has"):
        weights_convert.convert(tmp_path / "cut.pt", tmp_path / "out.npz")


def test_unknown_byteorder(tmp_path):
    save_state_dict(random_model("improved", hparams("improved", CONFIGS[0])), tmp_path / "sd.pt")
    _rewrite_zip(tmp_path / "sd.pt", tmp_path / "odd.pt",
                 lambda name, data: b"middle" if name.endswith("/byteorder") else data)
    with pytest.raises(ConvertError, match="byteorder 'middle'"):
        weights_convert.convert(tmp_path / "odd.pt", tmp_path / "out.npz")
