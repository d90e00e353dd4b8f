"""npsep as a parity oracle for other implementations of SuDoRM-RF.

* :mod:`npsep.parity.trace` - every intermediate tensor of one forward pass, named by the
  PyTorch module path that produces it;
* :mod:`npsep.parity.tracefile` - the ``.npz`` trace format shared with
  :mod:`npsep.torch_recorder`;
* :mod:`npsep.parity.compare` - per-layer comparison of two traces, first divergence;
* :mod:`npsep.parity.golden` - golden sets of inputs and outputs for a port's CI
  (checked with :func:`npsep.testing.assert_parity`);
* :mod:`npsep.parity.cli` - the ``trace``, ``compare`` and ``golden`` sub-commands.
"""
