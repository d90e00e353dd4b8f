"""``python -m weights_convert SRC DST [options]``: the same as ``npsep convert``."""
import sys

from npsep.cli import main

if __name__ == "__main__":
    sys.exit(main(["convert", *sys.argv[1:]]))
