"""Tests of the many-real-speakers splits (training/make_real_corpus.py and the KDE
recordings' discovery in training/sources.py).

The packages' folders are stood in for by tiny folders written here, laid out like
``/usr/share/ktuberling/sounds/<lang>/*.ogg`` and ``/usr/share/klettres/<lang>/{alpha,syllab}/*.ogg``
(noise bursts with quiet edges and a hiss floor), so CI needs neither package.
"""

import json
import os
import shutil
import sys

import numpy as np
import pytest
import soundfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "training"))

import data as tdata  # noqa: E402
import make_real_corpus as mr  # noqa: E402
import make_voices_corpus as mv  # noqa: E402
import sources  # noqa: E402
from test_training_voices import burst  # noqa: E402

pytestmark = pytest.mark.skipif("OGG" not in soundfile.available_formats(),
                                reason="this libsndfile cannot write Ogg files")

KTUBERLING_LANGS = ["wa", "el", "de", "fr", "sr", "sr@latin", "ga"]
KLETTRES_LANGS = ["cs", "he", "it"]
MIXES = 12


def word(rng, seconds, rate):
    """A recorded word: a loud middle between silent edges, over a hiss 40 dB down."""
    return burst(rng, seconds, rate, floor=2e-3, edge=5)


@pytest.fixture(scope="module")
def kde_roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("kde")
    rng = np.random.default_rng(0)
    roots = {"ktuberling": str(base / "ktuberling"), "klettres": str(base / "klettres")}
    for lang in KTUBERLING_LANGS:
        d = base / "ktuberling" / lang
        if lang == "sr@latin":            # the Serbian folders hold copies of one set of files
            shutil.copytree(base / "ktuberling" / "sr", d)
            continue
        os.makedirs(d)
        for k in range(6 if lang == "sr" else 14):
            ext, fmt = (".wav", "WAV") if k % 4 == 0 else (".ogg", "OGG")
            soundfile.write(str(d / ("w%02d%s" % (k, ext))), word(rng, rng.uniform(0.4, 1.4), 44100),
                            44100, format=fmt)
        (d / "readme.txt").write_text("not audio")
    for lang in KLETTRES_LANGS:
        for sub in ("alpha", "syllab"):
            d = base / "klettres" / lang / sub
            os.makedirs(d)
            for k in range(8):
                soundfile.write(str(d / ("%s%d.ogg" % (sub[0].upper(), k))),
                                word(rng, rng.uniform(1.5, 2.0), 44100), 44100, format="OGG")
        (base / "klettres" / lang / "sounds.xml").write_text("<klettres/>")
    os.makedirs(base / "klettres" / "pics")
    return roots


@pytest.fixture(scope="module")
def plan(kde_roots):
    return mr.make_plan(3, MIXES, kde_roots)


def utts(plan, split):
    return plan["splits"][split]["utterances"]


def test_discovery_finds_one_speaker_per_language_folder(kde_roots):
    found = sources.kde_speakers(kde_roots)
    want = {"ktuberling_" + l for l in KTUBERLING_LANGS if l not in ("sr@latin", "ga")}
    want |= {"klettres_" + l for l in KLETTRES_LANGS}
    assert set(found) == want
    # the Serbian spellings are one speaker, each recording once
    assert [p for p, _ in found["ktuberling_sr"]] == ["w%02d" % k for k in range(6)]
    # prompt ids keep the sub-folder; only audio files count
    assert [p for p, _ in found["klettres_cs"]][:2] == ["alpha/A0", "alpha/A1"]
    assert all(f.endswith(sources.KDE_AUDIO) for fs in found.values() for _, f in fs)
    assert len(found["ktuberling_de"]) == 14


def test_discovery_skips_a_missing_package(kde_roots, tmp_path):
    found = sources.kde_speakers({"klettres": kde_roots["klettres"], "ktuberling": str(tmp_path / "no")})
    assert set(found) == {"klettres_" + l for l in KLETTRES_LANGS}


def test_splits_are_disjoint_by_speaker(plan):
    train = {u["variant"] for u in utts(plan, "train_kde")}
    val = {u["variant"] for u in utts(plan, "val_real")}
    assert val == set(mr.VAL_SPEAKERS)
    assert train and not train & val
    # neither shares a speaker with the Asterisk splits (test_real's held-out speakers)
    asterisk = set(mv.REAL_SPLITS["train"]) | set(mv.REAL_SPLITS["test"])
    assert not (train | val) & asterisk
    files = {n: {p["path"] for u in utts(plan, n) for p in u["parts"]} for n in ("train_kde", "val_real")}
    assert not files["train_kde"] & files["val_real"]


def test_plan_is_deterministic_and_seed_dependent(plan, kde_roots):
    again = mr.make_plan(3, MIXES, kde_roots)
    assert json.dumps(again, sort_keys=True) == json.dumps(plan, sort_keys=True)
    other = mr.make_plan(4, MIXES, kde_roots)
    assert [u["text"] for u in utts(other, "train_kde")] != [u["text"] for u in utts(plan, "train_kde")]


def planned_seconds(u):
    """Length of an utterance as joined: its trimmed items and the pauses between them."""
    items = sum(len(mr.item_audio(p["path"])) for p in u["parts"]) / sources.SR
    return items + sum(p["pause"] for p in u["parts"][:-1])


def test_utterances_last_3_5_to_6_s_except_each_speakers_last(plan):
    for split in ("train_kde", "val_real"):
        by_speaker = {}
        for u in utts(plan, split):
            if u["id"].endswith("_0"):
                by_speaker.setdefault(u["variant"], []).append(u)
        for speaker, us in by_speaker.items():
            secs = [planned_seconds(u) for u in us]
            assert all(s >= mr.UTT_SEC[0] for s in secs[:-1]), speaker
            assert secs[-1] >= mr.LAST_UTT_SEC
            for u in us:
                assert all(mr.PAUSE_SEC[0] <= p["pause"] <= mr.PAUSE_SEC[1] for p in u["parts"])
                n = len(mr.render_job([u])[0])
                assert n <= mr.UTT_SEC[1] * sources.SR
                # as recorded, the rendered utterance is the planned one (cut at 6 s)
                assert n == min(int(mr.UTT_SEC[1] * sources.SR), len(mv.real_audio(u, mr.item_audio)))
    # a speaker's items each appear once in its utterances
    parts = [p["path"] for u in utts(plan, "val_real") for p in u["parts"]]
    assert len(parts) == len(set(parts))


def test_training_utterances_come_in_three_versions_validation_in_one(plan):
    by_base = {}
    for u in utts(plan, "train_kde"):
        by_base.setdefault(u["id"].rsplit("_", 1)[0], []).append(u["chain"])
    assert by_base
    assert all(len(c) == mv.REAL_COPIES and c[0] is None and all(c[1:]) for c in by_base.values())
    assert all(u["chain"] is None for u in utts(plan, "val_real"))


def test_validation_mixtures_pair_two_speakers(plan):
    by_id = {u["id"]: u for u in utts(plan, "val_real")}
    ms = plan["splits"]["val_real"]["mixtures"]
    assert len(ms) == MIXES
    assert all(by_id[m["s1"]]["variant"] != by_id[m["s2"]]["variant"] for m in ms)


def kept_span(x, y):
    """Start and end in ``x`` of its slice ``y``."""
    start = next(i for i in range(len(x) - len(y) + 1) if np.array_equal(x[i:i + len(y)], y))
    return start, start + len(y)


def test_trim_above_noise_cuts_hiss_and_a_click_that_trim_keeps():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(16000) * 0.01        # hiss 26 dB under the word
    x[6000:10000] += rng.standard_normal(4000) * 0.2
    x[1000:1040] += 1.0                           # a click 0.6 s before the word
    assert len(sources.trim(x)) > 14000
    start, end = kept_span(x, sources.trim_above_noise(x))
    # the word and its 50 ms margins (+ 2 frames of smoothing), nothing of the click
    slack = int(0.05 * sources.SR) + 2 * 80
    assert 6000 - slack <= start <= 6000 - 200 and 10000 + 200 <= end <= 10000 + slack


def test_trim_above_noise_keeps_a_word_with_a_short_pause_inside():
    rng = np.random.default_rng(2)
    x = rng.standard_normal(16000) * 1e-4
    x[4000:6000] += rng.standard_normal(2000) * 0.2
    x[7600:9000] += rng.standard_normal(1400) * 0.05   # 0.2 s later, 12 dB quieter
    start, end = kept_span(x, sources.trim_above_noise(x))
    assert start < 4000 and end > 9000
    # a pause longer than max_gap splits the word: the louder part is kept
    start, end = kept_span(x, sources.trim_above_noise(x, max_gap=0.1))
    assert start < 4000 and 6000 < end < 7600


def test_generator_writes_loadable_splits_and_skips_unchanged(kde_roots, tmp_path, monkeypatch, capsys):
    pytest.importorskip("pyroomacoustics")        # some augmentation chains simulate a room
    monkeypatch.setattr(sources, "KDE_ROOTS", kde_roots)
    out = str(tmp_path / "corpus")
    mr.main(["--out", out, "--procs", "1", "--scale", str(MIXES / mr.VAL_MIXES)])
    printed = capsys.readouterr().out
    assert "val_real: 4 speakers" in printed and "%d mixtures" % MIXES in printed
    items = tdata.load_fixed_split(os.path.join(out, "val_real"))
    assert len(items) == MIXES
    for _, mix, src in items:
        assert np.allclose(mix, src.sum(0), atol=1e-6)
    mixer = tdata.TrainMixer(os.path.join(out, "train_kde"), 8000, augment=True)
    assert {u["voice"] for u in mixer.index} == {"real+" + u["variant"] for u in mr.make_plan(
        0, MIXES, kde_roots)["splits"]["train_kde"]["utterances"]}
    mix, src = mixer.batch(4, np.random.default_rng(0))
    assert mix.shape == (4, 1, 8000) and src.shape == (4, 2, 8000)
    mr.main(["--out", out, "--procs", "1", "--scale", str(MIXES / mr.VAL_MIXES)])
    assert "val_real: up to date" in capsys.readouterr().out


def test_generator_says_which_package_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "KDE_ROOTS", {"klettres": str(tmp_path / "absent")})
    with pytest.raises(SystemExit) as e:
        mr.main(["--out", str(tmp_path / "corpus")])
    assert "apt-get install" in str(e.value) and "absent" in str(e.value)
    assert not os.path.exists(tmp_path / "corpus")


@pytest.mark.skipif(not all(os.path.isdir(r) for r in sources.KDE_ROOTS.values()),
                    reason="ktuberling-data / klettres-data not installed (apt-get install ...)")
def test_installed_packages_hold_the_validation_speakers():
    found = sources.kde_speakers()
    assert set(mr.VAL_SPEAKERS) <= set(found)
    assert len(found) - len(mr.VAL_SPEAKERS) >= 30
    assert not set(sources.KDE_EXCLUDED) & set(found)
