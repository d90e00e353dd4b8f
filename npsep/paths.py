"""Where npsep keeps files of its own: one root folder for everything it caches.

The root is ``$NPSEP_HOME`` when set, else ``$XDG_CACHE_HOME/npsep``, else
``~/.cache/npsep``. Below it, each kind of file has one folder (compiled kernels,
downloaded models, training runs), so that removing the root removes all of it and
nothing is ever written inside the installed package.
"""
import os
from pathlib import Path


def npsep_home() -> Path:
    """The root folder of npsep's cache (not created here)."""
    if os.environ.get("NPSEP_HOME"):
        return Path(os.environ["NPSEP_HOME"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "npsep"


def cache_folder(kind: str) -> Path:
    """``npsep_home() / kind``: e.g. ``"numba"`` for compiled kernels, ``"models"`` for downloads."""
    return npsep_home() / kind
