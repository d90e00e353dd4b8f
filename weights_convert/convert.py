"""Convert one PyTorch SuDoRM-RF checkpoint to an npsep weights file.

The steps: read the zip safely (:mod:`.torch_zip`), recognise the kind of
checkpoint (:mod:`.checkpoint`), read the variant and hyper-parameters off the
tensors (:mod:`.infer`), check them against what the checkpoint and the user
declare, keep exactly the tensors npsep needs (:mod:`.match`) and write them
with :func:`npsep.weights.save`, which writes atomically: a failed conversion
leaves no output file.
"""
import hashlib
import os

from npsep import architectures, limits, weights
from npsep.weights import DEFAULT_SAMPLE_RATE
from npsep.errors import ConvertError

from . import checkpoint, infer, match, torch_zip

SETTINGS = ("variant", "sample_rate", "mixture_consistency")
"""Overrides that are not hyper-parameters."""


def convert(src, dst, overwrite=False, note=None, **overrides):
    """Convert checkpoint ``src`` to the npsep weights file ``dst``; return the config written.

    ``overrides`` (``None`` means "not given") supply what a checkpoint cannot
    tell: ``variant``, ``sample_rate``, ``mixture_consistency``, ``mask_act``;
    any hyper-parameter of :mod:`npsep.architectures` may be given too. An override
    must agree with the tensors and with what the checkpoint declares.
    ``note(text)`` is told about tensors that were dropped.
    """
    overrides = {k: v for k, v in overrides.items() if v is not None}
    _check_override_names(overrides)
    src, dst = os.fspath(src), os.fspath(dst)
    _check_paths(src, dst, overwrite)
    found = checkpoint.read(torch_zip.load(src))
    variant = _variant(found, overrides.get("variant"))
    hp = infer.infer_hparams(variant, found.tensors)
    _check_bounds(hp)
    _check_applicable(variant, overrides)
    for name in hp:
        _agree(name, hp[name], found.hparams.get(name), found.origin)
        _agree(name, hp[name], overrides.get(name), "the caller")
    if "mask_act" in architectures.hparam_names(variant):
        hp["mask_act"] = _mask_act(variant, found, overrides.get("mask_act"))
    tensors = match.select_tensors(variant, hp, found.tensors, note or (lambda text: None))
    config = _config(variant, hp, found, overrides, src)
    _save(dst, tensors, config)
    return config


def _check_override_names(overrides):
    """A misspelt keyword is a programming error, not a user's: TypeError like any call."""
    known = set(SETTINGS) | {n for v in architectures.VARIANTS for n in architectures.hparam_names(v)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TypeError(f"convert() got unknown overrides: {', '.join(unknown)}")


def _check_applicable(variant, overrides):
    """A hyper-parameter override must be one the variant has (e.g. no mask_act for 'improved')."""
    foreign = sorted(set(overrides) - set(SETTINGS) - set(architectures.hparam_names(variant)))
    if foreign:
        raise ConvertError(f"{foreign[0]} does not apply to the {variant!r} variant")


def _check_bounds(hp):
    """Hyper-parameters read off the tensors (``sm.999999999.x``) within npsep's limits, before
    anything is built from them."""
    try:
        limits.check_hparam_bounds(hp)
    except ValueError as e:
        raise ConvertError(f"the checkpoint's tensors show a model npsep does not accept: {e}") from None


def _check_paths(src, dst, overwrite):
    """Fail early, before reading anything, on a source that is not a regular file (a FIFO would
    block) or a destination in the way."""
    limits.check_regular_file(src, ConvertError)
    if os.path.isdir(dst):
        raise ConvertError(f"{dst} is a directory; give the weights file to write")
    if os.path.exists(dst) and not overwrite:
        raise ConvertError(f"{dst} already exists; pass --overwrite to replace it")


def _variant(found, requested):
    """The variant the tensor names show; a declared or requested one must be the same."""
    variant = infer.detect_variant(found.tensors)
    if found.variant not in (None, variant):
        raise ConvertError(f"{found.origin} says {found.variant!r} but its tensors are "
                           f"those of {variant!r}")
    if requested is not None and requested != variant:
        raise ConvertError(f"--variant {requested} disagrees with the checkpoint, whose tensors "
                           f"are those of {variant!r}")
    return variant


def _agree(name, shown, declared, origin):
    """A declared hyper-parameter must be the one the tensor shapes show."""
    if declared is not None and declared != shown:
        raise ConvertError(f"{origin} gives {name}={declared!r} but the tensor shapes show "
                           f"{name}={shown!r}")


def _mask_act(variant, found, requested):
    """Asteroid's mask nonlinearity: declared, else requested, else the variant's default."""
    declared = found.hparams.get("mask_act")
    _agree_setting("mask_act", declared, requested, found.origin)
    mask_act = _first(requested, declared, architectures.DEFAULT_MASK_ACT[variant])
    if mask_act not in architectures.MASK_ACTS:
        raise ConvertError(f"mask_act {mask_act!r} is not supported (npsep has "
                           f"{', '.join(architectures.MASK_ACTS)})")
    return mask_act


def _agree_setting(name, declared, requested, origin):
    """A requested setting the shapes cannot show must not contradict the checkpoint."""
    if declared is not None and requested is not None and declared != requested:
        raise ConvertError(f"--{name.replace('_', '-')} {requested} disagrees with "
                           f"{origin}: {name}={declared!r}")


def _config(variant, hp, found, overrides, src):
    """The npsep config: sample rate and mixture consistency as declared, requested or default."""
    _agree_setting("sample_rate", found.sample_rate, overrides.get("sample_rate"), found.origin)
    rate = _first(overrides.get("sample_rate"), found.sample_rate, DEFAULT_SAMPLE_RATE)
    if isinstance(rate, bool) or not isinstance(rate, int) or rate <= 0:
        raise ConvertError(f"the sample rate must be a positive integer, got {rate!r}")
    # the authors use their group-communication checkpoints with mixture consistency
    consistency = overrides.get("mixture_consistency", architectures.architecture(variant).mixture_consistency)
    source = {"name": os.path.basename(src), "sha256": _sha256(src), "kind": found.kind}
    try:
        return weights.make_config(variant, hp, rate, consistency, source)
    except ValueError as e:
        raise ConvertError(str(e)) from None


def _first(*values):
    """The first value that is not ``None``."""
    return next(v for v in values if v is not None)


def _save(dst, tensors, config):
    """Write atomically; what npsep refuses to load, or cannot write, is a ConvertError."""
    try:
        weights.save(dst, tensors, config)
    except ValueError as e:  # WeightsError: e.g. non-finite values in the checkpoint
        raise ConvertError(f"the converted weights are not valid: {e}") from None
    except OSError as e:
        raise ConvertError(f"cannot write {dst}: {e.strerror or e}") from None


def _sha256(path):
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
