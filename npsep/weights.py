"""The npsep weights file: one ``.npz`` that carries a model's tensors and its config.

Format (version 1), readable with ``np.load(path, allow_pickle=False)``:

* every tensor under its PyTorch state-dict name (``"sm.0.proj_1x1.conv.weight"``),
  float32, exactly the shape PyTorch has;
* ``"__config__"``: a 0-d unicode array holding a JSON object::

      {"format": "npsep-weights", "format_version": 1,
       "variant": "improved",                 # one of npsep.architectures.VARIANTS
       "hparams": {"out_channels": 256, ...},  # npsep.architectures.hparam_names(variant)
       "sample_rate": 8000,
       "mixture_consistency": false,           # true for group-communication checkpoints (docs/recipe.md)
       "source": {"name": "...pt", "sha256": "...", "kind": "whole-model"}}

Nothing else may be in the file. :func:`load` checks all of that and raises
:class:`WeightsError` with one line naming the offending key. It reads nothing
it has not checked first (limits in :mod:`npsep.limits`): a regular file only;
the config entry, bounded in size, before any tensor; the entry names against the
tensors the config needs; each entry's ``.npy`` header (shape, dtype) and size
before its data.
"""
import contextlib
import importlib.resources
import json
import math
import os
import tempfile
import zipfile

import numpy as np

from . import architectures, limits
from .errors import WeightsError

FORMAT = "npsep-weights"
FORMAT_VERSION = 1
CONFIG_KEY = "__config__"
DEFAULT_SAMPLE_RATE = 8000
"""Hz; every published SuDoRM-RF checkpoint is an 8 kHz model."""


def default_model_path():
    """Path of the model bundled with npsep (``npsep/data/default_model.npz``), or ``None``."""
    path = importlib.resources.files("npsep") / "data" / "default_model.npz"
    return os.fspath(path) if path.is_file() else None


def make_config(variant, hparams, sample_rate=DEFAULT_SAMPLE_RATE, mixture_consistency=False, source=None):
    """Build (and validate) the config dict stored in a weights file."""
    architectures.check_hparams(variant, hparams)
    limits.check_hparam_bounds(hparams)
    if not isinstance(sample_rate, (int, np.integer)) or isinstance(sample_rate, bool) or sample_rate <= 0:
        raise WeightsError(f"sample_rate must be a positive integer, got {sample_rate!r}")
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "variant": variant,
            "hparams": {k: hparams[k] for k in architectures.hparam_names(variant)},
            "sample_rate": int(sample_rate), "mixture_consistency": bool(mixture_consistency),
            "source": dict(source or {})}


def save(path, tensors, config):
    """Validate ``tensors`` against ``config`` and write them atomically to ``path``.

    The file appears under its final name only once it is complete: it is
    written to a temporary file in the same folder and renamed.
    """
    tensors = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}
    validate(config, tensors)
    write_npz(path, {CONFIG_KEY: np.array(json.dumps(config, sort_keys=True)), **tensors})


def write_npz(path, arrays):
    """Write ``arrays`` (name -> array) as an uncompressed ``.npz`` at ``path``, all or
    nothing: a temporary file in the same folder, renamed into place once complete."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".npsep-", suffix=".npz.part", dir=folder)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual mode
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load(path):
    """Read and validate a weights file; return ``(config, tensors)``."""
    path = os.fspath(path)
    limits.check_regular_file(path, WeightsError, "weights file")
    try:
        with zipfile.ZipFile(path) as archive:
            return _read(archive)
    except WeightsError as e:
        raise WeightsError(f"{path}: {e}") from None
    except MemoryError:
        raise WeightsError(f"{path}: out of memory while reading the weights file") from None
    except Exception as e:  # any damage to the zip or an .npy entry
        raise WeightsError(f"{path}: not a readable npsep weights file ({_first_line(e)})") from None


def _read(archive):
    """``(config, tensors)`` from an open weights file, each entry checked before it is read."""
    entries = {info.filename[:-len(".npy")] if info.filename.endswith(".npy") else info.filename: info
               for info in archive.infolist()}
    if CONFIG_KEY not in entries:
        raise WeightsError(f"no '{CONFIG_KEY}' entry: not an npsep weights file "
                           "(convert PyTorch checkpoints with 'npsep convert')")
    config = _read_config(archive, entries.pop(CONFIG_KEY))
    expected = validate_config(config)
    _check_names(config, expected, entries)
    tensors = {}
    for name, shape in expected.items():
        with _npy_entry(archive, entries[name], limits.MAX_TENSOR_BYTES) as (f, header_shape, dtype, fortran):
            _check_tensor(name, shape, header_shape, dtype)
            tensors[name] = _npy_data(f, header_shape, dtype, fortran)
        _check_finite(name, tensors[name])
    return config, tensors


def _read_config(archive, info):
    """The JSON object of the ``__config__`` entry: a 0-d unicode array of bounded size."""
    with _npy_entry(archive, info, limits.MAX_CONFIG_BYTES) as (f, shape, dtype, fortran):
        if shape != () or dtype.kind != "U":
            raise WeightsError(f"'{CONFIG_KEY}' is not a JSON string (a {dtype} array of shape {shape})")
        text = str(_npy_data(f, shape, dtype, fortran))
    try:
        return json.loads(text)
    except RecursionError:
        raise WeightsError(f"'{CONFIG_KEY}' is not valid JSON (nested too deep)") from None
    except ValueError as e:
        raise WeightsError(f"'{CONFIG_KEY}' is not valid JSON ({e})") from None


@contextlib.contextmanager
def _npy_entry(archive, info, limit):
    """An ``.npy`` zip entry opened and its header read: ``(file at the data, shape, dtype,
    fortran_order)``. The entry must be within ``limit`` bytes and exactly as long as its header
    says, so that reading it is bounded; the caller checks the dtype before reading the data."""
    limits.check_zip_member(info, limit, WeightsError)
    with archive.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version not in ((1, 0), (2, 0)):
            raise WeightsError(f"entry {info.filename[:80]!r} has .npy version {version}")
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran_order, dtype = read_header(f)
        if f.tell() + math.prod(shape) * dtype.itemsize != info.file_size:
            raise WeightsError(f"entry {info.filename[:80]!r} is {info.file_size} bytes, not what its "
                               f"header ({dtype}, shape {shape}) says")
        yield f, shape, dtype, fortran_order


def _npy_data(f, shape, dtype, fortran_order):
    """The array whose data ``f`` is at (after an ``.npy`` header, checked by :func:`_npy_entry`),
    read into place: one pass, no second copy."""
    a = np.empty(shape[::-1] if fortran_order else shape, dtype)
    f.readinto(a.reshape(-1).view(np.uint8))
    return a.T if fortran_order else a


def validate(config, tensors):
    """Check a config and its tensors; raise :class:`WeightsError` naming the first problem."""
    expected = validate_config(config)
    _check_names(config, expected, tensors)
    for name, shape in expected.items():
        t = tensors[name]
        _check_tensor(name, shape, t.shape, t.dtype)
        _check_finite(name, t)


def validate_config(config):
    """Check a config (hyper-parameter limits included); return the tensor shapes it needs."""
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise WeightsError(f"config is not an {FORMAT} config")
    if config.get("format_version") != FORMAT_VERSION:
        raise WeightsError(f"format_version {_short(config.get('format_version'))} is not supported "
                           f"(this npsep reads version {FORMAT_VERSION})")
    rate = config.get("sample_rate")
    if not isinstance(rate, int) or isinstance(rate, bool) or rate <= 0:
        raise WeightsError(f"sample_rate must be a positive integer, got {_short(rate)}")
    if not isinstance(config.get("mixture_consistency", False), bool):
        raise WeightsError("mixture_consistency must be true or false, got "
                           f"{_short(config['mixture_consistency'])}")
    variant, hparams = config.get("variant"), config.get("hparams")
    if not isinstance(variant, str) or variant not in architectures.VARIANTS:
        raise WeightsError(f"unknown variant {_short(variant)}; expected one of "
                           f"{', '.join(architectures.VARIANTS)}")
    if not isinstance(hparams, dict):
        raise WeightsError(f"hparams must be a JSON object, got {_short(hparams)}")
    try:
        limits.check_hparam_bounds(hparams)
        return architectures.expected_shapes(variant, hparams)
    except (ValueError, TypeError) as e:
        raise WeightsError(str(e)) from None


def _check_names(config, expected, names):
    """Every tensor ``expected`` is among ``names``, and nothing else is."""
    for name in expected:
        if name not in names:
            raise WeightsError(f"tensor {name!r} is missing")
    unexpected = sorted(set(names) - set(expected))
    if unexpected:
        raise WeightsError(f"unexpected tensor {unexpected[0][:80]!r} for variant "
                           f"{config['variant']!r}"
                           + (f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else ""))


def _check_tensor(name, expected, shape, dtype):
    if not architectures.shape_matches(expected, shape):
        raise WeightsError(f"tensor {name!r} has shape {tuple(shape)}, "
                           f"expected {architectures.describe_shape(expected)}")
    if dtype != np.float32:
        raise WeightsError(f"tensor {name!r} has dtype {dtype}, expected float32")


def _check_finite(name, t):
    if not np.isfinite(t).all():
        raise WeightsError(f"tensor {name!r} has non-finite values (NaN or Inf)")


def random_tensors(variant, hparams, seed=0, scale=0.3):
    """Random float32 tensors with the shapes a variant needs: for tests and benchmarks.

    Norm gains are drawn around 1 so that random models stay well conditioned.
    """
    rng = np.random.default_rng(seed)
    tensors = {}
    for name, shape in architectures.expected_shapes(variant, hparams).items():
        if shape[0] == architectures.PRELU:
            shape = (shape[1],)
        t = rng.standard_normal(shape) * scale
        module, param = name.rsplit(".", 1)
        if param == "gamma" or (param == "weight" and module.split(".")[-1] in _NORM_MODULES):
            t = 1.0 + t
        tensors[name] = t.astype(np.float32)
    return tensors


_NORM_MODULES = ("ln", "norm", "ln_mask_in")


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _first_line(e):
    return (str(e).splitlines() or [type(e).__name__])[0][:200]


def _short(value):
    """A one-line, bounded ``repr`` of a config value, for messages."""
    text = " ".join(repr(value).split())
    return text if len(text) <= 40 else text[:37] + "..."
