"""Convert PyTorch SuDoRM-RF checkpoints to npsep weights files, without PyTorch.

``convert(src, dst, **overrides)`` reads a torch zip checkpoint (a whole-model
pickle, a state dict or an Asteroid package) with a restricted unpickler that
never imports or calls anything the pickle names, and writes an npsep ``.npz``.
From a shell: ``npsep convert SRC DST`` or ``python -m weights_convert SRC DST``.
"""
from .convert import convert

__all__ = ["convert"]
