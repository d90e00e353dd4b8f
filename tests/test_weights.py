"""The npsep weights file: round trip, and one clear line for every kind of damage."""
import json
import zipfile

import numpy as np
import pytest

import npsep
from conftest import valid_hparams
from npsep import architectures, weights
from npsep.errors import WeightsError

HP = dict(out_channels=8, in_channels=12, num_blocks=2, upsampling_depth=3, enc_kernel_size=21,
          enc_num_basis=16, num_sources=2)


def write(path, tensors, config=None):
    config = config or weights.make_config("improved", HP)
    np.savez(path, **{weights.CONFIG_KEY: np.array(json.dumps(config))}, **tensors)
    return path


def load_error(path):
    with pytest.raises(WeightsError) as err:
        npsep.load(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    return message


@pytest.fixture
def tensors():
    return weights.random_tensors("improved", HP, seed=1)


def test_round_trip_and_the_file_is_plain_npz(tmp_path, tensors):
    config = weights.make_config("improved", HP, sample_rate=16000, source={"sha256": "ab" * 32})
    weights.save(tmp_path / "m.npz", tensors, config)
    with np.load(tmp_path / "m.npz", allow_pickle=False) as z:  # no pickle needed to read it
        assert set(z.files) == set(tensors) | {weights.CONFIG_KEY}
    loaded_config, loaded = weights.load(tmp_path / "m.npz")
    assert loaded_config == config
    for k, v in tensors.items():
        np.testing.assert_array_equal(loaded[k], v)
    model = npsep.load(tmp_path / "m.npz")
    assert (model.sample_rate, model.num_sources, model.variant) == (16000, 2, "improved")
    assert list(tmp_path.iterdir()) == [tmp_path / "m.npz"]  # no temporary file left behind


def test_missing_tensor_is_named(tmp_path, tensors):
    del tensors["sm.1.res_conv.bias"]
    assert "'sm.1.res_conv.bias' is missing" in load_error(write(tmp_path / "m.npz", tensors))


def test_wrong_shape_is_named(tmp_path, tensors):
    tensors["sm.0.spp_dw.2.conv.weight"] = np.zeros((12, 1, 3), np.float32)
    msg = load_error(write(tmp_path / "m.npz", tensors))
    assert "'sm.0.spp_dw.2.conv.weight' has shape (12, 1, 3), expected (12, 1, 5)" in msg


def test_nan_is_named(tmp_path, tensors):
    tensors["bottleneck.weight"][3, 2, 0] = np.nan
    assert "'bottleneck.weight' has non-finite values" in load_error(write(tmp_path / "m.npz", tensors))


def test_unexpected_tensor_is_named(tmp_path, tensors):
    tensors["sm.2.res_conv.bias"] = np.zeros(8, np.float32)
    assert "unexpected tensor 'sm.2.res_conv.bias'" in load_error(write(tmp_path / "m.npz", tensors))


def test_wrong_dtype_is_named(tmp_path, tensors):
    tensors["encoder.weight"] = tensors["encoder.weight"].astype(np.float64)
    assert "'encoder.weight' has dtype float64" in load_error(write(tmp_path / "m.npz", tensors))


@pytest.mark.parametrize("cut", [0, 100, 0.5, -10])
def test_truncated_or_empty_file(tmp_path, tensors, cut):
    good = write(tmp_path / "good.npz", tensors).read_bytes()
    n = cut if isinstance(cut, int) and cut >= 0 else int(len(good) * cut) if cut > 0 else len(good) + cut
    (tmp_path / "bad.npz").write_bytes(good[:n])
    assert "not a readable npsep weights file" in load_error(tmp_path / "bad.npz")


def test_not_a_weights_file(tmp_path, tensors):
    with zipfile.ZipFile(tmp_path / "other.npz", "w") as z:
        z.writestr("readme.txt", "hello")
    load_error(tmp_path / "other.npz")
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    assert "not an npsep weights file" in load_error(tmp_path / "plain.npz")
    assert "no such weights file" in load_error(tmp_path / "missing.npz")
    np.save(tmp_path / "pickled.npz", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    load_error(tmp_path / "pickled.npz")  # object arrays need pickle: refused, not loaded


@pytest.mark.parametrize("change, words", [
    ({"format_version": 99}, "format_version 99"),
    ({"variant": "conv_tasnet"}, "unknown variant 'conv_tasnet'"),
    ({"sample_rate": 0}, "sample_rate"),
    ({"hparams": {**HP, "num_blocks": 0}}, "'num_blocks' must be a positive integer"),
    ({"hparams": {k: v for k, v in HP.items() if k != "num_sources"}}, "'num_sources' is missing"),
])
def test_bad_config_is_named(tmp_path, tensors, change, words):
    config = {**weights.make_config("improved", HP), **change}
    assert words in load_error(write(tmp_path / "m.npz", tensors, config))


def test_every_variant_round_trips_random_weights(tmp_path):
    for variant in architectures.VARIANTS:
        hp = valid_hparams(variant, HP, group_size=4)
        weights.save(tmp_path / f"{variant}.npz", weights.random_tensors(variant, hp), weights.make_config(variant, hp))
        out = npsep.load(tmp_path / f"{variant}.npz").forward(np.ones(100, np.float32))
        assert out.shape == (1, 2, 100) and np.isfinite(out).all()


def test_saved_file_has_the_usual_permissions(tmp_path, tensors):
    import os
    mask = os.umask(0o022)
    try:
        weights.save(tmp_path / "m.npz", tensors, weights.make_config("improved", HP))
    finally:
        os.umask(mask)
    assert (tmp_path / "m.npz").stat().st_mode & 0o777 == 0o644
