"""``npsep separate``: its options and what it prints.

One line per input on stdout (``INPUT -> OUTPUTS`` with the audio length and the speed
in times real time, or ``skipped``), errors as one line each on stderr, exit status 0
when every input was separated or skipped, 1 otherwise, 128 + the signal's number when
terminated (temporary files deleted, as on Ctrl-C).
"""
import argparse
import sys

import numpy as np

from .chunking import DEFAULT_CHUNK_SECONDS, MIN_CHUNK_SECONDS


def add_arguments(p):
    """The options of ``npsep separate``."""
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="audio files, or folders searched recursively; '-': standard input "
                   "(one audio stream)")
    p.add_argument("-o", "--outdir", required=True, metavar="OUTDIR",
                   help="folder for the separated sources (created if needed); '-': standard "
                   "output, one WAV stream with the sources' channels one after the other")
    p.add_argument("-m", "--model", metavar="MODEL", default=None,
                   help="npsep weights file (.npz) or model name ('npsep models' lists them; "
                   "downloaded once); default: the bundled model")
    done = p.add_mutually_exclusive_group()
    done.add_argument("--overwrite", action="store_true", help="replace existing output files")
    done.add_argument("--skip-existing", action="store_true",
                      help="skip inputs whose outputs all exist (resume a batch)")
    p.add_argument("-j", "--jobs", type=_positive_int, default=None, metavar="N",
                   help="files processed in parallel by N worker processes (default 1; with "
                   "--dask and no address: the local cluster's workers, default one per core)")
    p.add_argument("--dask", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="one task per file on a Dask cluster: the scheduler at ADDRESS "
                   "(tcp://host:8786), or without one a local cluster (then write --dask after "
                   "the inputs); records every file in OUTDIR/npsep-manifest.jsonl. Needs "
                   "pip install 'npsep[dask]'")
    p.add_argument("--chunk-seconds", type=_chunk_seconds, default=DEFAULT_CHUNK_SECONDS,
                   metavar="X", help=f"process in X-second chunks overlapping by half "
                   f"(default {DEFAULT_CHUNK_SECONDS:g}); 0: the whole file at once (exact, "
                   "memory grows with the length)")
    p.add_argument("--glob", action="append", metavar="PATTERN", dest="patterns",
                   help="in folders, take only files matching PATTERN (shell style: * ? "
                   "[seq], and ** for any number of folders; case-sensitive, matched from the "
                   "right of the path relative to the folder: '*.wav', 'speech/**/*.flac'); "
                   "repeatable. Default: common audio extensions")
    p.add_argument("--format", dest="fmt", metavar="FORMAT", type=str.upper,
                   help="output container (WAV, FLAC, OGG, MP3, AIFF, ...); default: the input's")
    p.add_argument("--subtype", metavar="ENCODING", type=str.upper,
                   help="output encoding (PCM_16, PCM_24, FLOAT, VORBIS, OPUS, MPEG_LAYER_III, "
                   "...); default: the input's where possible, else the format's default")
    p.add_argument("--compression", type=_unit_float, metavar="LEVEL",
                   help="compression level from 0 (best quality) to 1 (smallest) for FLAC, "
                   "Vorbis, Opus and MP3 outputs")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress, no compile notice and no line per written file")


def _positive_int(s):
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {s!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {v}")
    return v


def _number(s):
    try:
        return float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {s!r}") from None


def _chunk_seconds(s):
    v = _number(s)
    if not np.isfinite(v) or v < 0 or 0 < v < MIN_CHUNK_SECONDS:
        raise argparse.ArgumentTypeError(f"must be 0 (whole file) or at least "
                                         f"{MIN_CHUNK_SECONDS}, got {s}")
    return v


def _unit_float(s):
    v = _number(s)
    if not 0 <= v <= 1:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, got {s}")
    return v


def run(args):
    """``npsep separate``: exit status 0 if every input was separated or skipped, else 1."""
    from . import _jit
    from .batch import separate_files
    from .outputs import raise_on_termination
    raise_on_termination()
    debug = getattr(args, "debug", False)
    if args.quiet:
        _jit.compile_notice(False)

    def on_result(r):
        if r.ok:
            if not args.quiet and args.outdir != "-":
                print(_result_line(r), flush=True)
        else:
            if debug and r.detail:
                print(r.detail.rstrip(), file=sys.stderr)
            print(f"npsep separate: error: {r.error}", file=sys.stderr, flush=True)

    if args.outdir == "-" and len(args.inputs) != 1:
        from .errors import SeparationError
        raise SeparationError("-o - (standard output) takes exactly one input")
    options = dict(patterns=args.patterns, overwrite=args.overwrite,
                   skip_existing=args.skip_existing, fmt=args.fmt, subtype=args.subtype,
                   compression=args.compression, chunk_seconds=args.chunk_seconds,
                   show_progress=False if args.quiet else None, on_result=on_result)
    if args.dask is None:
        results = separate_files(args.inputs, args.outdir, args.model, jobs=args.jobs or 1,
                                 **options)
    else:
        results = _separate_on_dask(args, options)
    failed = sum(not r.ok for r in results)
    if failed and len(results) > 1:
        print(f"npsep separate: {failed} of {len(results)} inputs failed", file=sys.stderr)
    return 1 if failed else 0


def _separate_on_dask(args, options):
    """``--dask [ADDRESS]``: connect (or start a local cluster), then one task per file."""
    import os

    from .batch import load_cluster_module, separate_files
    from .errors import SeparationError
    address = args.dask
    if address and "://" not in address and os.path.exists(address):
        raise SeparationError(f"--dask took {address!r} as the scheduler's address; write "
                              "--dask after the inputs, or --dask=ADDRESS")
    if args.outdir == "-":
        raise SeparationError("--dask writes the sources to a folder, not to standard output")
    if address and args.jobs is not None:
        raise SeparationError("--jobs sets the workers of a local cluster; with --dask ADDRESS "
                              "the cluster has its own")
    cluster = load_cluster_module()
    with cluster.connect(address or None, args.jobs) as client:
        link = cluster.dashboard_link(client)
        if link and not args.quiet:
            print(f"npsep separate: Dask dashboard: {link}", file=sys.stderr, flush=True)
        return separate_files(args.inputs, args.outdir, args.model, client=client, **options)


def _result_line(r):
    if r.skipped:
        return f"{r.input}: skipped (its outputs exist)"
    speed = f", {r.audio_seconds / r.seconds:.1f}x real time" if r.seconds > 0 else ""
    note = f"; {r.note}" if r.note else ""
    return f"{r.input} -> {', '.join(r.outputs)} ({r.audio_seconds:.1f} s of audio{speed}{note})"
