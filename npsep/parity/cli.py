"""The ``npsep trace``, ``npsep compare`` and ``npsep golden`` sub-commands."""
import os

import numpy as np

from .. import __version__
from ..errors import NpsepError
from .compare import DEFAULT_RTOL


def add_trace_arguments(p):
    p.add_argument("model", metavar="MODEL", help="npsep weights file (.npz) or model name")
    p.add_argument("input", metavar="INPUT", help="an audio file at the model's rate, or a .npy "
                   "array (T,), (B, T) or (B, 1, T)")
    p.add_argument("-o", "--output", required=True, metavar="TRACE", help="trace file to write (.npz)")
    p.add_argument("--oracle", action="store_true", help="every module's output, from the float64 "
                   "oracle (default: the fast path's encoder, bottleneck, blocks and output, float32)")


def add_compare_arguments(p):
    p.add_argument("a", metavar="A", help="reference trace (.npz)")
    p.add_argument("b", metavar="B", help="trace to check against A (.npz)")
    p.add_argument("--rtol", type=float, default=DEFAULT_RTOL, metavar="X",
                   help=f"relative max error allowed per layer (default {DEFAULT_RTOL:g})")
    p.add_argument("--json", action="store_true", help="print JSON")


def add_golden_arguments(p):
    p.add_argument("model", metavar="MODEL", help="npsep weights file (.npz) or model name")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="folder to create (new or empty)")
    p.add_argument("--traces", action="store_true", help="also write each case's float64 oracle trace")


def _load_model(spec):
    from ..model import load
    return load(spec)


def read_input(path, sample_rate):
    """The waveforms ``[B, T]`` (float32) of a ``.npy`` array or an audio file (channels as the batch)."""
    if os.fspath(path).lower().endswith(".npy"):
        try:
            x = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise NpsepError(f"{path}: not a readable .npy array ({e})") from None
        if x.ndim == 3 and x.shape[1] == 1:
            x = x[:, 0]
        x = x[None] if x.ndim == 1 else x
        if x.ndim != 2 or x.shape[-1] < 1 or not np.issubdtype(x.dtype, np.number) \
                or np.iscomplexobj(x) or not np.isfinite(x).all():
            raise NpsepError(f"{path}: expected finite real samples of shape (T,), (B, T) or (B, 1, T), "
                             f"got {x.dtype} {x.shape}")
        return x.astype(np.float32)
    from .. import audio
    x, rate = audio.read(path)
    if rate != sample_rate:
        raise NpsepError(f"{path}: {rate} Hz, the model's rate is {sample_rate} Hz (resample it first)")
    return np.ascontiguousarray(x.T, dtype=np.float32)


def run_trace(args):
    """``npsep trace``: write the trace of one forward pass."""
    from . import tracefile
    from .trace import trace, trace_fast
    model = _load_model(args.model)
    x = read_input(args.input, model.sample_rate)
    if args.oracle:
        layers = trace(model.variant, model.hparams, model.tensors, x)
        mode = "oracle: every module's output, float64"
    else:
        layers = trace_fast(model, x)
        mode = "fast: encoder, bottleneck, blocks and output of the fused fast path, float32"
    meta = {"source": "npsep", "npsep_version": __version__, "mode": mode,
            "dtype": "float64" if args.oracle else "float32", "config": model.config,
            "input": os.path.basename(os.fspath(args.input))}
    try:
        tracefile.save(args.output, layers, meta, x[:, None])
    except OSError as e:
        raise NpsepError(f"{args.output}: cannot write the trace ({e.strerror or e})") from None
    print(f"{args.output}: {len(layers)} layers ({mode})")
    return 0


def run_compare(args):
    """``npsep compare``: the per-layer table (or JSON); exit 1 if any layer is beyond ``--rtol``."""
    from .compare import compare, format_report
    from .tracefile import load
    if not args.rtol > 0:
        raise NpsepError(f"--rtol must be positive, got {args.rtol}")
    report = compare(load(args.a)[0], load(args.b)[0], args.rtol)
    if args.json:
        from ..cli import print_json
        print_json(report)
    else:
        print(format_report(report))
    return 0 if report["first_divergence"] is None else 1


def run_golden(args):
    """``npsep golden``: write a golden set."""
    from .golden import write
    model = _load_model(args.model)
    try:
        manifest = write(model, args.output, traces=args.traces)
    except OSError as e:
        raise NpsepError(f"{args.output}: cannot write the golden set ({e.strerror or e})") from None
    print(f"{args.output}: {len(manifest['cases'])} cases, relative tolerance {manifest['rtol']:g}")
    return 0
