"""The ``npsep`` command line: one sub-command per job.

Every error a user can cause (:class:`npsep.errors.NpsepError`) ends as one line
on stderr and exit status 1; ``--debug`` shows the traceback instead. Sub-command
modules are imported only when their command runs, so ``npsep convert`` never
loads Numba.
"""
import argparse
import sys

try:
    from .errors import NpsepError
except ImportError as e:  # a broken installation: say so in one line
    sys.exit(f"npsep: error: {e}")


def build_parser():
    """The ``argparse`` parser of ``npsep`` and its sub-commands (each names its ``run`` function)."""
    parser = argparse.ArgumentParser(prog="npsep", description="SuDoRM-RF source separation "
                                     "in NumPy and Numba.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("convert", help="convert a PyTorch SuDoRM-RF checkpoint to an npsep weights file",
                       description="Convert a PyTorch checkpoint (whole-model pickle, state dict or "
                       "Asteroid package) to an npsep .npz weights file, without PyTorch and "
                       "without executing code from the pickle.")
    p.add_argument("src", help="PyTorch checkpoint (.pt / .pth)")
    p.add_argument("dst", help="npsep weights file to write (.npz)")
    from weights_convert.cli import add_arguments
    add_arguments(p)
    p.set_defaults(run="weights_convert.cli:run")

    p = sub.add_parser("separate", help="separate audio files into their sources",
                       description="Separate audio files (WAV, FLAC, OGG, ... any rate, any "
                       "channel count; each channel is separated on its own) into "
                       "OUTDIR/<stem>_s1.<ext>, _s2, ... with the input's rate, length, channels "
                       "and format. Long files are processed in overlapping chunks in bounded memory.")
    from .separate import add_arguments as add_separate_arguments
    add_separate_arguments(p)
    p.set_defaults(run="npsep.separate:run")

    p = sub.add_parser("eval", help="SI-SDR and SI-SDRi of separated sources",
                       description="Permutation-invariant SI-SDR of estimated sources against "
                       "references, and SI-SDR improvement over the mixture (--mix). All files "
                       "must share sample rate, length and channel count.")
    p.add_argument("estimates", nargs="+", metavar="EST", help="estimated sources (audio files)")
    p.add_argument("--ref", nargs="+", required=True, metavar="REF",
                   help="reference sources, one per estimate (any order is matched)")
    p.add_argument("--mix", metavar="MIX", help="the mixture, for SI-SDRi")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run="npsep.metrics:run")

    p = sub.add_parser("info", help="describe a model: size, receptive field, cost",
                       description="Variant, hyper-parameters, parameter count, sample rate, "
                       "receptive field and multiply-adds per second of audio of a weights file "
                       "or of a published configuration (--preset).")
    p.add_argument("model", metavar="MODEL", nargs="?", help="npsep weights file (.npz)")
    from .info import PUBLISHED
    p.add_argument("--preset", choices=sorted(PUBLISHED), help="a published configuration "
                   "instead of a weights file")
    p.add_argument("--layers", action="store_true", help="add the per-layer table of parameters "
                   "and multiply-adds per second of audio")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run="npsep.info:run")
    return parser


def main(argv=None):
    """Run ``npsep`` with ``argv`` (default ``sys.argv[1:]``); return the exit status (0, 1, 130)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    module_name, func_name = args.run.split(":")
    try:
        import importlib
        run = getattr(importlib.import_module(module_name), func_name)
        return run(args) or 0
    except NpsepError as e:
        if args.debug:
            raise
        print(f"npsep {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"npsep {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
