"""The options of ``npsep convert`` and what it does with them.

:mod:`npsep.cli` owns the ``src`` / ``dst`` arguments and turns a
:class:`npsep.errors.ConvertError` into one line on stderr and exit status 1.
"""
import sys

from npsep import architectures
from npsep.weights import DEFAULT_SAMPLE_RATE


def add_arguments(parser):
    """Add the converter's options to the ``convert`` sub-command parser."""
    parser.add_argument("--variant", choices=architectures.VARIANTS,
                        help="expected variant (default: read from the checkpoint; a different "
                        "one is an error)")
    parser.add_argument("--sample-rate", type=int, metavar="HZ",
                        help="sample rate the model was trained at (default: the checkpoint's, "
                        f"else {DEFAULT_SAMPLE_RATE})")
    parser.add_argument("--mixture-consistency", action="store_true", default=None,
                        help="apply mixture consistency after separation (default: on for "
                        "group-communication models only)")
    parser.add_argument("--no-mixture-consistency", dest="mixture_consistency",
                        action="store_false", help="do not apply mixture consistency")
    parser.add_argument("--mask-act", choices=architectures.MASK_ACTS,
                        help="mask nonlinearity of an Asteroid model whose package does not say "
                        "(default: softmax for SuDORMRFNet, relu for SuDORMRFImprovedNet)")
    parser.add_argument("--overwrite", action="store_true", help="replace DST if it exists")


def run(args):
    """Convert ``args.src`` to ``args.dst``; print one summary line."""
    from .convert import convert  # imported here: building the parser for another command stays light
    config = convert(args.src, args.dst, overwrite=args.overwrite, note=_note,
                     variant=args.variant, sample_rate=args.sample_rate,
                     mixture_consistency=args.mixture_consistency, mask_act=args.mask_act)
    hp = ", ".join(f"{k}={v}" for k, v in config["hparams"].items())
    print(f"wrote {args.dst}: {config['variant']} ({hp}), {config['sample_rate']} Hz, "
          f"mixture consistency {'on' if config['mixture_consistency'] else 'off'}, "
          f"from a {config['source']['kind']} checkpoint")
    return 0


def _note(text):
    print(f"npsep convert: note: {text}", file=sys.stderr)
