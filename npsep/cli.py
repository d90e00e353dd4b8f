"""The ``npsep`` command line (also ``python -m npsep``): one sub-command per job.

Every error a user can cause (:class:`npsep.errors.NpsepError`) ends as one line on
stderr and exit status 1; ``--debug`` (before or after the sub-command) shows the
traceback instead. Only the sub-command being run has its options built and its module
imported, so ``npsep convert`` never loads Numba and ``npsep separate`` never loads the
converter. JSON output is strict: non-finite numbers are written as ``null``.

Exit status: 0 success, 1 an error (or, for ``separate``, any input failed), 2 a usage
error, 130 interrupted (Ctrl-C), 128 + N terminated by signal N (SIGTERM, SIGHUP), 141
(128 + SIGPIPE) when stdout's reader went away (``npsep models --json | head``), quietly.

The program itself (the console script, ``python -m npsep``) is :func:`command`: :func:`main`
in a process tuned for a short life (see there).
"""
import argparse
import gc
import sys

try:
    from .errors import NpsepError
except ImportError as e:  # a broken installation: say so in one line
    sys.exit(f"npsep: error: {e}")


def _convert(p):
    p.add_argument("src", help="PyTorch checkpoint (.pt / .pth)")
    p.add_argument("dst", help="npsep weights file to write (.npz)")
    from weights_convert.cli import add_arguments
    add_arguments(p)
    p.set_defaults(run="weights_convert.cli:run")


def _separate(p):
    from .separate_cli import add_arguments
    add_arguments(p)
    p.set_defaults(run="npsep.separate_cli:run")


def _eval(p):
    p.add_argument("estimates", nargs="*", metavar="EST", help="estimated sources (audio files)")
    p.add_argument("--ref", nargs="+", action="extend", required=True, metavar="REF",
                   help="reference sources, one per estimate (any order is matched); give the "
                   "estimates first, or repeat --ref for each reference")
    p.add_argument("--mix", metavar="MIX", help="the mixture, for SI-SDRi")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run="npsep.cli:run_eval")


def _info(p):
    p.add_argument("model", metavar="MODEL", nargs="?",
                   help="npsep weights file (.npz) or model name; default: the bundled model")
    p.add_argument("-m", "--model", dest="model_name", metavar="NAME",
                   help="a model by name ('npsep models' lists them), or a weights file")
    from .info import PUBLISHED
    p.add_argument("--preset", choices=sorted(PUBLISHED), help="a published configuration "
                   "instead of a weights file")
    p.add_argument("--layers", action="store_true", help="add the per-layer table of parameters "
                   "and multiply-adds per second of audio")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run="npsep.cli:run_info")


def _warmup(p):
    p.add_argument("-m", "--model", metavar="MODEL", default=None,
                   help="npsep weights file (.npz) or model name; default: the bundled model")
    p.set_defaults(run="npsep.cli:run_warmup")


def _models(p):
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run="npsep.models:run_models")


def _download(p):
    p.add_argument("names", nargs="+", metavar="NAME", help="model names (see 'npsep models')")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run="npsep.models:run_download")


def _parity(name):
    def add(p):
        from .parity import cli
        getattr(cli, f"add_{name}_arguments")(p)
        p.set_defaults(run=f"npsep.parity.cli:run_{name}")
    return add


COMMANDS = {
    "convert": (_convert, "convert a PyTorch SuDoRM-RF checkpoint to an npsep weights file",
                "Convert a PyTorch checkpoint (whole-model pickle, state dict or Asteroid "
                "package) to an npsep .npz weights file, without PyTorch and without executing "
                "code from the pickle."),
    "separate": (_separate, "separate audio files into their sources",
                 "Separate audio files (WAV, FLAC, OGG, MP3, ... any rate, any channel count; "
                 "each channel is separated on its own) into OUTDIR/<stem>_s1.<ext>, _s2, ... "
                 "with the input's rate, length, channels and format. Long files are processed "
                 "in overlapping chunks in bounded memory; all of a file's outputs appear "
                 "together, or none."),
    "eval": (_eval, "SI-SDR and SI-SDRi of separated sources",
             "Permutation-invariant SI-SDR of estimated sources against references, and SI-SDR "
             "improvement over the mixture (--mix). All files must share sample rate, length "
             "and channel count. Usage: npsep eval EST1 EST2 --ref REF1 REF2 [--mix MIX]."),
    "info": (_info, "describe a model: size, receptive field, cost",
             "Variant, hyper-parameters, parameter count, sample rate, receptive field and "
             "multiply-adds per second of audio of a weights file (default: the bundled model) "
             "or of a published configuration (--preset)."),
    "warmup": (_warmup, "compile the kernels ahead (for images and CI)",
               "Compile the Numba kernels a model runs (or load them from the cache) and "
               "store them in npsep's cache folder, so that the first separation starts at once."),
    "models": (_models, "list the models that -m NAME accepts",
               "The catalogue of models by name: the bundled default and the checkpoints "
               "published by the SuDoRM-RF authors, with their size, training data, the SI-SDRi "
               "reported for them, and whether they are cached. $NPSEP_CATALOGUE replaces the "
               "catalogue."),
    "download": (_download, "download, verify and convert models by name",
                 "Download published models into the cache folder (NPSEP_HOME/models), check "
                 "size and SHA-256, and convert them without PyTorch; a cached model is not "
                 "downloaded again."),
    "trace": (_parity("trace"), "every layer's output of one forward pass, for checking a port",
              "Write every intermediate tensor of one forward pass to an .npz, named by the "
              "PyTorch module path that produces it (see docs/porting.md)."),
    "compare": (_parity("compare"), "compare two traces layer by layer",
                "Per-layer shape, max abs error, relative max error and cosine of trace B "
                "against trace A, and the first layer beyond --rtol; exit status 1 if any."),
    "golden": (_parity("golden"), "write a golden set of inputs and outputs for a port's CI",
               "Inputs at awkward lengths, npsep's outputs and a manifest with the tolerance, "
               "for npsep.testing.assert_parity."),
}
"""name: (function adding the options, help, description)."""


def build_parser(command=None):
    """The ``argparse`` parser of ``npsep``; only ``command``'s options are built (all if ``None``)."""
    from . import __version__
    parser = argparse.ArgumentParser(prog="npsep", description="SuDoRM-RF source separation "
                                     "in NumPy and Numba.")
    parser.add_argument("--version", action="version", version=f"npsep {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (add, help_, description) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=description)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show tracebacks on errors")
        if command is None or command == name:
            add(p)
    return parser


def main(argv=None):
    """Run ``npsep`` with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if a in COMMANDS), None)
    args = build_parser(command).parse_args(argv)
    module_name, func_name = args.run.split(":")
    import warnings
    warnings.formatwarning = _one_line_warning
    try:
        import importlib
        run = getattr(importlib.import_module(module_name), func_name)
        status = run(args) or 0
        sys.stdout.flush()  # a reader that went away (| head) shows here, not at exit
        return status
    except BrokenPipeError:
        _silence_stdout()
        return 141
    except NpsepError as e:
        if args.debug:
            raise
        print(f"npsep {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"npsep {args.command}: interrupted", file=sys.stderr)
        return 130
    except BaseException as e:
        from .outputs import Terminated
        if not isinstance(e, Terminated):
            raise
        print(f"npsep {args.command}: terminated", file=sys.stderr)
        return 128 + e.signum


GC_YOUNG_OBJECTS = 50_000
"""Objects allocated (net) between two collections of the youngest generation in the ``npsep``
program; Python's default is 700."""


def command():
    """The ``npsep`` program: :func:`main`, with Python's cycle collector set for a process whose
    objects are nearly all made at start-up and kept until exit.

    Importing NumPy and Numba and loading the compiled kernels makes about 70,000 objects that
    the collector tracks and that live as long as the process. At Python's default thresholds
    it walks them over and over while they are made (about 160 collections), and once more as
    the interpreter exits. So young objects are collected every :data:`GC_YOUNG_OBJECTS`
    allocations instead of 700 (cyclic garbage is still collected, in a batch of any length),
    and everything alive at the end is frozen (:func:`gc.freeze`), out of the collector's sight
    during the exit; the memory goes back to the system with the process. Measured on a warm
    ``npsep separate`` of a 4 s file (one thread, load average 3): 40 -> 20 ms of collections,
    75 -> 20 ms of exit."""
    gc.set_threshold(GC_YOUNG_OBJECTS)
    try:
        return main()
    finally:
        gc.freeze()


def _silence_stdout():
    """After a broken pipe on stdout, point it at /dev/null: the interpreter's final flush
    would otherwise fail again and print a traceback (the recipe of Python's ``signal`` docs)."""
    import os
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _one_line_warning(message, category, filename, lineno, line=None):
    return f"npsep: warning: {message}\n"


def print_json(obj):
    """Print ``obj`` as strict JSON: NaN and infinities become ``null``."""
    import json
    import math

    def strict(v):
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: strict(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [strict(x) for x in v]
        return v
    print(json.dumps(strict(obj), indent=2, sort_keys=True, allow_nan=False))


def run_eval(args):
    """``npsep eval``: the table, or JSON."""
    from .errors import AudioError
    from .metrics import evaluate_files, format_evaluation
    if not args.estimates:
        raise AudioError(f"no estimates: --ref took all {len(args.ref)} files; give the estimates "
                         "first (npsep eval EST1 EST2 --ref REF1 REF2), or repeat --ref per reference")
    r = evaluate_files(args.estimates, args.ref, args.mix)
    if args.json:
        print_json(r)
    else:
        print(format_evaluation(r))
    return 0


def run_info(args):
    """``npsep info``: a weights file, a preset, or (neither given) the bundled model."""
    from . import info
    if args.model is None and args.model_name is None and args.preset is None:
        from .model import load
        from .weights import default_model_path
        args.model = default_model_path()
        if args.model is None:
            load(None)  # raises the one "no bundled model" error
    if args.json:
        import contextlib
        import io
        import json
        text = io.StringIO()
        with contextlib.redirect_stdout(text):
            status = info.run(args)
        print_json(json.loads(text.getvalue()))
        return status
    return info.run(args)


def run_warmup(args):
    """``npsep warmup``: compile every kernel the model runs, and say how long it took."""
    from . import _jit
    from .model import load
    _jit.compile_notice(False)
    seconds = load(args.model).warmup()
    print(f"kernels ready in {seconds:.1f} s (cache: {_jit.cache_location()})")
    return 0


if __name__ == "__main__":
    sys.exit(command())
