"""The npsep weights file: one ``.npz`` that carries a model's tensors and its config.

Format (version 1), readable with ``np.load(path, allow_pickle=False)``:

* every tensor under its PyTorch state-dict name (``"sm.0.proj_1x1.conv.weight"``),
  float32, exactly the shape PyTorch has;
* ``"__config__"``: a 0-d unicode array holding a JSON object::

      {"format": "npsep-weights", "format_version": 1,
       "variant": "improved",                 # one of npsep.architectures.VARIANTS
       "hparams": {"out_channels": 256, ...},  # npsep.architectures.hparam_names(variant)
       "sample_rate": 8000,
       "mixture_consistency": false,           # SPEC section 4, group-comm checkpoints
       "source": {"name": "...pt", "sha256": "...", "kind": "whole-model"}}

Nothing else may be in the file. :func:`load` checks all of that and raises
:class:`WeightsError` with one line naming the offending key.
"""
import importlib.resources
import json
import os
import tempfile
import zipfile

import numpy as np

from . import architectures
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
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".npsep-", suffix=".npz.part", dir=folder)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual mode
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **{CONFIG_KEY: np.array(json.dumps(config, sort_keys=True))}, **tensors)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load(path):
    """Read and validate a weights file; return ``(config, tensors)``."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise WeightsError(f"{path}: no such weights file")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise WeightsError(f"{path}: not a readable npsep weights file ({_first_line(e)})") from None
    if CONFIG_KEY not in arrays:
        raise WeightsError(f"{path}: no '{CONFIG_KEY}' entry: not an npsep weights file "
                           "(convert PyTorch checkpoints with 'npsep convert')")
    try:
        config = json.loads(str(arrays.pop(CONFIG_KEY)))
    except ValueError as e:
        raise WeightsError(f"{path}: '{CONFIG_KEY}' is not valid JSON ({e})") from None
    try:
        validate(config, arrays)
    except WeightsError as e:
        raise WeightsError(f"{path}: {e}") from None
    return config, arrays


def validate(config, tensors):
    """Check a config and its tensors; raise :class:`WeightsError` naming the first problem."""
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise WeightsError(f"config is not an {FORMAT} config")
    if config.get("format_version") != FORMAT_VERSION:
        raise WeightsError(f"format_version {config.get('format_version')!r} is not supported "
                           f"(this npsep reads version {FORMAT_VERSION})")
    rate = config.get("sample_rate")
    if not isinstance(rate, int) or isinstance(rate, bool) or rate <= 0:
        raise WeightsError(f"sample_rate must be a positive integer, got {rate!r}")
    try:
        expected = architectures.expected_shapes(config.get("variant"), config.get("hparams") or {})
    except ValueError as e:
        raise WeightsError(str(e)) from None
    for name, shape in expected.items():
        if name not in tensors:
            raise WeightsError(f"tensor {name!r} is missing")
        t = tensors[name]
        if not architectures.shape_matches(shape, t.shape):
            raise WeightsError(f"tensor {name!r} has shape {tuple(t.shape)}, "
                               f"expected {architectures.describe_shape(shape)}")
        if t.dtype != np.float32:
            raise WeightsError(f"tensor {name!r} has dtype {t.dtype}, expected float32")
        if not np.isfinite(t).all():
            raise WeightsError(f"tensor {name!r} has non-finite values (NaN or Inf)")
    unexpected = sorted(set(tensors) - set(expected))
    if unexpected:
        raise WeightsError(f"unexpected tensor {unexpected[0]!r} for variant {config['variant']!r}"
                           + (f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else ""))


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
    return (str(e).splitlines() or [type(e).__name__])[0]
