"""``python -m npsep``: the ``npsep`` command line."""
import sys

from npsep.cli import command

sys.exit(command())
