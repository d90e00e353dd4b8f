"""Asteroid packages as Asteroid writes them convert without torch, with the metadata they carry.

``BaseModel.serialize()`` stores ``torch.__version__`` (a ``TorchVersion``, a ``str``
subclass) under ``infos["software_versions"]``; ``save_publishable`` adds the recipe
name, the training configuration and the final metrics, which recipes compute with
pandas/NumPy (``np.float64``). The converter must read all of it as data, import no
torch, and give a model equal to Asteroid's (relative max error <= 1e-4, as in
tests/test_parity.py: both compute in float32 and differ by rounding only).

Asteroid's own code is used when it can be imported (``pip install asteroid``: it needs
``huggingface_hub`` and ``pytorch_lightning``); otherwise the package is written the way
``serialize()`` and ``save_publishable()`` write it, from the reference modules.
"""
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import npsep
from npsep import weights
from npsep.errors import ConvertError
from torch_reference import ASTEROID_MODEL_NAMES, build
from weights_convert import convert, plain_data

ROOT = Path(__file__).resolve().parent.parent
RTOL = 1e-4
HP = dict(out_channels=16, in_channels=12, num_blocks=2, upsampling_depth=2, enc_kernel_size=9,
          enc_num_basis=12, num_sources=2)
METRICS = {"si_sdr": np.float64(11.25), "si_sdr_imp": np.float64(10.5),
           "sdr": np.float32(9.75), "n_files": np.int64(3000), "ok": np.bool_(True),
           "per_epoch": np.linspace(0.0, 1.0, 7), "confusion": np.eye(2, dtype=np.int32)}
TRAINING_CONFIG = {"data": {"sample_rate": 8000, "segment": 4.0, "task": "sep_clean"},
                   "optim": {"lr": 0.001, "optimizer": "adam"}, "training": {"epochs": 200}}


def real_asteroid():
    """Asteroid's model classes, or ``None`` when Asteroid (or what it imports) is missing."""
    try:
        from asteroid import models
        import pytorch_lightning  # noqa: F401  serialize() imports it
    except Exception:  # ImportError, or a dependency that fails to import
        return None
    return {"asteroid_sudormrf": models.SuDORMRFNet, "asteroid_improved": models.SuDORMRFImprovedNet}


def randomise(model, seed):
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.5 + (1.0 if p.dim() == 1 else 0.0))
    return model.eval()


def asteroid_package(variant, path, use_asteroid, seed=0):
    """Write a published package of a random model to ``path``; return the torch model."""
    mask_act = "softmax" if variant == "asteroid_sudormrf" else "relu"
    if use_asteroid:
        cls = real_asteroid()[variant]
        model = randomise(cls(n_src=HP["num_sources"], bn_chan=HP["out_channels"],
                              num_blocks=HP["num_blocks"], upsampling_depth=HP["upsampling_depth"],
                              mask_act=mask_act, kernel_size=HP["enc_kernel_size"],
                              n_filters=HP["enc_num_basis"], sample_rate=8000), seed)
        package = model.serialize()
        from asteroid.models import save_publishable
        package.update(dataset="WHAM", licenses=[{"title": "WHAM!", "license": "CC BY-NC 4.0"}])
        save_publishable(str(path.parent / "publish"), package, metrics=dict(METRICS),
                         train_conf=TRAINING_CONFIG, recipe="SuDORMRFNet")
        (path.parent / "publish" / "model.pth").rename(path)
        return model
    model = randomise(build(variant, dict(HP, in_channels=HP["enc_num_basis"], mask_act=mask_act)), seed)
    state = model.state_dict()
    state = {"encoder.encoder.filterbank._filters": state["encoder.filterbank._filters"], **state}
    infos = {"software_versions": {"torch_version": torch.__version__,
                                   "pytorch_lightning_version": "2.6.6", "asteroid_version": "0.7.0"},
             "recipe_name": "SuDORMRFNet", "training_config": TRAINING_CONFIG,
             "final_metrics": dict(METRICS)}
    torch.save({"model_name": ASTEROID_MODEL_NAMES[variant], "state_dict": state,
                "model_args": dict(model.model_args), "infos": infos, "dataset": "WHAM",
                "licenses": [{"title": "WHAM!", "license": "CC BY-NC 4.0"}]}, path)
    return model


NO_TORCH = """
import sys
sys.modules["torch"] = None            # any 'import torch' now raises ImportError
from npsep.cli import main
status = main(["convert", sys.argv[1], sys.argv[2]])
print("TORCH_MODULES", sorted(m for m, mod in sys.modules.items()
                              if mod is not None and (m == "torch" or m.startswith("torch."))))
sys.exit(status)
"""

WRITERS = ["asteroid-serialize", "serialize-format"]


@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("variant", sorted(ASTEROID_MODEL_NAMES))
def test_published_asteroid_package_converts_without_torch(variant, writer, tmp_path):
    if writer == "asteroid-serialize" and real_asteroid() is None:
        pytest.skip("Asteroid is not importable here; 'serialize-format' writes the same package")
    src, dst = tmp_path / "model.pth", tmp_path / "model.npz"
    model = asteroid_package(variant, src, writer == "asteroid-serialize")
    package = torch.load(src, weights_only=False)
    assert type(package["infos"]["software_versions"]["torch_version"]) is torch.torch_version.TorchVersion
    assert type(package["infos"]["final_metrics"]["si_sdr"]) is np.float64
    assert package["model_name"] == ASTEROID_MODEL_NAMES[variant]

    done = subprocess.run([sys.executable, "-c", NO_TORCH, str(src), str(dst)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "TORCH_MODULES []" in done.stdout and done.stderr == ""

    config = weights.load(dst)[0]
    assert config["variant"] == variant and config["source"]["kind"] == "asteroid"
    assert config["hparams"]["num_blocks"] == HP["num_blocks"]
    x = torch.randn(2, 1, 1601, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = model(x).numpy().astype(np.float64)
    ours = npsep.load(dst).forward(x.numpy())
    assert np.abs(ours - expected).max() / np.abs(expected).max() <= RTOL


def _load(obj, tmp_path):
    """``obj`` through torch.save and the restricted unpickler."""
    from weights_convert import torch_zip
    torch.save(obj, tmp_path / "obj.pt")
    return torch_zip.load(tmp_path / "obj.pt")


@pytest.mark.parametrize("protocol", [2, 4])
def test_numpy_metadata_is_read_as_data(protocol, tmp_path):
    """Values and dtypes survive exactly, big-endian and Fortran-ordered arrays included."""
    values = dict(METRICS, big=np.arange(6, dtype=">f4").reshape(2, 3),
                  fortran=np.asfortranarray(np.arange(6.0).reshape(2, 3)),
                  empty=np.zeros((0, 3)), complex=np.complex128(1 + 2j), half=np.float16(0.5),
                  version=torch.__version__)
    torch.save(values, tmp_path / "obj.pt", pickle_protocol=protocol)
    from weights_convert import torch_zip
    loaded = torch_zip.load(tmp_path / "obj.pt")
    assert loaded.keys() == values.keys()
    for key, value in values.items():
        if key == "version":
            assert type(loaded[key]) is str and loaded[key] == str(value)
            continue
        native = np.asarray(value).dtype.newbyteorder("=")
        assert loaded[key].dtype.newbyteorder("=") == native, key
        np.testing.assert_array_equal(loaded[key], value, err_msg=key)


@pytest.mark.parametrize("value, match", [
    (np.array(["a", "b"]), "NumPy dtype 'U1'"),
    (np.array([{"a": 1}], dtype=object), "NumPy dtype 'O8'"),
    (np.zeros(3, dtype=[("a", "f4")]), "NumPy dtype 'V4'"),
    (np.datetime64("2020-01-01"), "NumPy dtype 'M8'"),
    (np.zeros(plain_data.MAX_ARRAY_BYTES // 8 + 1), "at most"),
])
def test_numpy_data_that_is_not_plain_numbers_is_refused(value, match, tmp_path):
    with pytest.raises(ConvertError, match=match):
        _load({"meta": value}, tmp_path)


def test_plain_data_stand_ins_cannot_be_abused(tmp_path):
    """Hand-made pickles that misuse the allowed names are refused in one ConvertError each."""
    from weights_convert import torch_zip
    import zipfile
    cases = {  # protocol 0 text pickles
        "codecs_other_encoding": b"c_codecs\nencode\n(Vx\nVrot13\ntR.",
        "ndarray_called": b"cnumpy\nndarray\n(I3\ntR.",
        "reconstruct_other_class": b"cnumpy.core.multiarray\n_reconstruct\n(ccollections\nOrderedDict\n"
                                   b"(I0\ntVb\ntR.",
        "scalar_wrong_length": b"cnumpy.core.multiarray\nscalar\n(cnumpy\ndtype\n(Vf8\nI00\nI01\ntR"
                               b"c_codecs\nencode\n(Vab\nVlatin1\ntRtR.",
        "dtype_bad_state": b"cnumpy\ndtype\n(Vf8\nI00\nI01\ntR(I3\nV?\ntb.",
    }
    for name, data in cases.items():
        src = tmp_path / f"{name}.pt"
        with zipfile.ZipFile(src, "w") as z:
            z.writestr(f"{name}/data.pkl", data)
        with pytest.raises(ConvertError):
            torch_zip.load(src)
    assert pickle.loads(cases["scalar_wrong_length"].replace(b"Vab", b"V" + b"\x00" * 8)) == 0.0
