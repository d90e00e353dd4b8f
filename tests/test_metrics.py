"""SI-SDR, PIT and SI-SDRi, checked against signals whose SI-SDR is known by construction;
and ``npsep eval`` driven as a user would."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from npsep import metrics

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def constructed(rng, T, sdr_db, scale=1.0, offset=0.0, channels=None):
    """``(estimate, reference)`` whose SI-SDR is exactly ``sdr_db`` by construction.

    The estimate is ``scale * r + n + offset`` with ``n`` orthogonal to ``r`` and to
    constants, and ``|scale r|^2 / |n|^2 = 10 ** (sdr_db / 10)``.
    """
    shape = (T,) if channels is None else (T, channels)
    r = rng.standard_normal(shape)
    r -= r.mean(axis=0)
    n = rng.standard_normal(shape)
    n -= n.mean(axis=0)
    n -= np.vdot(n, r) / np.vdot(r, r) * r
    n *= np.sqrt(np.vdot(scale * r, scale * r) / np.vdot(n, n) / 10 ** (sdr_db / 10))
    return scale * r + n + offset, r + 0.3  # any offset of the reference is removed too


@pytest.mark.parametrize("sdr_db,scale,offset,channels",
                         [(10.0, 1.0, 0.0, None), (-5.0, 0.01, 2.0, None),
                          (37.5, 123.0, -1.0, None), (3.0, 0.7, 0.1, 2)])
def test_si_sdr_matches_construction(sdr_db, scale, offset, channels):
    est, ref = constructed(np.random.default_rng(1), 4000, sdr_db, scale, offset, channels)
    assert metrics.si_sdr(est, ref) == pytest.approx(sdr_db, abs=1e-9)


def test_si_sdr_edge_cases():
    r = np.sin(np.arange(100.0))
    assert metrics.si_sdr(r * 3, r) > 250  # perfect up to float64 rounding
    assert metrics.si_sdr(r, r) == np.inf
    assert np.isnan(metrics.si_sdr(r, np.ones(100)))  # constant reference: undefined
    with pytest.raises(ValueError):
        metrics.si_sdr(r, r[:50])


def test_pit_finds_the_permutation_and_si_sdri():
    rng = np.random.default_rng(2)
    T, wanted = 8000, [12.0, 4.0, 20.0]
    pairs = [constructed(rng, T, d) for d in wanted]
    refs = [p[1] for p in pairs]
    order = [2, 0, 1]  # estimates given in another order
    ests = [pairs[k][0] for k in order]
    sdr, perm = metrics.pit_si_sdr(ests, refs)
    assert list(perm) == [order.index(k) for k in range(3)]
    np.testing.assert_allclose(sdr, wanted, atol=1e-9)
    mix = sum(refs)
    r = metrics.si_sdri(ests, refs, mix)
    direct = []
    for ref in refs:  # the direct formula, written out
        e, t = mix - mix.mean(), ref - ref.mean()
        proj = (e @ t) / (t @ t) * t
        direct.append(10 * np.log10((proj @ proj) / ((e - proj) @ (e - proj))))
    np.testing.assert_allclose(r["mixture_si_sdr"], direct, atol=1e-9)
    np.testing.assert_allclose(r["si_sdri"], np.array(wanted) - direct, atol=1e-9)


def test_best_permutation_maximises_sum():
    rng = np.random.default_rng(3)
    import itertools
    for S in (2, 3, 4, 5):
        M = rng.standard_normal((S, S))
        best = max(itertools.permutations(range(S)), key=lambda p: sum(M[i, p[i]] for i in range(S)))
        assert tuple(metrics.best_permutation(M)) == best


# --- npsep eval -------------------------------------------------------------------------

def npsep(*args):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "npsep.cli", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=120)


def test_eval_cli_agrees_with_direct_formula(tmp_path):
    rng = np.random.default_rng(4)
    T, fs = 16000, 16000
    e1, r1 = constructed(rng, T, 9.0, 0.2)
    e2, r2 = constructed(rng, T, 15.0, 0.3)
    files = {"r1.wav": r1, "r2.wav": r2, "e1.wav": e1, "e2.wav": e2, "mix.wav": r1 + r2}
    peak = max(np.abs(v).max() for v in files.values())
    for name, v in files.items():
        sf.write(tmp_path / name, (v / peak / 2).astype(np.float32), fs, subtype="FLOAT")
    read = {n: sf.read(tmp_path / n)[0] for n in files}
    # estimates in swapped order: e2 estimates r2, e1 estimates r1
    p = npsep("eval", tmp_path / "e2.wav", tmp_path / "e1.wav",
              "--ref", tmp_path / "r1.wav", tmp_path / "r2.wav", "--mix", tmp_path / "mix.wav",
              "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["permutation"] == [1, 0]

    def direct(e, r):
        e, r = e - e.mean(), r - r.mean()
        t = (e @ r) / (r @ r) * r
        return 10 * np.log10((t @ t) / ((e - t) @ (e - t)))

    want = [direct(read["e1.wav"], read["r1.wav"]), direct(read["e2.wav"], read["r2.wav"])]
    np.testing.assert_allclose(out["si_sdr"], want, atol=1e-6)
    np.testing.assert_allclose(out["si_sdr"], [9.0, 15.0], atol=0.01)  # float32 file rounding
    mix = [direct(read["mix.wav"], read["r1.wav"]), direct(read["mix.wav"], read["r2.wav"])]
    np.testing.assert_allclose(out["si_sdri"], np.array(want) - mix, atol=1e-6)

    p = npsep("eval", tmp_path / "e2.wav", tmp_path / "e1.wav",
              "--ref", tmp_path / "r1.wav", tmp_path / "r2.wav")
    assert p.returncode == 0 and "SI-SDR" in p.stdout and "SI-SDRi" not in p.stdout
    assert f"{want[0]:.2f}" in p.stdout and f"{want[1]:.2f}" in p.stdout


def test_eval_cli_errors_are_one_line(tmp_path):
    sf.write(tmp_path / "a.wav", np.zeros(100, dtype=np.float32), 8000)
    sf.write(tmp_path / "b.wav", np.zeros(120, dtype=np.float32), 8000)
    for args in (["a.wav", "--ref", "a.wav", "b.wav"], ["a.wav", "--ref", "b.wav"],
                 ["a.wav", "--ref", "missing.wav"]):
        p = npsep("eval", *[tmp_path / a if a.endswith(".wav") else a for a in args])
        assert p.returncode == 1
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("npsep eval: error:"), p.stderr
