"""The trace file: one ``.npz`` with an array per layer and a JSON metadata entry.

Entries: each layer's output under its PyTorch module path (``sm.0.proj_1x1.norm``), the
model's output under :data:`OUTPUT`, the input under ``__input__``, and ``__meta__``, a JSON
string with ``format`` (:data:`FORMAT`), ``names`` (the layers in the order they completed
in the forward pass, which is the order :mod:`npsep.parity.compare` searches for the first
divergence), ``source``, ``dtype`` and anything the writer adds (model config, versions).
Arrays keep PyTorch's layout, batch axis first. Readable with ``numpy.load`` alone.
"""
import json
import os

import numpy as np

from ..errors import NpsepError
from ..weights import write_npz

FORMAT = "npsep-trace/1"
OUTPUT = "output"
"""Name of the model's output (the root module, whose ``named_modules()`` path is empty)."""


class TraceError(NpsepError, ValueError):
    """A trace file that cannot be read or written."""


def save(path, layers, meta, x):
    """Write ``layers`` (ordered name -> array), the input ``x`` and ``meta`` (a JSON-able
    dict) to ``path``, all or nothing (a temporary file renamed into place)."""
    meta = {**meta, "format": FORMAT, "names": list(layers)}
    write_npz(path, {"__meta__": np.array(json.dumps(meta)), "__input__": np.asarray(x), **layers})


def load(path):
    """``(layers, meta)`` of a trace file: ordered name -> array, and the metadata dict."""
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["__meta__"]))
            if meta.get("format") != FORMAT:
                raise TraceError(f"{path}: not an npsep trace (format {meta.get('format')!r})")
            return {name: z[name] for name in meta["names"]}, meta
    except TraceError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise TraceError(f"{path}: not a readable npsep trace ({reason})") from None
