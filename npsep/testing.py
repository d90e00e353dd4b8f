"""Test helpers for ports of SuDoRM-RF: :func:`assert_parity` against an npsep golden set."""
import numpy as np

from .parity import golden


def parity_errors(forward_fn, golden_dir):
    """``(rtol, [(entry, relative error or None if the shape is wrong, shape)])`` of
    ``forward_fn`` on every case of the golden set in ``golden_dir``."""
    manifest, loaded = golden.read(golden_dir)
    results = []
    for entry, x, ref in loaded:
        y = np.asarray(forward_fn(x.copy()), dtype=np.float64)
        if y.size != ref.size:
            results.append((entry, None, y.shape))
            continue
        diff = np.abs(y.reshape(ref.shape) - ref).max()
        scale = np.abs(ref).max()
        results.append((entry, float(diff / scale) if scale > 0 else float(diff), y.shape))
    return manifest["rtol"], results


def assert_parity(forward_fn, golden_dir, rtol=None):
    """Assert that ``forward_fn`` reproduces every case of an npsep golden set.

    ``forward_fn(x)`` gets each case's input, float32 ``[1, 1, T]``, and returns the sources
    (any array-like of ``S * T`` values in the order ``[1, S, T]``). ``rtol``: the allowed
    relative max error ``max|y - ref| / max|ref|`` (default: the manifest's, 1e-4). On failure
    the ``AssertionError`` names the worst case first, with its length and error, then every
    failing case.
    """
    manifest_rtol, results = parity_errors(forward_fn, golden_dir)
    rtol = manifest_rtol if rtol is None else rtol
    failing = [(e, err, shape) for e, err, shape in results if err is None or err > rtol]
    if not failing:
        return
    failing.sort(key=lambda r: float("inf") if r[1] is None else r[1], reverse=True)

    def describe(entry, err, shape):
        what = f"output shape {shape} has the wrong size" if err is None else f"relative error {err:.3g}"
        return f"{entry['name']} (T={entry['length']}, {entry['why']}): {what}"
    raise AssertionError(f"{len(failing)} of {len(results)} golden cases beyond relative {rtol:g}; "
                         f"worst: {describe(*failing[0])}"
                         + "".join(f"\n  {describe(*f)}" for f in failing))
