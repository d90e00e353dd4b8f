"""Tests of the many-voices corpus generator (training/make_voices_corpus.py,
training/sources.py) and of the weighted, augmenting training mixer.

Real recordings are stood in for by a folder laid out like the Asterisk
packages' (noise bursts of random lengths), so the plan and rendering tests run
without the packages; the synthesiser tests skip when flite / festival are missing.
"""

import json
import os
import sys

import numpy as np
import pytest
import soundfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "training"))

import augment  # noqa: E402
import data as tdata  # noqa: E402
import make_voices_corpus as mv  # noqa: E402
import sources  # noqa: E402

SMALL = {"train": 6, "val": 3, "test": 3}
MIXES = {"val_voices": 4, "test_synth": 4, "test_real": 6, "test_tel": 3}


def burst(rng, seconds, rate=sources.SR, floor=1e-4, edge=10):
    """Noise shaped like speech in level: a loud middle, quiet edges (1/``edge`` of the
    length each, at ``floor``, under the middle too) to trim."""
    n = int(seconds * rate)
    x = rng.standard_normal(n) * floor
    m = n // edge
    x[m:n - m] += rng.standard_normal(n - 2 * m) * 0.2
    return x


@pytest.fixture(scope="module")
def fake_asterisk(tmp_path_factory):
    root = tmp_path_factory.mktemp("asterisk")
    rng = np.random.default_rng(0)
    for speaker, packages in sources.REAL_SPEAKERS.items():
        for _, folder, ext in packages:
            for sub in ("", "digits", "silence"):
                os.makedirs(root / folder / sub, exist_ok=True)
            for k in range(30):
                sub = "digits" if k % 5 == 0 else ""
                path = str(root / folder / sub / ("prompt-%02d%s" % (k, ext)))
                x = burst(rng, rng.uniform(0.6, 2.5))
                if ext == ".gsm":
                    soundfile.write(path, x, sources.SR, format="RAW", subtype="GSM610")
                else:
                    soundfile.write(path, x, sources.SR, subtype="PCM_16")
            soundfile.write(str(root / folder / "silence" / ("1" + ext.replace(".gsm", ".wav"))),
                            np.zeros(800), sources.SR)
    return str(root)


@pytest.fixture(scope="module")
def plan(fake_asterisk):
    return mv.make_plan(5, SMALL, MIXES, root=fake_asterisk)


def utts(plan, split):
    return plan["splits"][split]["utterances"]


def test_voice_lists_are_disjoint_by_speaker():
    speakers = {s: {mv.VOICES[n].speaker for n in names} for s, names in mv.SYNTH_SPLITS.items()}
    assert not speakers["train"] & speakers["val"]
    assert not speakers["train"] & speakers["test"]
    assert not speakers["val"] & speakers["test"]
    assert not set(mv.REAL_SPLITS["train"]) & set(mv.REAL_SPLITS["test"])
    assert set(mv.REAL_SPLITS["train"]) | set(mv.REAL_SPLITS["test"]) == set(sources.REAL_SPEAKERS)
    # every named voice exists in the engine tables
    assert all(n in mv.VOICES for names in mv.SYNTH_SPLITS.values() for n in names)


def test_plan_splits_are_disjoint_by_speaker_and_sentence(plan):
    names = ["train_synth", "val_voices", "test_synth", "train_real", "test_real"]
    speakers = {n: {u["variant"] for u in utts(plan, n)} for n in names}
    texts = {n: {u["text"] for u in utts(plan, n) if u["kind"] == "synth"} for n in names}
    prompts = {n: {p["prompt"] for u in utts(plan, n) if u["kind"] == "real" for p in u["parts"]}
               for n in names}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not speakers[a] & speakers[b], (a, b)
            assert not texts[a] & texts[b], (a, b)
            assert not prompts[a] & prompts[b], (a, b)
    assert speakers["test_real"] == set(mv.REAL_SPLITS["test"])
    assert speakers["train_real"] == set(mv.REAL_SPLITS["train"])
    # the synthesiser sentences avoid every sentence of the espeak test and validation sets
    import make_corpus
    espeak = make_corpus.make_plan(0, {"val": 50, "test": 100}, {})
    held = {u["text"] for s in ("val", "test") for u in espeak["splits"][s]["utterances"]}
    assert not texts["train_synth"] & held


def test_real_utterances_join_prompts_and_skip_silence(plan):
    for u in utts(plan, "train_real") + utts(plan, "test_real"):
        assert not any(p["prompt"].startswith("silence") for p in u["parts"])
        assert all(mv.PAUSE_SEC[0] <= p["pause"] <= mv.PAUSE_SEC[1] for p in u["parts"])
    # training speakers come in REAL_COPIES versions: one as recorded, the others augmented
    by_base = {}
    for u in utts(plan, "train_real"):
        by_base.setdefault(u["id"].rsplit("_", 1)[0], []).append(u["chain"])
    assert all(len(c) == mv.REAL_COPIES and c[0] is None and all(c[1:]) for c in by_base.values())
    assert all(u["chain"] is None for u in utts(plan, "test_real"))


def test_plan_is_deterministic_and_seed_dependent(plan, fake_asterisk):
    again = mv.make_plan(5, SMALL, MIXES, root=fake_asterisk)
    assert json.dumps(again, sort_keys=True) == json.dumps(plan, sort_keys=True)
    other = mv.make_plan(6, SMALL, MIXES, root=fake_asterisk)
    assert [u["text"] for u in utts(other, "train_synth")] != [u["text"] for u in utts(plan, "train_synth")]


def test_mixtures_pair_different_speakers(plan):
    for name in ("val_voices", "test_synth", "test_real"):
        by_id = {u["id"]: u for u in utts(plan, name)}
        ms = plan["splits"][name]["mixtures"]
        assert len(ms) == MIXES[name]
        assert all(by_id[m["s1"]]["variant"] != by_id[m["s2"]]["variant"] for m in ms)


def test_chains_stay_in_their_documented_ranges(plan):
    chains = [u["chain"] for u in utts(plan, "train_real") + utts(plan, "train_synth") if u["chain"]]
    assert chains
    for c in chains:
        assert c["formant"] is None or augment.FORMANT_RANGE[0] <= c["formant"] <= augment.FORMANT_RANGE[1]
        assert c["pitch_st"] is None or augment.PITCH_RANGE[0] <= c["pitch_st"] <= augment.PITCH_RANGE[1]
        assert c["rt60"] is None or augment.RT60_RANGE[0] <= c["rt60"] <= augment.RT60_RANGE[1]
        assert c["codec"] is None or tuple(c["codec"]) in augment.CODECS


def test_real_rendering_is_deterministic_and_normalised(plan):
    us = [u for u in utts(plan, "train_real") if u["chain"] and u["chain"]["rt60"] is None][:3]
    us += [u for u in utts(plan, "test_real")][:2]
    for u in us:
        a = mv.render_job([u])[0]
        assert a.dtype == np.float32 and 0 < len(a) <= sources.MAX_UTT_SEC * sources.SR
        assert abs(np.sqrt(np.mean(a.astype(np.float64) ** 2)) - 0.1) < 1e-3
        assert np.array_equal(a, mv.render_job([u])[0])
    # an unaugmented utterance is its trimmed prompts joined by the planned pauses
    u = next(u for u in utts(plan, "test_real"))
    parts = [sources.trim(sources.recording(p["path"])) for p in u["parts"]]
    n = sum(len(p) for p in parts) + sum(int(p["pause"] * sources.SR) for p in u["parts"][:-1])
    assert len(mv.real_audio(u)) == n


def test_telephone_split_has_no_energy_outside_the_band(tmp_path):
    import make_corpus
    rng = np.random.default_rng(2)
    test = tmp_path / "test"
    manifest = []
    for k in range(3):
        mid = "test_mix%04d" % k
        os.makedirs(test / mid)
        mix, s1, s2 = make_corpus.mix_pair(rng.standard_normal(8000), rng.standard_normal(6000), 1.0, 0.3)
        for name, q in (("mix", mix), ("s1", s1), ("s2", s2)):
            soundfile.write(str(test / mid / (name + ".wav")), q, 8000, subtype="PCM_16")
        manifest.append({"id": mid})
    with open(test / "manifest.json", "w") as f:
        json.dump({"sr": 8000, "mixtures": manifest}, f)
    mv.write_telephone_split(str(test), str(tmp_path), 2)
    items = tdata.load_fixed_split(str(tmp_path / "test_tel"))
    assert len(items) == 2
    f = np.fft.rfftfreq(8000, 1.0 / 8000)
    outside = (f < 300) | (f > 3400)
    for _, mix, src in items:
        assert np.allclose(mix, src.sum(0), atol=1e-6)
        for s in src:
            spec = np.abs(np.fft.rfft(s.astype(np.float64))) ** 2
            # only int16 rounding noise is left outside the band
            assert spec[outside].sum() < 1e-5 * spec.sum()


def write_shards(folder, voices, rng, extra=None):
    os.makedirs(folder, exist_ok=True)
    index, bufs, off = [], [], 0
    for i, v in enumerate(voices):
        n = 12000
        bufs.append(rng.standard_normal(n).astype(np.float32) * 0.1)
        index.append(dict({"id": "%s_%d" % (v, i), "shard": 0, "offset": off, "length": n,
                           "voice": v}, **(extra[i] if extra else {})))
        off += n
    np.save(os.path.join(folder, "shard_000.npy"), np.concatenate(bufs))
    with open(os.path.join(folder, "index.json"), "w") as f:
        json.dump({"sr": 8000, "utterances": index}, f)


def test_mixer_draws_splits_by_weight_and_never_one_voice_twice(tmp_path):
    rng = np.random.default_rng(0)
    write_shards(str(tmp_path / "a"), ["en-us+m1", "en-us+f1"] * 3, rng)
    aug = [{"pitch_st": p, "formant": None} for p in (None, 0.5, 4.0)]
    write_shards(str(tmp_path / "b"), ["real+allison"] * 3, rng, aug)
    mixer = tdata.TrainMixer({str(tmp_path / "a"): 0.25, str(tmp_path / "b"): 0.75}, 4000)
    draws = [mixer._draw(np.random.default_rng(k)) for k in range(2000)]
    share_b = np.mean([mixer.index[i]["voice"].startswith("real") for i in draws])
    assert abs(share_b - 0.75) < 0.04
    # espeak variants: one variant never twice; an augmented speaker: only far-apart versions
    a_m1 = [i for i, u in enumerate(mixer.index) if u["voice"] == "en-us+m1"]
    assert not mixer.distinct_voices(a_m1[0], a_m1[1])
    b = [i for i, u in enumerate(mixer.index) if u["voice"] == "real+allison"]
    assert not mixer.distinct_voices(b[0], b[1])        # as recorded and +0.5 semitones
    assert not mixer.distinct_voices(b[1], b[1])
    assert mixer.distinct_voices(b[1], b[2])            # 0.5 and 4.0 semitones: 3.5 apart
    assert mixer.distinct_voices(b[0], b[2])            # as recorded and +4 semitones
    assert mixer.distinct_voices(a_m1[0], b[0])


def test_augmenting_mixer_keeps_targets_clean_and_is_deterministic(tmp_path):
    rng = np.random.default_rng(1)
    write_shards(str(tmp_path / "a"), ["en-us+m1", "en-us+f1", "en-us+m2", "en-us+f2"], rng)
    mixer = tdata.TrainMixer(str(tmp_path / "a"), 8000, augment=True)
    mix, src = mixer.batch(32, np.random.default_rng(3))
    again, _ = mixer.batch(32, np.random.default_rng(3))
    assert np.array_equal(mix, again)
    resid = mix[:, 0] - src.sum(1)
    noisy = np.abs(resid).max(-1) > 1e-6
    # noise (p 0.3) goes under the mixture only, 25-45 dB below it
    assert 0 < noisy.sum() < 32
    for r, m in zip(resid[noisy], mix[noisy, 0]):
        snr = 10 * np.log10(np.mean((m - r) ** 2) / np.mean(r ** 2))
        assert augment.NOISE_SNR_RANGE[0] - 0.5 < snr < augment.NOISE_SNR_RANGE[1] + 0.5


HAVE_FLITE = sources.engine_available("flite")
HAVE_FESTIVAL = sources.engine_available("festival")


@pytest.mark.skipif(not HAVE_FLITE, reason="flite not installed (apt-get install flite)")
def test_flite_voice_renders_8k_deterministically():
    v = mv.VOICES["flite_kal16"]
    a = sources.render_tmp(v, ["the quiet farmer carried seven apples", "a second one"])
    b = sources.render_tmp(v, ["the quiet farmer carried seven apples", "a second one"])
    assert len(a) == 2 and all(np.array_equal(x, y) for x, y in zip(a, b))
    assert 0.5 * sources.SR < len(a[0]) <= sources.MAX_UTT_SEC * sources.SR
    assert np.sqrt(np.mean(a[0] ** 2)) > 1e-3


@pytest.mark.skipif(not HAVE_FESTIVAL, reason="festival not installed (apt-get install festival)")
def test_festival_voice_renders_8k_deterministically():
    v = mv.VOICES["kal_diphone"]
    if not os.path.isdir("/usr/share/festival/voices/english/kal_diphone"):
        pytest.skip("festvox-kallpc16k not installed")
    a = sources.render_tmp(v, ["the quiet farmer carried seven apples"])
    assert np.array_equal(a[0], sources.render_tmp(v, ["the quiet farmer carried seven apples"])[0])
    assert 0.5 * sources.SR < len(a[0]) <= sources.MAX_UTT_SEC * sources.SR
