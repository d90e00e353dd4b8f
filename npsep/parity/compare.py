"""Two traces side by side: per-layer errors and the first layer beyond tolerance.

For each layer of the reference trace ``A`` (in its order, the order the modules completed)
that ``B`` also has: the shape, ``max|b - a|``, the relative max error
``max|b - a| / max|a|`` (the error measured against the layer's own scale, so that values
near zero do not blow it up), and the cosine of the two flattened tensors. The first layer
whose relative error exceeds ``rtol`` (or whose shape differs) is the first divergence:
everything computed before it agrees, so the fault is in that module.
"""
import numpy as np

DEFAULT_RTOL = 1e-4
"""float32 against float32 or float64: rounding grows to ~1e-6 through the blocks; a real
mistake (a tap, a pad, an eps, a slope) gives 1e-3 or more."""

SHOWN = 6
"""Names listed of the layers only one trace has (``--json`` lists them all)."""


def layer_errors(a, b):
    """``{"shape", "max_abs", "rel_max", "cosine"}`` of ``b`` against the reference ``a``."""
    if a.shape != b.shape:
        return {"shape": list(a.shape), "other_shape": list(b.shape), "max_abs": None,
                "rel_max": None, "cosine": None}
    a64, b64 = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    diff = np.abs(b64 - a64).max() if a64.size else 0.0
    scale = np.abs(a64).max() if a64.size else 0.0
    norms = np.linalg.norm(a64) * np.linalg.norm(b64)
    return {"shape": list(a.shape), "max_abs": float(diff),
            "rel_max": float(diff / scale) if scale > 0 else (0.0 if diff == 0 else float("inf")),
            "cosine": float(a64 @ b64 / norms) if norms > 0 else (1.0 if diff == 0 else 0.0)}


def compare(a, b, rtol=DEFAULT_RTOL):
    """Compare trace ``b`` with the reference trace ``a`` (ordered name -> array each).

    Returns ``{"rtol", "layers": [{"name", ..., "ok"}], "first_divergence": name or None,
    "only_in_a": [...], "only_in_b": [...]}``.
    """
    rows = []
    for name in a:
        if name in b:
            e = layer_errors(a[name], b[name])
            ok = e["rel_max"] is not None and e["rel_max"] <= rtol
            rows.append({"name": name, **e, "ok": ok})
    first = next((r["name"] for r in rows if not r["ok"]), None)
    return {"rtol": rtol, "layers": rows, "first_divergence": first,
            "only_in_a": [n for n in a if n not in b], "only_in_b": [n for n in b if n not in a]}


def format_report(report, all_layers=True):
    """The report of :func:`compare` as a text table and a verdict line."""
    def num(v, fmt):
        return "-" if v is None else format(v, fmt)
    width = max([len(r["name"]) for r in report["layers"]] + [5])
    lines = [f"{'layer':<{width}}  {'shape':<18} {'max abs':>10} {'rel max':>10} {'cosine':>10}"]
    for r in report["layers"]:
        if not all_layers and r["ok"]:
            continue
        shape = "x".join(map(str, r["shape"])) + ("" if "other_shape" not in r else
                                                   " vs " + "x".join(map(str, r["other_shape"])))
        flag = "" if r["ok"] else "  <- first divergence" if r["name"] == report["first_divergence"] \
            else "  beyond"
        lines.append(f"{r['name']:<{width}}  {shape:<18} {num(r['max_abs'], '10.3e')} "
                     f"{num(r['rel_max'], '10.3e')} {num(r['cosine'], '10.7f')}{flag}")
    for key, what in (("only_in_a", "only in A"), ("only_in_b", "only in B")):
        names = report[key]
        if names:
            more = f", ... ({len(names) - SHOWN} more)" if len(names) > SHOWN else ""
            lines.append(f"{what} ({len(names)}): {', '.join(names[:SHOWN])}{more}")
    n = len(report["layers"])
    if report["first_divergence"] is None:
        lines.append(f"all {n} common layers within relative {report['rtol']:g}")
    else:
        bad = sum(not r["ok"] for r in report["layers"])
        lines.append(f"{bad} of {n} layers beyond relative {report['rtol']:g}; "
                     f"first divergence: {report['first_divergence']}")
    return "\n".join(lines)
