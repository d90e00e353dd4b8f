"""npsep: SuDoRM-RF audio source separation in pure NumPy and Numba.

The public names below are imported on first use (PEP 562), so that
``import npsep`` and ``npsep convert`` stay light: Numba, SciPy and the kernels
load only when a model is built or audio is separated.
"""
import importlib

from .errors import AudioError, ConvertError, NpsepError, WeightsError

__version__ = "0.1.0"

_LAZY = {"Model": "model", "load": "model", "separate": "model", "default_model_path": "weights",
         "separate_file": "files", "separate_files": "batch", "set_num_threads": "threads",
         "get_num_threads": "threads", "ModelError": "models"}

__all__ = ["AudioError", "ConvertError", "NpsepError", "WeightsError", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'npsep' has no attribute {name!r}")


def __dir__():
    return sorted(__all__ + ["__version__"])
