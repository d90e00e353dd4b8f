"""Tests of the SVOX Pico voices of the training corpus (training/sources.py,
training/make_voices_corpus.py): the plan tests need no Pico; the rendering tests
skip unless the ``ttspico`` package is installed (pip install ttspico==0.3.2).
"""

import itertools
import json
import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "training"))

import data as tdata  # noqa: E402
import make_voices_corpus as mv  # noqa: E402
import sentences  # noqa: E402
import sources  # noqa: E402

SMALL = {"train": 4, "val": 2, "test": 2}
PICO_SMALL = {"train": 5, "test": 6}
MIXES = {"val_voices": 3, "test_synth": 3, "test_pico": 8}
HELD_OUT = {"en-GB", "fr-FR"}


@pytest.fixture(scope="module")
def plan():
    return mv.make_plan(3, SMALL, MIXES, real=False, pico_per_voice=PICO_SMALL)


def utts(plan, split):
    return plan["splits"][split]["utterances"]


def test_six_pico_voices_one_speaker_per_language():
    langs = [v.lang for v in sources.PICO_VOICES]
    assert sorted(langs) == ["de-DE", "en-GB", "en-US", "es-ES", "fr-FR", "it-IT"]
    assert len({v.speaker for v in sources.PICO_VOICES}) == 6
    assert all(v.engine == "pico" and v.speaker.startswith(v.lang) for v in sources.PICO_VOICES)
    split_langs = {s: {mv.VOICES[n].lang for n in names} for s, names in mv.PICO_SPLITS.items()}
    assert split_langs == {"train": {"en-US", "de-DE", "es-ES", "it-IT"}, "test": HELD_OUT}
    # no Pico speaker is among the other synthesisers' voices
    others = {mv.VOICES[n].speaker for names in mv.SYNTH_SPLITS.values() for n in names}
    assert not others & {v.speaker for v in sources.PICO_VOICES}


def test_pico_splits_are_disjoint_by_speaker_and_sentence(plan):
    train, test = utts(plan, "train_pico"), utts(plan, "test_pico")
    assert {mv.VOICES[u["voice"]].lang for u in test} == HELD_OUT
    assert not {u["variant"] for u in train} & {u["variant"] for u in test}
    assert not {u["text"] for u in train} & {u["text"] for u in test}
    assert len(train) == 4 * PICO_SMALL["train"] and len(test) == 2 * PICO_SMALL["test"]
    # the held-out voices reach no training split, nor any split but test_pico
    held = {v.name for v in sources.PICO_VOICES if v.lang in HELD_OUT}
    for name, entry in plan["splits"].items():
        if name != "test_pico":
            assert not held & {u["voice"] for u in entry["utterances"]}, name
    # training utterances are augmented like train_synth's; the test ones are not
    assert all(u["chain"] for u in train) and all(u["chain"] is None for u in test)


def test_test_pico_mixtures_pair_the_two_held_out_voices(plan):
    by_id = {u["id"]: u for u in utts(plan, "test_pico")}
    ms = plan["splits"]["test_pico"]["mixtures"]
    assert len(ms) == MIXES["test_pico"]
    assert all({by_id[m["s1"]]["variant"], by_id[m["s2"]]["variant"]} == {"en-GB_kh0", "fr-FR_nk0"}
               for m in ms)


def test_adding_pico_leaves_every_other_split_unchanged(plan):
    other = mv.make_plan(3, SMALL, dict(MIXES, test_pico=5), real=False,
                         pico_per_voice={"train": 9, "test": 3})
    old = [s for s in plan["splits"] if "pico" not in s]
    assert old == ["train_synth", "val_voices", "test_synth"]
    for s in old:
        assert json.dumps(other["splits"][s]) == json.dumps(plan["splits"][s]), s
    assert other["splits"]["train_pico"] != plan["splits"]["train_pico"]
    # the other synthesisers' sentences come from their own stream, as before Pico
    texts = mv.routed_texts(3 + 1000, mv.SYNTH_SPLITS, SMALL)
    assert [u["text"] for u in utts(plan, "train_synth")] == texts["train"]


def test_pico_plan_is_deterministic_and_seed_dependent(plan):
    again = mv.make_plan(3, SMALL, MIXES, real=False, pico_per_voice=PICO_SMALL)
    assert json.dumps(again, sort_keys=True) == json.dumps(plan, sort_keys=True)
    other = mv.make_plan(4, SMALL, MIXES, real=False, pico_per_voice=PICO_SMALL)
    assert [u["text"] for u in utts(other, "train_pico")] != [u["text"] for u in utts(plan, "train_pico")]


def fake_job(us):
    return [np.full(800 + 80 * k, 0.1, dtype=np.float32) for k in range(len(us))]


def failing_job(us):
    raise RuntimeError("synthesiser crashed")


def test_plan_file_records_only_the_splits_written(plan, tmp_path, capsys):
    out = str(tmp_path)
    mv.write_planned_splits(plan, out, "plan.json", ["test_synth"], 1, False, fake_job)
    # a second run that adds a split: the first is up to date, the plan file gains the new one
    mv.write_planned_splits(plan, out, "plan.json", ["test_synth", "test_pico"], 1, False, fake_job)
    assert "test_synth: up to date" in capsys.readouterr().out
    with open(tmp_path / "plan.json") as f:
        assert sorted(json.load(f)["splits"]) == ["test_pico", "test_synth"]
    # a split whose rendering fails stays unrecorded (and is not reported up to date later)
    changed = dict(plan, splits=dict(plan["splits"], test_pico=plan["splits"]["test_synth"]))
    with pytest.raises(RuntimeError):
        mv.write_planned_splits(changed, out, "plan.json", ["test_pico"], 1, False, failing_job)
    with open(tmp_path / "plan.json") as f:
        assert json.load(f)["splits"]["test_pico"] == plan["splits"]["test_pico"]
    mv.write_planned_splits(changed, out, "plan.json", ["test_pico"], 1, False, fake_job)
    assert "up to date" not in capsys.readouterr().out


def test_pico_splits_need_pico_and_nothing_else(monkeypatch, tmp_path):
    monkeypatch.setattr(sources, "engine_available", lambda engine: engine != "pico")
    monkeypatch.setattr(sources, "ASTERISK", str(tmp_path / "no_asterisk"))
    small = mv.make_plan(0, SMALL, MIXES, pico_per_voice=PICO_SMALL)
    assert mv.missing_sources(["train_pico"], small) == ["pico"]
    assert mv.missing_sources(["test_synth", "val_voices"], small) == []
    assert mv.missing_sources(["test_real"], small) == [sources.ASTERISK]
    with pytest.raises(SystemExit, match="missing pico: .*pip install ttspico"):
        mv.main(["--out", str(tmp_path), "--scale", "0.02", "--split", "test_pico"])
    assert not os.path.exists(tmp_path / "test_pico")


HAVE_PICO = sources.engine_available("pico")
needs_pico = pytest.mark.skipif(not HAVE_PICO, reason="SVOX Pico not installed (pip install ttspico==0.3.2)")
TEXTS = ["The quiet farmer carried seven apples.", "A second sentence, said after the first."]


@needs_pico
@pytest.mark.parametrize("voice", sources.PICO_VOICES, ids=lambda v: v.lang)
def test_pico_voice_renders_8k_deterministically(voice):
    a = sources.render_tmp(voice, TEXTS)
    assert len(a) == 2 and all(x.dtype == np.float64 for x in a)
    # 16 kHz speech resampled to 8 kHz: about 2.5 s for seven words, not 5 s
    assert all(1.0 * sources.SR < len(x) < 4.0 * sources.SR for x in a)
    assert all(np.sqrt(np.mean(x ** 2)) > 0.02 for x in a)
    # the same text gives the same samples, whatever was said before it
    alone = sources.render_tmp(voice, TEXTS[1:])
    assert np.array_equal(a[1], alone[0])
    assert all(np.array_equal(x, y) for x, y in zip(a, sources.render_tmp(voice, TEXTS)))
    # the 8 kHz signal is the voice's language's 16 kHz speech, resampled and trimmed
    raw = sources.pico_speak(voice.lang, TEXTS[0]) / 32768.0
    assert np.array_equal(a[0], sources.trim(sources.to_8k(raw, sources.PICO_SR)))


@needs_pico
def test_pico_languages_are_different_voices():
    said = {v.lang: sources.render_tmp(v, TEXTS[:1])[0] for v in sources.PICO_VOICES}
    for a, b in itertools.combinations(said, 2):
        n = min(len(said[a]), len(said[b]))
        assert not np.allclose(said[a][:n], said[b][:n], atol=1e-3), (a, b)


@needs_pico
def test_pico_does_not_clip_at_the_chosen_volume():
    texts = list(itertools.islice(sentences.sentence_stream("en", 11), 5))
    for v in sources.PICO_VOICES:
        peak = max(np.abs(sources.pico_speak(v.lang, t).astype(np.int32)).max() for t in texts)
        assert peak < 0.9 * 32767, v.lang


@needs_pico
def test_pico_splits_are_written_and_readable(tmp_path):
    mv.main(["--out", str(tmp_path), "--scale", "0.01", "--procs", "1",
             "--split", "train_pico", "--split", "test_pico"])
    assert sorted(os.listdir(tmp_path)) == ["plan_voices.json", "test_pico", "train_pico"]
    items = tdata.load_fixed_split(str(tmp_path / "test_pico"))
    assert len(items) == 2
    for _, mix, src in items:
        assert np.allclose(mix, src.sum(0), atol=1e-6) and np.all(np.abs(src).max(-1) > 0.01)
    with open(tmp_path / "test_pico" / "manifest.json") as f:
        voices = [{m["s1_voice"]["voice"], m["s2_voice"]["voice"]} for m in json.load(f)["mixtures"]]
    assert voices == [{"pico+en-GB_kh0", "pico+fr-FR_nk0"}] * 2
    mixer = tdata.TrainMixer(str(tmp_path / "train_pico"), 4000)
    assert {u["voice"] for u in mixer.index} == {"pico+" + v.speaker for v in sources.PICO_VOICES
                                                  if v.lang not in HELD_OUT}
    mix, src = mixer.batch(2, np.random.default_rng(0))
    assert mix.shape == (2, 1, 4000) and src.shape == (2, 2, 4000)
