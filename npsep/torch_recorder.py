"""Record a PyTorch SuDoRM-RF model's forward pass as an npsep trace (needs PyTorch).

The only part of npsep that uses PyTorch, and only when :func:`record` is called: nothing
else in npsep imports this module, and this module imports ``torch`` inside the function.
For people porting or retraining a model who have PyTorch; compare the file with an npsep
trace using ``npsep compare``::

    from npsep.torch_recorder import record
    record(model, x, "torch.npz")          # x: (B, 1, T) float32 tensor or array

A forward hook on every sub-module stores its output under its ``named_modules()`` path,
in the order the modules complete; modules called more than once per forward pass (the
pyramid's ``upsampler``) are left out, as :mod:`npsep.parity.trace` leaves them out, and
their names listed in the metadata under ``repeated``.
"""
import numpy as np

from .parity import tracefile


def record_layers(model, x):
    """``(layers, repeated)``: ordered name -> output array of one forward pass of ``model`` on
    ``x``, with the model's output under :data:`npsep.parity.tracefile.OUTPUT`, and the names
    of modules called more than once (left out)."""
    import torch
    calls, handles = {}, []

    def hook(name):
        def store(module, inputs, output):
            calls.setdefault(name, []).append(output.detach().cpu().numpy().copy())
        return store

    for name, module in model.named_modules():
        if name:
            handles.append(module.register_forward_hook(hook(name)))
    try:
        with torch.no_grad():
            out = model(torch.as_tensor(np.asarray(x, dtype=np.float32)))
    finally:
        for h in handles:
            h.remove()
    layers = {name: outs[0] for name, outs in calls.items() if len(outs) == 1}
    layers[tracefile.OUTPUT] = out.detach().cpu().numpy()
    return layers, sorted(name for name, outs in calls.items() if len(outs) > 1)


def record(model, x, path, **meta):
    """Write the trace of ``model`` on ``x`` to ``path`` (``meta``: extra JSON-able metadata)."""
    import torch
    layers, repeated = record_layers(model, x)
    tracefile.save(path, layers, {"source": "torch", "class": type(model).__name__, "dtype": "float32",
                                  "torch_version": torch.__version__, "repeated": repeated, **meta},
                   np.asarray(x, dtype=np.float32))
    return layers
