"""Errors a user can cause. The CLI prints each as one line on stderr, never a traceback."""
import sys


class NpsepError(Exception):
    """Base of every error caused by input a user gave (files, options, weights)."""


class WeightsError(NpsepError, ValueError):
    """A weights file is missing, damaged or does not describe a valid model."""


class ConvertError(NpsepError, ValueError):
    """A checkpoint cannot be converted (unreadable, unsafe, or not a SuDoRM-RF model)."""


class AudioError(NpsepError, ValueError):
    """An audio file cannot be read, is empty, or holds non-finite samples; or cannot be written."""


class SeparationError(NpsepError, ValueError):
    """The separation itself failed (options out of range, a model that outputs NaN, ...)."""


class NoModelError(NpsepError):
    """No model was given and no bundled model is installed."""


def check_installation():
    """Raise ``ImportError`` (one line) if ``npsep`` was imported as a namespace package.

    That happens when a folder ``npsep/`` without ``__init__.py`` (such as compiled-kernel
    caches an older npsep wrote into its installed package) comes before the real package on
    ``sys.path``: its sub-packages would then be found in the wrong place or not at all.
    """
    package = sys.modules.get(__package__)
    if package is not None and getattr(package, "__file__", None) is None:
        where = ", ".join(getattr(package, "__path__", [])) or "an unknown folder"
        raise ImportError(f"npsep is imported as a namespace package from {where} (a leftover "
                          "folder without __init__.py, e.g. from an older install); delete that "
                          "folder and reinstall npsep")


check_installation()
