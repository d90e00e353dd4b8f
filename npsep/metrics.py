"""Separation quality: SI-SDR, SI-SDR improvement, permutation-invariant matching.

SI-SDR (scale-invariant signal-to-distortion ratio; Le Roux et al., "SDR -
half-baked or well done?", ICASSP 2019), for an estimate ``e`` of a reference
``r``, both with their mean removed::

    a      = <e, r> / <r, r>            # the best scale for the reference
    target = a r
    SI-SDR = 10 log10( |target|^2 / |e - target|^2 )   in dB

SI-SDRi is the SI-SDR of the estimate minus the SI-SDR of the mixture, both
against the same reference.

Decisions:

* Signals of several channels, shaped ``(..., T, C)`` or treated as such by
  the callers, are measured as *one* signal: the mean is removed per channel
  and the inner products sum over time and channels (one scale for the whole
  multichannel image).
* Computation is in float64.
* A reference that is zero after mean removal has no defined SI-SDR: ``nan``.
  A perfect estimate gives ``+inf``.
* Permutation invariance: the estimate order that maximises the *sum* (hence
  the mean) of the per-source SI-SDRs, found exactly with the Hungarian
  algorithm on the matrix of all pairwise SI-SDRs.
"""
import numpy as np


def _centre(x):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0:
        raise ValueError("a signal needs at least one sample")
    return x - x.mean(axis=0, keepdims=True)


def si_sdr(estimate, reference):
    """SI-SDR in dB of ``estimate`` against ``reference`` (same shape: ``(T,)`` or ``(T, C)``)."""
    e, r = _centre(estimate), _centre(reference)
    if e.shape != r.shape:
        raise ValueError(f"estimate shape {e.shape} differs from reference shape {r.shape}")
    rr = float(np.vdot(r, r))
    if rr == 0.0:
        return float("nan")
    a = float(np.vdot(e, r)) / rr
    target = a * r
    noise = e - target
    tt, nn = float(np.vdot(target, target)), float(np.vdot(noise, noise))
    if nn == 0.0:
        return float("inf") if tt > 0 else float("nan")
    if tt == 0.0:
        return float("-inf")
    return 10.0 * np.log10(tt / nn)


def pairwise_si_sdr(estimates, references):
    """``M[i, j]`` = SI-SDR of ``estimates[j]`` against ``references[i]``."""
    S_ref, S_est = len(references), len(estimates)
    M = np.empty((S_ref, S_est))
    for i in range(S_ref):
        for j in range(S_est):
            M[i, j] = si_sdr(estimates[j], references[i])
    return M


def best_permutation(score):
    """``perm`` maximising ``sum_i score[i, perm[i]]`` (a square score matrix).

    ``nan`` scores count as worst, ``+inf`` as best; ties keep the identity
    where possible.
    """
    s = np.array(score, dtype=np.float64)
    finite = s[np.isfinite(s)]
    lo = finite.min() - 1e6 if finite.size else -1e6
    hi = finite.max() + 1e6 if finite.size else 1e6
    s = np.where(np.isnan(s), lo, s)
    s = np.clip(s, lo, hi)
    from scipy.optimize import linear_sum_assignment
    rows, cols = linear_sum_assignment(s, maximize=True)
    perm = np.empty(len(rows), dtype=int)
    perm[rows] = cols
    return perm


def pit_si_sdr(estimates, references):
    """Permutation-invariant SI-SDR.

    ``estimates`` and ``references`` are sequences of ``S`` signals of one
    shape. Returns ``(si_sdr, perm)``: ``si_sdr[i]`` is the SI-SDR of
    ``estimates[perm[i]]`` against ``references[i]``, with ``perm`` the order
    that maximises the mean.
    """
    if len(estimates) != len(references):
        raise ValueError(f"{len(estimates)} estimates for {len(references)} references")
    M = pairwise_si_sdr(estimates, references)
    perm = best_permutation(M)
    return M[np.arange(len(perm)), perm], perm


def si_sdri(estimates, references, mixture):
    """Permutation-invariant SI-SDR improvement over ``mixture``.

    Returns a dict with ``si_sdr`` (per reference), ``mixture_si_sdr`` (the
    mixture against each reference), ``si_sdri`` (their difference) and ``perm``.
    """
    sdr, perm = pit_si_sdr(estimates, references)
    base = np.array([si_sdr(mixture, r) for r in references])
    return {"si_sdr": sdr, "mixture_si_sdr": base, "si_sdri": sdr - base, "perm": perm}


# --- npsep eval -------------------------------------------------------------------------

def evaluate_files(estimates, references, mixture=None):
    """Permutation-invariant SI-SDR (and SI-SDRi with a mixture) of audio files.

    All files must have the same sample rate, length and channel count.
    Returns a JSON-ready dict.
    """
    from . import audio
    from .errors import AudioError
    if len(estimates) != len(references):
        raise AudioError(f"{len(estimates)} estimate file(s) but {len(references)} "
                         "reference file(s); give one estimate per reference")
    signals, first = {}, None
    for path in list(estimates) + list(references) + ([mixture] if mixture else []):
        x, rate = audio.read(path)
        if first is None:
            first = (path, rate, x.shape)
        elif rate != first[1]:
            raise AudioError(f"{path}: sample rate {rate} Hz differs from {first[1]} Hz "
                             f"of {first[0]}")
        elif x.shape != first[2]:
            raise AudioError(f"{path}: {x.shape[0]} frames x {x.shape[1]} channels differs "
                             f"from {first[2][0]} x {first[2][1]} of {first[0]}")
        signals[path] = x
    est = [signals[p] for p in estimates]
    ref = [signals[p] for p in references]
    sdr, perm = pit_si_sdr(est, ref)
    out = {"references": list(references), "estimates": [estimates[j] for j in perm],
           "permutation": [int(j) for j in perm], "si_sdr": [float(v) for v in sdr],
           "mean_si_sdr": float(np.mean(sdr))}
    if mixture:
        base = np.array([si_sdr(signals[mixture], r) for r in ref])
        out.update({"mixture": mixture, "mixture_si_sdr": [float(v) for v in base],
                    "si_sdri": [float(v) for v in sdr - base],
                    "mean_si_sdri": float(np.mean(sdr - base))})
    return out


def format_evaluation(r):
    """A small text table for :func:`evaluate_files`."""
    has_mix = "si_sdri" in r
    rows = [("reference", "estimate", "SI-SDR dB") + (("SI-SDRi dB",) if has_mix else ())]
    for i, (ref, est) in enumerate(zip(r["references"], r["estimates"])):
        row = (ref, est, f"{r['si_sdr'][i]:.2f}")
        rows.append(row + ((f"{r['si_sdri'][i]:.2f}",) if has_mix else ()))
    rows.append(("mean", "", f"{r['mean_si_sdr']:.2f}")
                + ((f"{r['mean_si_sdri']:.2f}",) if has_mix else ()))
    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) if k < 2 else c.rjust(w)
                               for k, (c, w) in enumerate(zip(row, widths))).rstrip()
                     for row in rows)
