"""Hostile and damaged model files: each refused in one line, in bounded memory and time.

Every case is built here in a temporary folder and run through the ``npsep`` command
in a child process limited to 1 GiB of address space and 10 s of CPU (``hostile.py``),
so that a case that blows up fails alone. Checkpoints go through ``npsep convert``,
weights files through ``npsep info``.
"""
import io
import json
import os
import pickle
import struct
import sys
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
import torch

from hostile import (GIB, assert_one_line_error, deflate_zeros, npsep_argv, run_limited,
                     zip_member_patched)
from npsep import architectures, info, limits, weights
from torch_reference import FIXTURES, build, save_whole_model

HP = dict(out_channels=8, in_channels=12, num_blocks=2, upsampling_depth=2, enc_kernel_size=5,
          enc_num_basis=10, num_sources=2)


def convert(src, tmp_path):
    return run_limited(npsep_argv("convert", src, tmp_path / "out.npz"))


def refused(result, tmp_path=None, match=None):
    line = assert_one_line_error(result, match)
    if tmp_path is not None:
        assert not (tmp_path / "out.npz").exists()
    return line


# --- torch zip checkpoints written by hand --------------------------------------------

class Storage:
    """A storage to pickle as torch does: a persistent id naming ``data/<key>``."""

    def __init__(self, key, numel):
        self.key, self.numel = key, numel


class Tensor:
    """A tensor to pickle as ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride)``."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, OrderedDict())

    def __reduce__(self):
        return torch._utils._rebuild_tensor_v2, self.args


class TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", torch.FloatStorage, obj.key, "cpu", obj.numel)
        return None


def write_checkpoint(path, pickled, storages=()):
    """A torch zip checkpoint: ``archive/data.pkl`` holding ``pickled`` (bytes), plus
    ``archive/data/<key>`` for each ``(key, bytes)``, stored as torch stores them."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pickled)
        z.writestr("archive/byteorder", "little")
        for key, data in storages:
            z.writestr(f"archive/data/{key}", data)
    return path


def pickled(obj):
    buffer = io.BytesIO()
    TorchPickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def state_dict_checkpoint(path, tensors):
    """A checkpoint of a state dict ``name -> float32 array``, one storage per tensor."""
    state, storages = OrderedDict(), []
    for i, (name, value) in enumerate(tensors.items()):
        storage = Storage(str(i), value.size)
        state[name] = Tensor(storage, 0, value.shape, [int(s) // 4 for s in value.strides])
        storages.append((str(i), np.ascontiguousarray(value, "<f4").tobytes()))
    return write_checkpoint(path, pickled(state), storages)


def test_the_hand_written_checkpoint_converts(tmp_path):
    """The writer above makes checkpoints the converter reads, so the cases below differ from
    a good file only by what they attack."""
    state_dict_checkpoint(tmp_path / "good.pt", weights.random_tensors("improved", HP))
    result = convert(tmp_path / "good.pt", tmp_path)
    assert result.returncode == 0, result.stderr
    assert weights.load(tmp_path / "out.npz")[0]["hparams"] == HP


# --- checkpoints: one line, not a traceback ----------------------------------------------

def test_pickle_nested_5000_deep(tmp_path):
    nested = b"\x80\x02" + b"]" * 5000 + b"a" * 4999 + b"."  # [[[...]]] with opcodes alone
    refused(convert(write_checkpoint(tmp_path / "deep.pt", nested), tmp_path), tmp_path,
            "nests containers more than 100 deep")


def test_memo_index_of_two_billion(tmp_path):
    """LONG_BINPUT 2**31: the C unpickler would grow its memo table to 16 GiB for it."""
    memo_bomb = b"\x80\x02}r" + (2 ** 31).to_bytes(4, "little") + b"."
    refused(convert(write_checkpoint(tmp_path / "memo.pt", memo_bomb), tmp_path), tmp_path,
            "memo index 2147483648")


def test_cyclic_module_tree(tmp_path):
    model = build("improved", HP)
    model.sm._modules["loop"] = model
    save_whole_model(model, tmp_path / "cycle.pt", "improved")
    refused(convert(tmp_path / "cycle.pt", tmp_path), tmp_path, "contains itself")


def test_shared_objects_expanding_past_the_limit(tmp_path):
    layer = []
    for _ in range(40):  # 2**40 paths through 40 small lists
        layer = [layer, layer]
    refused(convert(write_checkpoint(tmp_path / "dag.pt", pickle.dumps(layer, 2)), tmp_path),
            tmp_path, "expands to more than")


def _byteorder_data_offset(data):
    """Where the byteorder entry's bytes start: after its local header (torch pads its extra field)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        at = z.getinfo("improved_tiny/byteorder").header_offset
    name_length, extra_length = struct.unpack_from("<HH", data, at + 26)
    return at + 30 + name_length + extra_length


def test_bit_flip_in_the_byteorder_entry(tmp_path):
    data = bytearray((FIXTURES / "improved_tiny.pt").read_bytes())
    data[_byteorder_data_offset(bytes(data)) + 1] ^= 0x04  # "little" -> "lmttle": CRC mismatch
    (tmp_path / "flip.pt").write_bytes(bytes(data))
    refused(convert(tmp_path / "flip.pt", tmp_path), tmp_path, "damaged checkpoint")


@pytest.mark.parametrize("entry", ["byteorder", "data.pkl"])
def test_entries_flagged_encrypted(entry, tmp_path):
    data = (FIXTURES / "improved_tiny.pt").read_bytes()
    (tmp_path / "enc.pt").write_bytes(zip_member_patched(data, f"improved_tiny/{entry}",
                                                         flag_bits=1))
    refused(convert(tmp_path / "enc.pt", tmp_path), tmp_path, "is encrypted")


def test_dev_zero_as_a_checkpoint(tmp_path):
    refused(convert("/dev/zero", tmp_path), tmp_path, "not a regular file")


def test_fifo_as_a_checkpoint_does_not_hang(tmp_path):
    os.mkfifo(tmp_path / "pipe.pt")
    refused(convert(tmp_path / "pipe.pt", tmp_path), tmp_path, "not a regular file")


# --- checkpoints: tiny files that would cost gigabytes --------------------------------------

def test_zero_stride_view_of_a_tiny_storage(tmp_path):
    view = Tensor(Storage("0", 1), 0, (2 ** 29,), (0,))  # 2 GiB of one float
    src = write_checkpoint(tmp_path / "zero.pt", pickled({"encoder.weight": view}),
                           [("0", bytes(4))])
    assert src.stat().st_size < 1000
    refused(convert(src, tmp_path), tmp_path, "its storage backs 1")


def test_overlapping_views_of_one_storage(tmp_path):
    storage = Storage("0", 2 ** 20)  # 4 MiB, viewed 1000 times with overlapping strides
    size = (2 ** 20 - 2 ** 10 + 1, 2 ** 10)  # 4 GiB of sliding windows, all inside the storage
    views = {f"t{i}": Tensor(storage, 0, size, (1, 1)) for i in range(1000)}
    src = write_checkpoint(tmp_path / "overlap.pt", pickled(views), [("0", bytes(4 * 2 ** 20))])
    refused(convert(src, tmp_path), tmp_path, "zero or overlapping strides")


def _bombed(tmp_path, name, entry, size, prefix=b""):
    """A zip entry stored as a deflate bomb: its directory says ``size`` bytes, truthfully."""
    bomb = deflate_zeros(size, prefix)
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as z:
        z.writestr(entry, bomb)
    data = zip_member_patched(good.read_bytes(), entry, method=zipfile.ZIP_DEFLATED,
                              file_size=len(prefix) + size)
    (tmp_path / name).write_bytes(data)
    return tmp_path / name, bomb


def test_deflate_bomb_as_the_pickle(tmp_path):
    src, bomb = _bombed(tmp_path, "bomb.pt", "archive/data.pkl", 3 * GIB, prefix=b"\x80\x02")
    assert len(bomb) < 4 * 2 ** 20
    refused(convert(src, tmp_path), tmp_path, "more than the limit")


def test_bombed_storage(tmp_path):
    numel = 3 * GIB // 4
    pickle_bytes = pickled({"encoder.weight": Tensor(Storage("0", numel), 0, (numel,), (1,))})
    src = tmp_path / "storage.pt"
    with zipfile.ZipFile(src, "w") as z:
        z.writestr("archive/data.pkl", pickle_bytes)
        z.writestr("archive/data/0", deflate_zeros(3 * GIB))
    src.write_bytes(zip_member_patched(src.read_bytes(), "archive/data/0",
                                       method=zipfile.ZIP_DEFLATED, file_size=3 * GIB))
    refused(convert(src, tmp_path), tmp_path, "more than the limit")


def test_tensor_name_claiming_a_billion_blocks(tmp_path):
    tensors = weights.random_tensors("improved", HP)
    tensors["sm.999999999.x"] = np.zeros(1, np.float32)
    line = refused(convert(state_dict_checkpoint(tmp_path / "n.pt", tensors), tmp_path), tmp_path)
    assert "num_blocks=1000000000 is above npsep's limit of 256" in line


# --- weights files ---------------------------------------------------------------------------

def info_of(path):
    return run_limited(npsep_argv("info", path))


def weights_file(path, config=None, tensors=None, config_text=None, extra=()):
    """A weights file written entry by entry (``extra``: more ``(name, npy bytes)`` entries)."""
    config = config or weights.make_config("improved", HP)
    tensors = tensors if tensors is not None else weights.random_tensors("improved", config["hparams"])
    entries = {weights.CONFIG_KEY: np.array(config_text or json.dumps(config))}
    entries.update(tensors)
    with zipfile.ZipFile(path, "w") as z:
        for name, value in entries.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, value, allow_pickle=False)
            z.writestr(f"{name}.npy", buffer.getvalue())
        for name, data in extra:
            z.writestr(name, data)
    return path


def test_the_hand_written_weights_file_loads(tmp_path):
    result = info_of(weights_file(tmp_path / "good.npz"))
    assert result.returncode == 0 and "variant           improved" in result.stdout, result.stderr


def test_config_nested_100000_deep(tmp_path):
    text = '{"format": "npsep-weights", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    refused(info_of(weights_file(tmp_path / "deep.npz", config_text=text)), match="nested too deep")


def test_header_declaring_2_to_the_40_elements(tmp_path):
    path = weights_file(tmp_path / "huge.npz")
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (2 ** 40,)})
    with zipfile.ZipFile(path) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    entries["encoder.weight.npy"] = header.getvalue() + bytes(64)
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    refused(info_of(path), match="'encoder.weight.npy'")


def test_extra_entry_inflating_to_2_gib_is_never_read(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False,
                                                  "shape": (2 * GIB,)})
    path, _ = _bombed(tmp_path, "extra.npz", "extra.npy", 2 * GIB, header.getvalue())
    with zipfile.ZipFile(path, "a") as z, zipfile.ZipFile(weights_file(tmp_path / "good.npz")) as g:
        for name in g.namelist():  # the tensors of a good file beside the bomb
            z.writestr(name, g.read(name))
    assert path.stat().st_size < 8 * 2 ** 20
    refused(info_of(path), match="unexpected tensor 'extra'")


@pytest.mark.parametrize("name, value", [("num_blocks", 10 ** 9), ("upsampling_depth", 10 ** 9),
                                         ("out_channels", 10 ** 9)])
def test_config_hyper_parameters_above_the_limits(name, value, tmp_path):
    config = weights.make_config("improved", HP)
    config["hparams"][name] = value
    line = refused(info_of(weights_file(tmp_path / "big.npz", config, tensors={})))
    assert f"{name}={value} is above npsep's limit of {limits.HPARAM_LIMITS[name]}" in line


def test_mixture_consistency_must_be_a_boolean(tmp_path):
    config = dict(weights.make_config("improved", HP), mixture_consistency="false")
    refused(info_of(weights_file(tmp_path / "string.npz", config)),
            match="mixture_consistency must be true or false, got 'false'")


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_fifo_or_device_as_a_weights_file(kind, tmp_path):
    path = tmp_path / "pipe.npz"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path = "/dev/zero"
    refused(info_of(path), match="not a regular file")


# --- npsep info at the deepest accepted pyramid --------------------------------------------

def test_info_on_a_valid_model_at_the_depth_limit(tmp_path):
    """Before: the receptive field walked hop * 2**Q output positions (minutes here)."""
    hp = dict(HP, upsampling_depth=limits.HPARAM_LIMITS["upsampling_depth"], num_blocks=4,
              enc_kernel_size=101)
    path = tmp_path / "deep.npz"
    weights.save(path, weights.random_tensors("improved", hp), weights.make_config("improved", hp))
    result = run_limited(npsep_argv("info", path, "--json"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["receptive_field_samples"] == info.receptive_field(hp)


def widest_support_by_enumeration(hp):
    """The definition: the widest ``sample_support`` over two periods of output positions."""
    period = info.hop(hp) * 2 ** hp["upsampling_depth"]
    return max(b - a + 1 for a, b in map(lambda t: info.sample_support(hp, t),
                                         range(10 ** 6 * period, 10 ** 6 * period + 2 * period)))


@pytest.mark.parametrize("K", [3, 5, 7, 21, 41])
def test_receptive_field_equals_the_enumeration(K):
    for Q in range(1, 7):
        for N in (1, 2, 5):
            hp = dict(HP, enc_kernel_size=K, upsampling_depth=Q, num_blocks=N)
            assert info.receptive_field(hp) == widest_support_by_enumeration(hp), (K, Q, N)


def test_receptive_field_at_any_depth_is_immediate():
    hp = dict(HP, enc_kernel_size=21, upsampling_depth=30, num_blocks=16)
    result = run_limited([sys.executable, "-c", "from npsep import info; "
                          f"print(info.receptive_field({hp!r}))"])
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout) == 10 * (2 ** 29 * (4 * 16 + 1) + 2) + 1  # docs/costs.md


def test_the_limits_hold_every_published_model():
    for name, model in info.PUBLISHED.items():
        limits.check_hparam_bounds(model["hparams"])
        architectures.check_hparams(model["variant"], model["hparams"])
