"""Tests of the training-corpus generator (training/make_corpus.py) and the
on-the-fly training mixer (training/data.py)."""

import json
import os
import shutil
import sys

import numpy as np
import pytest
from scipy.io import wavfile
from scipy.signal import lfilter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "training"))

import data as tdata  # noqa: E402
import make_corpus as mc  # noqa: E402

SMALL_UTTS = {"train": 400, "val": 40, "test": 80, "test_de": 20, "test_es": 20}
SMALL_MIXES = {"val": 10, "test": 20, "test_de": 5, "test_es": 5}
HAVE_ESPEAK = shutil.which("espeak-ng") is not None


@pytest.fixture(scope="module")
def plan():
    return mc.make_plan(7, SMALL_UTTS, SMALL_MIXES)


def _split(plan, name):
    return plan["splits"][name]["utterances"]


def test_plan_sizes(plan):
    for name, n in SMALL_UTTS.items():
        assert len(_split(plan, name)) == n
    for name, n in SMALL_MIXES.items():
        assert len(plan["splits"][name]["mixtures"]) == n


def test_sentences_disjoint_between_all_splits(plan):
    seen = {}
    for name in SMALL_UTTS:
        texts = [u["text"] for u in _split(plan, name)]
        assert len(set(texts)) == len(texts), "repeated sentence inside %s" % name
        for t in texts:
            assert t not in seen, "%r in both %s and %s" % (t, seen[t], name)
            seen[t] = name


def test_voice_settings_disjoint(plan):
    variants = {n: {u["variant"] for u in _split(plan, n)} for n in SMALL_UTTS}
    keys = {n: {mc.voice_key(u) for u in _split(plan, n)} for n in SMALL_UTTS}
    for a, b in [("train", "val"), ("train", "test"), ("val", "test"),
                 ("train", "test_de"), ("train", "test_es")]:
        assert not variants[a] & variants[b], (a, b, variants[a] & variants[b])
        assert not keys[a] & keys[b]
    # the variant lists themselves are disjoint, so this holds for any size
    assert not set(mc.TRAIN_VARIANTS) & set(mc.TEST_VARIANTS)
    assert not set(mc.TRAIN_VARIANTS) & set(mc.VAL_VARIANTS)
    assert not set(mc.VAL_VARIANTS) & set(mc.TEST_VARIANTS)


def test_unseen_languages_are_not_in_training(plan):
    train_langs = {u["voice"].split("-")[0] for u in _split(plan, "train")}
    assert train_langs == {"en"}
    for name, lang in (("test_de", "de"), ("test_es", "es")):
        assert {u["voice"].split("-")[0] for u in _split(plan, name)} == {lang}
    # the English validation / test splits use English voices too
    for name in ("val", "test"):
        assert {u["voice"].split("-")[0] for u in _split(plan, name)} == {"en"}


def test_mixture_plan_pairs_distinct_variants_and_levels(plan):
    for name in SMALL_MIXES:
        by_id = {u["id"]: u for u in _split(plan, name)}
        for m in plan["splits"][name]["mixtures"]:
            assert by_id[m["s1"]]["variant"] != by_id[m["s2"]]["variant"]
            assert -5.0 <= m["level_db"] <= 5.0
            assert 0.0 <= m["offset_frac"] <= 1.0


def test_plan_is_deterministic_and_seed_dependent(plan):
    again = mc.make_plan(7, SMALL_UTTS, SMALL_MIXES)
    assert json.dumps(again, sort_keys=True) == json.dumps(plan, sort_keys=True)
    other = mc.make_plan(8, SMALL_UTTS, SMALL_MIXES)
    assert [u["text"] for u in _split(other, "train")] != [u["text"] for u in _split(plan, "train")]


def test_enough_distinct_sentences():
    p = mc.make_plan(0, {"train": 5000}, {})
    assert len({u["text"] for u in _split(p, "train")}) == 5000


def test_mix_pair_levels_and_sum():
    rng = np.random.default_rng(0)
    for level in (-5.0, -1.3, 0.0, 4.99):
        x1 = rng.standard_normal(8000 * 2)
        x2 = rng.standard_normal(8000 * 3) * 7
        mix, s1, s2 = mc.mix_pair(x1, x2, level, 0.5)
        assert mix.dtype == s1.dtype == s2.dtype == np.int16
        assert len(mix) == len(s1) == len(s2) == 8000 * 3
        assert np.array_equal(mix.astype(np.int32), s1.astype(np.int32) + s2)
        got = 10 * np.log10(np.sum(s1.astype(float) ** 2) / np.sum(s2.astype(float) ** 2))
        assert abs(got - level) < 0.01
        # the shorter source is placed in the middle (offset 0.5 of the slack)
        nz = np.nonzero(s1)[0]
        assert abs(nz[0] - 4000) <= 1 and abs(nz[-1] - 19999) <= 1


def test_train_mixer_on_synthetic_shards(tmp_path):
    rng = np.random.default_rng(1)
    index, off, bufs = [], 0, []
    for i in range(6):
        n = 4000 + 3000 * i
        bufs.append(rng.standard_normal(n).astype(np.float32))
        index.append({"id": "u%d" % i, "shard": 0, "offset": off, "length": n,
                      "voice": "en-us+%s" % ("m1" if i % 2 else "f1"), "pitch": 50, "speed": 150})
        off += n
    np.save(tmp_path / "shard_000.npy", np.concatenate(bufs))
    with open(tmp_path / "index.json", "w") as f:
        json.dump({"sr": 8000, "utterances": index}, f)
    mixer = tdata.TrainMixer(str(tmp_path), 8000)
    mix, src = mixer.batch(16, np.random.default_rng(2))
    assert mix.shape == (16, 1, 8000) and src.shape == (16, 2, 8000)
    assert np.allclose(mix[:, 0], src.sum(1), atol=1e-6)
    p = (src.astype(np.float64) ** 2).sum(-1)
    lev = 10 * np.log10(p[:, 0] / p[:, 1])
    assert np.all(np.abs(lev) <= 5.0 + 1e-3)
    assert lev.std() > 1.0  # gains really vary
    # same seed, same batch; different seed, different batch
    m2, _ = mixer.batch(16, np.random.default_rng(2))
    m3, _ = mixer.batch(16, np.random.default_rng(3))
    assert np.array_equal(mix, m2) and not np.array_equal(mix, m3)


def _period(x):
    """The pitch period (samples): the first lag in 30..130 whose autocorrelation is
    within 10 % of that range's highest (a later peak at twice the period may be higher)."""
    spec = np.fft.rfft(x, 2 * len(x))
    r = np.fft.irfft(spec * spec.conj())[30:131]
    return 30 + int(np.argmax(r >= 0.9 * r.max()))


def test_train_mixer_reshape_gives_each_draw_a_new_pitch_within_range(tmp_path):
    # one 1.5 s utterance: a 125 Hz pulse train (period 64 samples) through one resonance
    n = 12000
    x = np.zeros(n)
    x[::64] = 1.0
    x = lfilter([1.0], [1.0, -1.3, 0.8], x).astype(np.float32)
    index = [{"id": "u%d" % i, "shard": 0, "offset": 0, "length": n, "voice": "x+s%d" % i}
             for i in range(2)]
    np.save(tmp_path / "shard_000.npy", x)
    with open(tmp_path / "index.json", "w") as f:
        json.dump({"sr": 8000, "utterances": index}, f)
    plain = tdata.TrainMixer(str(tmp_path), 16000)
    reshaped = tdata.TrainMixer(str(tmp_path), 16000, reshape=1.0)
    rng = np.random.default_rng(5)
    assert {_period(plain._talker(0, rng)) for _ in range(5)} == {64}
    periods = [_period(reshaped._talker(0, rng)) for _ in range(12)]
    lo, hi = 64 / 2 ** (4 / 12), 64 * 2 ** (4 / 12)   # PITCH_RANGE is +-4 semitones
    assert all(lo - 1 <= p <= hi + 1 for p in periods), periods
    assert len(set(periods)) >= 6, periods             # a new pitch for (almost) every draw
    t = reshaped._talker(0, np.random.default_rng(9))
    assert t.shape == (16000,) and np.array_equal(t, reshaped._talker(0, np.random.default_rng(9)))


@pytest.mark.skipif(not HAVE_ESPEAK, reason="espeak-ng not installed")
def test_synthesize_is_8k_and_deterministic(plan):
    u = _split(plan, "test")[0]
    a = mc.synthesize(u)
    b = mc.synthesize(u)
    assert a.dtype == np.float32 and a.ndim == 1
    assert 0.5 * mc.SR < len(a) <= mc.MAX_UTT_SEC * mc.SR
    assert np.array_equal(a, b)
    assert np.sqrt(np.mean(a.astype(np.float64) ** 2)) > 0.01


@pytest.mark.skipif(not HAVE_ESPEAK, reason="espeak-ng not installed")
def test_render_tiny_fixed_split(tmp_path):
    p = mc.make_plan(3, {"test_de": 4}, {"test_de": 2})
    entry = p["splits"]["test_de"]
    mc.render_split("test_de", entry, str(tmp_path), procs=1)
    items = tdata.load_fixed_split(str(tmp_path / "test_de"))
    assert len(items) == 2
    for m, (mid, mix, src) in zip(entry["mixtures"], items):
        d = tmp_path / "test_de" / mid
        r, qm = wavfile.read(d / "mix.wav")
        _, q1 = wavfile.read(d / "s1.wav")
        _, q2 = wavfile.read(d / "s2.wav")
        assert r == 8000 and qm.dtype == np.int16
        assert np.array_equal(qm.astype(np.int32), q1.astype(np.int32) + q2)
        lev = 10 * np.log10(np.sum(q1.astype(float) ** 2) / np.sum(q2.astype(float) ** 2))
        assert abs(lev - m["level_db"]) < 0.05 and abs(lev) <= 5.05
        assert np.allclose(mix, src.sum(0), atol=1e-6)


def test_exported_state_dict_has_the_calibrated_output_level():
    torch = pytest.importorskip("torch")
    import train
    torch.manual_seed(0)
    hp = {"out_channels": 8, "in_channels": 16, "num_blocks": 1, "upsampling_depth": 2,
          "enc_kernel_size": 9, "enc_num_basis": 16, "num_sources": 2}
    model = train.build_model(hp)
    rng = np.random.default_rng(0)
    items = []
    for i in range(3):
        src = (rng.standard_normal((2, 1200)) * 0.1).astype(np.float32)
        items.append(("x%d" % i, src.sum(0), src))
    mean, worst, gain = train.evaluate(model, items)
    assert worst <= mean and np.isfinite(gain) and gain != 0
    model.load_state_dict(train.export_state_dict(model, gain))
    mean2, worst2, gain2 = train.evaluate(model, items)
    assert abs(mean2 - mean) < 1e-3 and abs(worst2 - worst) < 1e-3
    assert abs(gain2 - 1.0) < 1e-4


def test_pit_si_sdr_is_permutation_invariant_and_scale_invariant():
    torch = pytest.importorskip("torch")
    import train
    g = torch.Generator().manual_seed(0)
    ref = torch.randn(3, 2, 800, generator=g)
    est = ref + 0.1 * torch.randn(3, 2, 800, generator=g)
    a = train.pit_si_sdr(est, ref)
    assert torch.allclose(a, train.pit_si_sdr(est.flip(1), ref))
    assert torch.allclose(a, train.pit_si_sdr(3.0 * est + 0.5, ref), atol=1e-4)
    assert torch.all(a > 15)
