"""Golden sets: inputs at awkward lengths and npsep's outputs, for a port's CI.

``npsep golden MODEL -o DIR`` writes ``DIR/manifest.json`` and one ``<case>.npz`` per case
(``input`` float32 ``[1, 1, T]``, ``output`` float32 ``[1, S, T]`` from npsep's fast path),
and with ``--traces`` a ``<case>.trace.npz`` (the float64 oracle trace of
:mod:`npsep.parity.trace`). The lengths are those that break ports: one and two samples,
an odd length, one sample either side of the encoder hop and of the padding multiple (the
input is zero-padded to whole pyramid levels), twice the multiple plus one, and a long
input. :func:`npsep.testing.assert_parity` checks a port against the set.
"""
import json
import os
import shutil
import tempfile

import numpy as np

from ..architectures import pad_multiple
from ..errors import NpsepError

FORMAT = "npsep-golden/1"
RTOL = 1e-4
"""Relative max error ``max|y - ref| / max|ref|`` allowed per case: float32 against float32
differs by rounding only (~1e-6 on the published models); a real mistake gives 1e-3 or more."""
LONG_SECONDS = 4


class GoldenError(NpsepError, ValueError):
    """A golden folder that cannot be written or read."""


def cases(variant, hp, sample_rate):
    """``[(name, length, why)]``: the golden inputs' lengths, distinct, shortest first."""
    hop, n = hp["enc_kernel_size"] // 2, pad_multiple(variant, hp)
    wanted = [("one_sample", 1, "a single sample"), ("two_samples", 2, "two samples"),
              ("odd_7", 7, "an odd length shorter than the encoder kernel"),
              ("hop_minus_1", hop - 1, "one sample short of the encoder hop"),
              ("hop_plus_1", hop + 1, "one sample past the encoder hop"),
              ("pad_minus_1", n - 1, f"one sample short of the padding multiple {n}"),
              ("pad_exact", n, f"exactly the padding multiple {n}"),
              ("pad_plus_1", n + 1, f"one sample past the padding multiple {n}"),
              ("twice_pad_plus_1", 2 * n + 1, "an odd length over two padding multiples"),
              ("long", LONG_SECONDS * sample_rate + 1, f"{LONG_SECONDS} s and one sample")]
    seen, out = set(), []
    for name, length, why in sorted(wanted, key=lambda c: c[1]):
        if length >= 1 and length not in seen:
            seen.add(length)
            out.append((name, length, why))
    return out


def case_input(length, seed):
    """A reproducible test mixture ``[1, 1, length]``: two tones in noise, float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    x = 0.5 * np.sin(0.031 * t) + 0.3 * np.sign(np.sin(0.0047 * t)) + 0.2 * rng.standard_normal(length)
    return x.astype(np.float32)[None, None]


def write(model, folder, traces=False, seed=0):
    """Write the golden set of a loaded :class:`npsep.Model` into ``folder`` (new or empty),
    all or nothing; return the manifest."""
    from .trace import trace
    from .tracefile import save
    folder = os.fspath(folder)
    if os.path.exists(folder) and (not os.path.isdir(folder) or os.listdir(folder)):
        raise GoldenError(f"{folder}: exists and is not an empty folder")
    parent = os.path.dirname(os.path.abspath(folder))
    if not os.path.isdir(parent):
        raise GoldenError(f"{parent}: no such folder")
    tmp = tempfile.mkdtemp(prefix=".golden-", dir=parent)
    try:
        manifest = {"format": FORMAT, "rtol": RTOL,
                    "metric": "max|y - output| / max|output| over the case, y the port's output",
                    "call": "forward_fn(input) with input float32 [1, 1, T] returns [1, S, T]",
                    "config": model.config, "cases": []}
        for k, (name, length, why) in enumerate(cases(model.variant, model.hparams, model.sample_rate)):
            x = case_input(length, seed + k)
            np.savez(os.path.join(tmp, f"{name}.npz"), input=x, output=model.forward(x))
            entry = {"name": name, "length": length, "why": why, "file": f"{name}.npz"}
            if traces:
                entry["trace"] = f"{name}.trace.npz"
                save(os.path.join(tmp, entry["trace"]), trace(model.variant, model.hparams, model.tensors, x[:, 0]),
                     {"source": "npsep oracle", "dtype": "float64", "config": model.config}, x)
            manifest["cases"].append(entry)
        with open(os.path.join(tmp, "manifest.json"), "w") as f:
            json.dump(manifest, f, indent=2)
        if os.path.isdir(folder):
            os.rmdir(folder)
        os.rename(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def read(folder):
    """``(manifest, [(entry, input, output)])`` of a golden folder."""
    folder = os.fspath(folder)
    try:
        with open(os.path.join(folder, "manifest.json")) as f:
            manifest = json.load(f)
        if manifest.get("format") != FORMAT:
            raise GoldenError(f"{folder}: not an npsep golden set (format {manifest.get('format')!r})")
        loaded = []
        for entry in manifest["cases"]:
            with np.load(os.path.join(folder, entry["file"]), allow_pickle=False) as z:
                loaded.append((entry, z["input"], z["output"]))
        return manifest, loaded
    except GoldenError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise GoldenError(f"{folder}: not a readable npsep golden set ({e})") from None
