"""Tests of the many-real-speakers splits (training/make_real_corpus.py and the KDE
games', gcin-voice's, Fish Fillets NG's and Tux Paint's recordings' discovery in
training/sources.py).

The packages' folders are stood in for by tiny folders written here, laid out like
``/usr/share/ktuberling/sounds/<lang>/*.ogg``, ``/usr/share/klettres/<lang>/{alpha,syllab}/*.ogg``,
``/usr/share/gcin-voice/ogg/<syllable>/{3,5}.ogg``,
``/usr/share/games/fillets-ng/sound/<level>/<lang>/<tag>-<character>-<line>.ogg`` and
``/usr/share/tuxpaint/stamps/<category>/<stamp>_desc_<lang>.ogg`` (noise bursts with
quiet edges and a hiss floor), and the zip archives of 0 A.D., Warzone 2100 and Nexuiz
and codec2's example recording by small archives and a file written here, so CI needs
none of the packages.
"""

import io
import json
import os
import shutil
import sys
import zipfile

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
GCIN_SYLLABLES = ["ㄅㄚ", "ㄅㄚ2", "ㄇㄚ3", "ㄇㄚ4", "ㄉㄚ", "ㄌㄧ2", "ㄏㄠ3", "ㄕ4", "ㄨㄛ3", "ㄋㄧ3",
                  "ㄓ", "ㄓ1", "ㄗ4", "ㄙ", "ㄖㄣ2", "ㄍㄜ", "ㄎㄜ3", "ㄒㄧ4", "ㄐㄧ", "ㄑㄧ2"]
GCIN_ONE_VOICE = {"ㄓ1", "ㄗ4"}         # folders holding only 3.ogg
MIXES = 12
# (level folder, file names in it): the fish's lines with a level tag or without, other
# characters' lines (x, pap, a numbered one), sound effects and a 4-part name
FILLETS_LEVELS = [("airplane", ["let-v-oko", "let-m-oko", "let-v-vrak0", "let-m-divna", "let-x-gr0"]),
                  ("rush", ["v-chytra", "m-silou", "m-hraje", "1-uvod"]),
                  ("cabin1", ["k1-pap-kruci", "k1-v-lod", "k1-m-lod", "rand-3-2-0"]),
                  ("share/blackjokes", ["smrt-v-0", "smrt-m-0", "smrt-v-obe"])]
FILLETS_CS_ONLY = {"airplane/let-m-divna"}      # not translated
TUXPAINT_STAMPS = ["animals/birds/duck", "animals/cat", "food/apple", "symbols/shapes/star", "town/car",
                   "seasonal/christmas/star", "symbols/music/note_a", "symbols/music/note_b"]
# the languages written for each stamp: every kept one, plus a few under a minute and English
TUXPAINT_WRITTEN = sources.TUXPAINT_LANGS + ("nl", "lt", "")
GAMES_TRAIN = ["fillets_cs_m", "fillets_cs_v", "fillets_nl_m", "fillets_nl_v", "tuxpaint_be", "tuxpaint_bg",
               "tuxpaint_ca", "tuxpaint_es", "tuxpaint_ro", "tuxpaint_ru"]
TUXPAINT_SAME = {"seasonal/christmas/star": "symbols/shapes/star",      # byte-identical copies
                 "symbols/music/note_b": "symbols/music/note_a"}
# the stand-in archives' members: (member, seconds); those of no kept speaker are marked
ZEROAD_CIV = "audio/voice/%s/civ/civ_%s_%s.ogg"
ZEROAD_MEMBERS = ([(ZEROAD_CIV % ("greek", "female", "order_%d" % k), 1.5) for k in range(8)]
                  + [(ZEROAD_CIV % ("greek", "male", "yes_%d" % k), 0.9) for k in range(4)]   # 3.6 s in all
                  + [(ZEROAD_CIV % ("napatan", "male", "attack_%02d" % k), 2.0) for k in range(6)]
                  + [("audio/voice/global/civ_dog_bark.ogg", 1.0),
                     ("audio/voice/celt/civ/civ_male_yes_1.ogg", 1.0)])
WARZONE_MEMBERS = ([("audio/tutorial/tut%d.ogg" % k, 2.0) for k in range(6)]
                   + [("audio/memressp/power/pow%d.ogg" % k, 1.5) for k in range(3)]
                   + [("audio/countdown/5min.ogg", 1.5), ("audio/extra/pcv610.ogg", 1.5)]
                   + [("audio/taunts/taunt1/t1.ogg", 1.0), ("audio/vtoltalk/v1.ogg", 1.0),
                      ("audio/nexus/laugh1.ogg", 1.0), ("audio/sfx/weapons/gun.ogg", 1.0)])
NEXUIZ_MEMBERS = [("sound/tutorial/1-welcome.ogg", 13.0), ("sound/tutorial/2-jumppad.ogg", 4.0),
                  ("sound/tutorial/misc-door.ogg", 2.0), ("sound/announcer/male/impressive.ogg", 1.0),
                  ("sound/player/marine/coms/attack.ogg", 1.0)]
MISC_TRAIN = ["0ad_greek_female", "0ad_napatan_male", "codec2_ve9qrp", "nexuiz_tutorial", "warzone_announcer"]
# the stand-in codec2 recording: 12 s of speech with pauses near 4 s and 8 s, where its
# three pieces are cut
CODEC2_PAUSES = [(3.7, 3.9), (8.2, 8.4)]


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
def gcin_root(tmp_path_factory):
    """A folder per syllable (made in reverse order: discovery must sort), each with the
    syllable said in ``3.ogg`` and, except ``GCIN_ONE_VOICE``, in ``5.ogg``."""
    base = tmp_path_factory.mktemp("gcin") / "ogg"
    rng = np.random.default_rng(1)
    for syllable in reversed(GCIN_SYLLABLES):
        d = base / syllable
        os.makedirs(d)
        for name in ("3.ogg", "5.ogg"):
            if name == "5.ogg" and syllable in GCIN_ONE_VOICE:
                continue
            soundfile.write(str(d / name), word(rng, rng.uniform(0.25, 0.5), 44100), 44100, format="OGG")
    (base / "ㄅㄚ" / "4.ogg").write_bytes((base / "ㄅㄚ" / "3.ogg").read_bytes())   # no one's file name
    (base / "README").write_text("not a syllable")
    return str(base)


@pytest.fixture(scope="module")
def fillets_root(tmp_path_factory):
    """Each level's lines in cs and nl (not ``FILLETS_CS_ONLY`` in nl), 1-2.5 s at 22.05 kHz,
    an English folder, sound effects outside the language folders and one byte copy."""
    base = tmp_path_factory.mktemp("fillets") / "sound"
    rng = np.random.default_rng(2)
    for level, names in FILLETS_LEVELS:
        for lang in ("cs", "nl", "en"):
            d = base / level / lang
            os.makedirs(d)
            for name in names:
                if lang == "en" and "-x-" not in name or lang == "nl" and level + "/" + name in FILLETS_CS_ONLY:
                    continue
                soundfile.write(str(d / (name + ".ogg")), word(rng, rng.uniform(1.0, 2.5), 22050), 22050,
                                format="OGG")
        soundfile.write(str(base / level / "sp-splash.ogg"), word(rng, 0.5, 22050), 22050, format="OGG")
    d = base / "airplane" / "cs"
    (d / "let-v-oko2.ogg").write_bytes((d / "let-v-oko.ogg").read_bytes())
    return str(base)


@pytest.fixture(scope="module")
def tuxpaint_root(tmp_path_factory):
    """Every stamp described in ``TUXPAINT_WRITTEN`` (1-3 s; ``TUXPAINT_SAME`` as byte
    copies), plus the stamps' pictures, a stamp's name said (``<stamp>_<lang>.ogg``) and
    a description named ``_desc_da.ogg.ogg``."""
    base = tmp_path_factory.mktemp("tuxpaint") / "stamps"
    rng = np.random.default_rng(3)
    for stamp in TUXPAINT_STAMPS:
        os.makedirs((base / stamp).parent, exist_ok=True)
        (base / (stamp + ".png")).write_bytes(b"png")
        for lang in TUXPAINT_WRITTEN:
            suffix = "_desc%s.ogg" % ("_" + lang if lang else "")
            if stamp in TUXPAINT_SAME:
                shutil.copyfile(base / (TUXPAINT_SAME[stamp] + suffix), base / (stamp + suffix))
            else:
                soundfile.write(str(base / (stamp + suffix)), word(rng, rng.uniform(1.0, 3.0), 44100), 44100,
                                format="OGG")
    shutil.copyfile(base / "town/car_desc_el.ogg", base / "town/car_el.ogg")
    soundfile.write(str(base / "town/bus_desc_da.ogg.ogg"), word(rng, 2.0, 44100), 44100, format="OGG")
    return str(base)


def ogg_bytes(x, rate):
    buf = io.BytesIO()
    soundfile.write(buf, x, rate, format="OGG")
    return buf.getvalue()


def write_archive(path, members, rng, rate, channels=1, compression=zipfile.ZIP_STORED):
    """A zip archive of Ogg members ``(name, seconds)`` (a word, in ``channels`` equal
    channels) and a text member."""
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, sec in members:
            x = word(rng, sec, rate)
            z.writestr(name, ogg_bytes(np.stack([x] * channels, axis=1) if channels > 1 else x, rate))
        z.writestr("readme.txt", "not audio")
    return str(path)


@pytest.fixture(scope="module")
def misc_roots(tmp_path_factory):
    """``sources.MISC_ROOTS`` stood in for: 0 A.D.'s archive (44.1 kHz, stored; one byte
    copy), Warzone 2100's (11.025 kHz), Nexuiz's (44.1 kHz stereo, deflated) and
    codec2's recording (8 kHz WAV, ``CODEC2_PAUSES``)."""
    base = tmp_path_factory.mktemp("misc")
    rng = np.random.default_rng(5)
    roots = {"0ad": write_archive(base / "public.zip", ZEROAD_MEMBERS, rng, 44100),
             "warzone": write_archive(base / "base.wz", WARZONE_MEMBERS, rng, 11025),
             "nexuiz": write_archive(base / "data.pk3", NEXUIZ_MEMBERS, rng, 44100, 2, zipfile.ZIP_DEFLATED),
             "codec2": str(base / "ve9qrp.wav")}
    with zipfile.ZipFile(roots["0ad"], "a") as z:
        z.writestr(ZEROAD_CIV % ("napatan", "male", "attack_copy"),
                   z.read(ZEROAD_CIV % ("napatan", "male", "attack_00")))
    x = word(rng, 12.0, sources.SR)
    for a, b in CODEC2_PAUSES:
        x[int(a * sources.SR):int(b * sources.SR)] *= 1e-3
    soundfile.write(roots["codec2"], x, sources.SR)
    return roots


def stand_in_plan(seed, kde_roots, gcin_root, fillets_root, tuxpaint_root, misc_roots=None):
    return mr.make_plan(seed, MIXES, kde_roots, gcin_root, fillets_root, tuxpaint_root, misc_roots or {})


@pytest.fixture(scope="module")
def plan(kde_roots, gcin_root, fillets_root, tuxpaint_root, misc_roots):
    return stand_in_plan(3, kde_roots, gcin_root, fillets_root, tuxpaint_root, misc_roots)


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


def test_gcin_discovery_finds_two_speakers_by_file_name(gcin_root):
    found = sources.gcin_speakers(gcin_root)
    assert set(found) == {"gcin_liu", "gcin_chulo"} == set(sources.GCIN_SPEAKERS.values())
    # sorted by syllable, the prompt id; each speaker's own file of every folder
    assert [p for p, _ in found["gcin_liu"]] == sorted(GCIN_SYLLABLES)
    assert [p for p, _ in found["gcin_chulo"]] == sorted(set(GCIN_SYLLABLES) - GCIN_ONE_VOICE)
    assert all(f == os.path.join(gcin_root, p, "3.ogg") for p, f in found["gcin_liu"])
    assert all(f == os.path.join(gcin_root, p, "5.ogg") for p, f in found["gcin_chulo"])


def test_gcin_discovery_skips_a_missing_package(tmp_path, kde_roots, fillets_root, tuxpaint_root, plan):
    assert sources.gcin_speakers(str(tmp_path / "no")) == {}
    without = stand_in_plan(3, kde_roots, str(tmp_path / "no"), fillets_root, tuxpaint_root)
    assert utts(without, "train_gcin") == [] and utts(plan, "train_gcin")


def test_adding_gcin_leaves_the_older_splits_plans_as_they_were(plan, kde_roots, fillets_root, tuxpaint_root,
                                                                tmp_path):
    before = stand_in_plan(3, kde_roots, str(tmp_path / "no"), fillets_root, tuxpaint_root)
    for split in ("train_kde", "val_real"):
        assert json.dumps(before["splits"][split]) == json.dumps(plan["splits"][split])
    # and without the KDE games, train_gcin is planned all the same
    alone = stand_in_plan(3, {"ktuberling": str(tmp_path / "no")}, plan_gcin_root(plan), fillets_root,
                          tuxpaint_root)
    assert utts(alone, "val_real") == [] == utts(alone, "train_kde")
    assert json.dumps(alone["splits"]["train_gcin"]) == json.dumps(plan["splits"]["train_gcin"])


def plan_gcin_root(plan):
    """The stand-in package folder that ``plan``'s train_gcin files are in."""
    return os.path.dirname(os.path.dirname(utts(plan, "train_gcin")[0]["parts"][0]["path"]))


def test_gcin_split_is_disjoint_from_validation_and_test_speakers(plan):
    gcin = {u["variant"] for u in utts(plan, "train_gcin")}
    assert gcin == {"gcin_liu", "gcin_chulo"}
    others = {u["variant"] for s in ("train_kde", "val_real") for u in utts(plan, s)}
    asterisk = set(mv.REAL_SPLITS["train"]) | set(mv.REAL_SPLITS["test"])
    assert not gcin & (others | asterisk)
    files = {p["path"] for u in utts(plan, "train_gcin") for p in u["parts"]}
    assert not files & {p["path"] for s in ("train_kde", "val_real") for u in utts(plan, s) for p in u["parts"]}
    # every stand-in syllable of each speaker is used once (both are under MAX_TRAIN_SEC)
    firsts = [p["path"] for u in utts(plan, "train_gcin") if u["id"].endswith("_0") for p in u["parts"]]
    assert len(firsts) == len(set(firsts)) == 2 * len(GCIN_SYLLABLES) - len(GCIN_ONE_VOICE)


def test_gcin_speakers_give_at_most_max_train_sec(gcin_root, monkeypatch):
    monkeypatch.setattr(mr, "MAX_TRAIN_SEC", 2.0)
    for speaker, files in sources.gcin_speakers(gcin_root).items():
        us = [u for u in mr.speaker_split("train_gcin", speaker, files, 3, False) if u["id"].endswith("_0")]
        items = [len(mr.item_audio(p["path"])) / sources.SR for u in us for p in u["parts"]]
        # the item that reaches the limit is the last one taken
        assert sum(items[:-1]) < 2.0 <= sum(items) and len(items) < len(files)


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


def test_plan_is_deterministic_and_seed_dependent(plan, kde_roots, gcin_root, fillets_root, tuxpaint_root,
                                                  misc_roots):
    again = stand_in_plan(3, kde_roots, gcin_root, fillets_root, tuxpaint_root, misc_roots)
    assert json.dumps(again, sort_keys=True) == json.dumps(plan, sort_keys=True)
    other = stand_in_plan(4, kde_roots, gcin_root, fillets_root, tuxpaint_root, misc_roots)
    for split in ("train_kde", "train_gcin", "train_games", "train_misc"):
        assert [u["text"] for u in utts(other, split)] != [u["text"] for u in utts(plan, split)]
        assert [u["chain"] for u in utts(other, split)] != [u["chain"] for u in utts(plan, split)]


def planned_seconds(u):
    """Length of an utterance as joined: its trimmed items and the pauses between them."""
    items = sum(len(mr.reader(u["variant"])(p["path"])) for p in u["parts"]) / sources.SR
    return items + sum(p["pause"] for p in u["parts"][:-1])


def test_utterances_last_3_5_to_6_s_except_each_speakers_last(plan):
    for split in ("train_kde", "val_real", "train_gcin", "train_games", "test_games", "train_misc"):
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
                assert n == min(int(mr.UTT_SEC[1] * sources.SR), len(mv.real_audio(u, mr.reader(speaker))))
    # a speaker's items each appear once in its utterances
    for split in ("val_real", "test_games"):
        parts = [p["path"] for u in utts(plan, split) for p in u["parts"]]
        assert len(parts) == len(set(parts))


def test_training_utterances_come_in_three_versions_validation_in_one(plan):
    for split in ("train_kde", "train_gcin", "train_games", "train_misc"):
        by_base = {}
        for u in utts(plan, split):
            by_base.setdefault(u["id"].rsplit("_", 1)[0], []).append(u["chain"])
        assert by_base
        assert all(len(c) == mv.REAL_COPIES and c[0] is None and all(c[1:]) for c in by_base.values())
    assert all(u["chain"] is None for s in ("val_real", "test_games") for u in utts(plan, s))


def test_validation_and_test_mixtures_pair_two_speakers(plan):
    for split in ("val_real", "test_games"):
        by_id = {u["id"]: u for u in utts(plan, split)}
        ms = plan["splits"][split]["mixtures"]
        assert len(ms) == MIXES
        assert all(by_id[m["s1"]]["variant"] != by_id[m["s2"]]["variant"] for m in ms)
        assert {by_id[m[s]]["variant"] for m in ms for s in ("s1", "s2")} == {u["variant"] for u in by_id.values()}


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


def test_generator_writes_loadable_splits_and_skips_unchanged(kde_roots, gcin_root, fillets_root, tuxpaint_root,
                                                              misc_roots, tmp_path, monkeypatch, capsys):
    pytest.importorskip("pyroomacoustics")        # some augmentation chains simulate a room
    monkeypatch.setattr(sources, "MISC_ROOTS", misc_roots)
    monkeypatch.setattr(sources, "KDE_ROOTS", kde_roots)
    monkeypatch.setattr(sources, "GCIN_ROOT", gcin_root)
    monkeypatch.setattr(sources, "FILLETS_ROOT", fillets_root)
    monkeypatch.setattr(sources, "TUXPAINT_ROOT", tuxpaint_root)
    out = str(tmp_path / "corpus")
    scale = ["--scale", str(MIXES / mr.VAL_MIXES)]
    # first the corpus as it was before train_gcin: its plan file records only the KDE splits
    mr.main(["--out", out, "--procs", "1", "--split", "train_kde", "--split", "val_real"] + scale)
    printed = capsys.readouterr().out
    assert "val_real: 4 speakers" in printed and "%d mixtures" % MIXES in printed
    assert not os.path.exists(os.path.join(out, "train_gcin"))
    items = tdata.load_fixed_split(os.path.join(out, "val_real"))
    assert len(items) == MIXES
    for _, mix, src in items:
        assert np.allclose(mix, src.sum(0), atol=1e-6)
    mixer = tdata.TrainMixer(os.path.join(out, "train_kde"), 8000, augment=True)
    assert {u["voice"] for u in mixer.index} == {"real+" + u["variant"] for u in mr.make_plan(
        0, MIXES, kde_roots, gcin_root)["splits"]["train_kde"]["utterances"]}
    mix, src = mixer.batch(4, np.random.default_rng(0))
    assert mix.shape == (4, 1, 8000) and src.shape == (4, 2, 8000)
    plan_path = os.path.join(out, "plan_real.json")
    with open(plan_path) as f:
        before = json.load(f)
    assert sorted(before["splits"]) == ["train_kde", "val_real"]
    index_time = os.path.getmtime(os.path.join(out, "train_kde", "index.json"))
    # then every split: the KDE ones are skipped, the others are added to the plan file
    mr.main(["--out", out, "--procs", "1"] + scale)
    printed = capsys.readouterr().out
    assert "val_real: up to date" in printed and "train_kde: up to date" in printed
    assert "train_gcin: 2 speakers" in printed
    assert "train_games: 10 speakers" in printed and "test_games: 3 speakers" in printed
    assert "train_misc: 5 speakers" in printed and "train_misc without" not in printed
    assert os.path.getmtime(os.path.join(out, "train_kde", "index.json")) == index_time
    with open(plan_path) as f:
        after = json.load(f)
    assert {k: after["splits"][k] for k in before["splits"]} == before["splits"]
    assert after["splits"]["train_gcin"] == mr.make_plan(0, MIXES, kde_roots, gcin_root)["splits"]["train_gcin"]
    mixer = tdata.TrainMixer(os.path.join(out, "train_gcin"), 8000, augment=True)
    assert {u["voice"] for u in mixer.index} == {"real+gcin_liu", "real+gcin_chulo"}
    mix, src = mixer.batch(4, np.random.default_rng(0))
    assert mix.shape == (4, 1, 8000) and src.shape == (4, 2, 8000)
    mixer = tdata.TrainMixer(os.path.join(out, "train_games"), 8000, augment=True)
    assert {u["voice"] for u in mixer.index} == {"real+" + s for s in GAMES_TRAIN}
    mix, src = mixer.batch(4, np.random.default_rng(0))
    assert mix.shape == (4, 1, 8000) and src.shape == (4, 2, 8000)
    items = tdata.load_fixed_split(os.path.join(out, "test_games"))
    assert len(items) == MIXES
    for _, mix, src in items:
        assert np.allclose(mix, src.sum(0), atol=1e-6)
    mixer = tdata.TrainMixer(os.path.join(out, "train_misc"), 8000, augment=True)
    assert {u["voice"] for u in mixer.index} == {"real+" + s for s in MISC_TRAIN}
    mix, src = mixer.batch(4, np.random.default_rng(0))
    assert mix.shape == (4, 1, 8000) and src.shape == (4, 2, 8000)


def test_generator_says_which_package_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "KDE_ROOTS", {"klettres": str(tmp_path / "absent")})
    with pytest.raises(SystemExit) as e:
        mr.main(["--out", str(tmp_path / "corpus")])
    assert "apt-get install" in str(e.value) and "absent" in str(e.value)
    assert not os.path.exists(tmp_path / "corpus")


def test_generator_needs_gcin_voice_only_for_train_gcin(kde_roots, fillets_root, tuxpaint_root, misc_roots,
                                                        tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "MISC_ROOTS", misc_roots)
    monkeypatch.setattr(sources, "KDE_ROOTS", kde_roots)
    monkeypatch.setattr(sources, "FILLETS_ROOT", fillets_root)
    monkeypatch.setattr(sources, "TUXPAINT_ROOT", tuxpaint_root)
    monkeypatch.setattr(sources, "GCIN_ROOT", str(tmp_path / "no_gcin"))
    for splits in ([], ["--split", "train_gcin"]):
        with pytest.raises(SystemExit) as e:
            mr.main(["--out", str(tmp_path / "corpus")] + splits)
        assert str(e.value) == "missing %s: apt-get install -y gcin-voice (training/README.md)" % (
            tmp_path / "no_gcin")
    assert not os.path.exists(tmp_path / "corpus")
    assert mr.missing_packages(["train_kde", "val_real"]) == []


@pytest.mark.skipif(not all(os.path.isdir(r) for r in sources.KDE_ROOTS.values()),
                    reason="ktuberling-data / klettres-data not installed (apt-get install ...)")
def test_installed_packages_hold_the_validation_speakers():
    found = sources.kde_speakers()
    assert set(mr.VAL_SPEAKERS) <= set(found)
    assert len(found) - len(mr.VAL_SPEAKERS) >= 30
    assert not set(sources.KDE_EXCLUDED) & set(found)


@pytest.mark.skipif(not os.path.isdir(sources.GCIN_ROOT), reason="gcin-voice not installed (apt-get install ...)")
def test_installed_gcin_voice_holds_two_speakers():
    found = sources.gcin_speakers()
    assert set(found) == {"gcin_liu", "gcin_chulo"}
    assert all(len(files) > 1000 for files in found.values())
    assert all(f.endswith(os.sep + "3.ogg") for _, f in found["gcin_liu"])


def fish_lines(lang, fish):
    """The prompt ids of one fish's stand-in lines in ``lang``: ``<level>/<file name>``."""
    return sorted(level + "/" + n for level, names in FILLETS_LEVELS for n in names
                  if len(n.split("-")) <= 3 and n.split("-")[-2] == fish
                  and not (lang == "nl" and level + "/" + n in FILLETS_CS_ONLY))


def test_fillets_discovery_finds_the_two_fish_per_language(fillets_root):
    found = sources.fillets_speakers(fillets_root)
    assert set(found) == {"fillets_cs_v", "fillets_cs_m", "fillets_nl_v", "fillets_nl_m"}
    for lang in ("cs", "nl"):
        for fish in ("v", "m"):
            # a level tag or none, a level of two folders; other characters, sound effects
            # and English left out; the byte copy let-v-oko2 read once
            files = found["fillets_%s_%s" % (lang, fish)]
            assert [p for p, _ in files] == fish_lines(lang, fish)
            assert all(f == os.path.join(fillets_root, os.path.dirname(p), lang, os.path.basename(p) + ".ogg")
                       for p, f in files)
    assert "share/blackjokes/smrt-v-obe" in dict(found["fillets_nl_v"])
    assert "airplane/let-m-divna" in dict(found["fillets_cs_m"])
    assert sources.fillets_speakers(os.path.join(fillets_root, "absent")) == {}


def test_tuxpaint_discovery_finds_one_reader_per_kept_language(tuxpaint_root):
    found = sources.tuxpaint_speakers(tuxpaint_root)
    assert set(found) == {"tuxpaint_" + lang for lang in sources.TUXPAINT_LANGS}
    # the prompt id is the stamp's path; of two byte copies, the first in sorted order is
    # kept; only <stamp>_desc_<lang>.ogg
    want = sorted(set(TUXPAINT_STAMPS) - {max(pair) for pair in TUXPAINT_SAME.items()})
    assert "seasonal/christmas/star" in want and "symbols/shapes/star" not in want
    for lang in sources.TUXPAINT_LANGS:
        assert found["tuxpaint_" + lang] == [(p, os.path.join(tuxpaint_root, p + "_desc_%s.ogg" % lang))
                                             for p in want]
    assert sources.tuxpaint_speakers(os.path.join(tuxpaint_root, "absent")) == {}


def split_speakers(plan, split):
    return {u["variant"] for u in utts(plan, split)}


def split_files(plan, split):
    return {p["path"] for u in utts(plan, split) for p in u["parts"]}


def test_games_splits_are_disjoint_from_every_other_split(plan, tuxpaint_root):
    assert split_speakers(plan, "train_games") == set(GAMES_TRAIN)
    assert split_speakers(plan, "test_games") == set(mr.GAMES_TEST_SPEAKERS) == {
        "tuxpaint_el", "tuxpaint_da", "tuxpaint_fr"}
    asterisk = set(mv.REAL_SPLITS["train"]) | set(mv.REAL_SPLITS["test"])
    for split in ("train_games", "test_games"):
        for other in set(mr.SPLIT_NAMES) - {split}:
            assert split_speakers(plan, other), other
            assert not split_speakers(plan, split) & split_speakers(plan, other), (split, other)
            assert not split_files(plan, split) & split_files(plan, other), (split, other)
        assert not split_speakers(plan, split) & asterisk
    # the held-out readers' descriptions are in test_games, but for a last one that would
    # make an utterance shorter than LAST_UTT_SEC
    found = sources.tuxpaint_speakers(tuxpaint_root)
    held = {f for s in mr.GAMES_TEST_SPEAKERS for _, f in found[s]}
    assert split_files(plan, "test_games") <= held
    assert len(held - split_files(plan, "test_games")) <= len(mr.GAMES_TEST_SPEAKERS)


def first_versions_seconds(plan, split):
    """{speaker: trimmed seconds of each item of its first utterance versions, in order}."""
    out = {}
    for u in utts(plan, split):
        if u["id"].endswith("_0"):
            out.setdefault(u["variant"], []).extend(
                len(mr.reader(u["variant"])(p["path"])) / sources.SR for p in u["parts"])
    return out


def test_games_training_speakers_give_at_most_games_max_train_sec(kde_roots, gcin_root, fillets_root,
                                                                 tuxpaint_root, plan, monkeypatch):
    assert mr.GAMES_MAX_TRAIN_SEC == 600.0
    # the stand-in speakers are under the cap: all of their files are used
    found = dict(sources.fillets_speakers(fillets_root), **sources.tuxpaint_speakers(tuxpaint_root))
    assert {s: len(v) for s, v in first_versions_seconds(plan, "train_games").items()} == {
        s: len(found[s]) for s in GAMES_TRAIN}
    # train_games has its own cap, not MAX_TRAIN_SEC (which stays with the other splits)
    monkeypatch.setattr(mr, "GAMES_MAX_TRAIN_SEC", 4.0)
    monkeypatch.setattr(mr, "MAX_TRAIN_SEC", 1.0)
    capped = stand_in_plan(3, kde_roots, gcin_root, fillets_root, tuxpaint_root)
    for speaker, items in first_versions_seconds(capped, "train_games").items():
        # the item that reaches the limit is the last one taken (or, in an utterance under
        # LAST_UTT_SEC, left out with it)
        assert sum(items[:-1]) < 4.0 and len(items) < len(found[speaker]), speaker
        assert sum(items) > 2.0, speaker        # well over MAX_TRAIN_SEC
    assert utts(capped, "test_games") == utts(plan, "test_games")       # held out: no cap
    assert all(sum(v[:-1]) < 1.0 for v in first_versions_seconds(capped, "train_gcin").values())


def test_adding_the_games_leaves_the_older_splits_plans_as_they_were(plan, kde_roots, gcin_root, fillets_root,
                                                                    tuxpaint_root, tmp_path):
    absent = str(tmp_path / "no")
    before = stand_in_plan(3, kde_roots, gcin_root, absent, absent)
    assert utts(before, "train_games") == [] == utts(before, "test_games")
    assert "mixtures" not in before["splits"]["test_games"]
    for split in ("train_kde", "val_real", "train_gcin"):
        assert json.dumps(before["splits"][split]) == json.dumps(plan["splits"][split])
    # and without the other packages, the games splits are planned all the same
    alone = stand_in_plan(3, {"ktuberling": absent}, absent, fillets_root, tuxpaint_root)
    for split in ("train_games", "test_games"):
        assert json.dumps(alone["splits"][split]) == json.dumps(plan["splits"][split])
    # one package without the other: each speaker's utterances are a random stream of its own
    fish = stand_in_plan(3, {"ktuberling": absent}, absent, fillets_root, absent)
    assert utts(fish, "train_games") == [u for u in utts(plan, "train_games") if u["variant"].startswith("fillets_")]


def test_sentences_are_trimmed_at_their_ends_only():
    assert mr.reader("fillets_cs_v") is mr.sentence_audio is mr.reader("tuxpaint_el")
    assert mr.reader("klettres_cs") is mr.item_audio is mr.reader("gcin_liu")
    # a sentence with a 0.5 s pause inside keeps both of its halves
    rng = np.random.default_rng(4)
    x = rng.standard_normal(24000) * 1e-4
    x[4000:10000] += rng.standard_normal(6000) * 0.2
    x[14000:20000] += rng.standard_normal(6000) * 0.02        # 20 dB quieter
    start, end = kept_span(x, sources.trim(x))
    assert start < 4000 and end > 20000
    assert kept_span(x, sources.trim_above_noise(x))[1] < 14000


def test_generator_needs_the_games_packages_only_for_their_splits(kde_roots, gcin_root, tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "KDE_ROOTS", kde_roots)
    monkeypatch.setattr(sources, "GCIN_ROOT", gcin_root)
    fillets, tuxpaint = tmp_path / "fillets", tmp_path / "stamps"
    monkeypatch.setattr(sources, "FILLETS_ROOT", str(fillets))
    monkeypatch.setattr(sources, "TUXPAINT_ROOT", str(tuxpaint))
    assert mr.missing_packages(["val_real", "train_kde", "train_gcin"]) == []
    tux = (str(tuxpaint), "tuxpaint-stamps-default")
    assert mr.missing_packages(["test_games"]) == [tux]
    assert mr.missing_packages(["train_games"]) == [(str(fillets / "*" / "cs"), "fillets-ng-data-cs"),
                                                   (str(fillets / "*" / "nl"), "fillets-ng-data-nl"), tux]
    os.makedirs(fillets / "airplane" / "cs")         # fillets-ng-data-cs without -nl
    os.makedirs(tuxpaint)
    assert mr.missing_packages(["train_games", "test_games"]) == [
        (str(fillets / "*" / "nl"), "fillets-ng-data-nl")]
    with pytest.raises(SystemExit) as e:
        mr.main(["--out", str(tmp_path / "corpus"), "--split", "train_games"])
    assert str(e.value) == "missing %s: apt-get install -y fillets-ng-data-nl (training/README.md)" % (
        fillets / "*" / "nl")
    assert not os.path.exists(tmp_path / "corpus")


@pytest.mark.skipif(not os.path.isdir(sources.FILLETS_ROOT),
                    reason="fillets-ng-data-cs / -nl not installed (apt-get install ...)")
def test_installed_fillets_hold_the_two_fish_in_two_languages():
    found = sources.fillets_speakers()
    assert set(found) == {"fillets_cs_v", "fillets_cs_m", "fillets_nl_v", "fillets_nl_m"}
    assert all(len(files) > 600 for files in found.values())
    # the Dutch lines are translations: most prompt ids are in both languages
    assert len(set(dict(found["fillets_cs_v"])) & set(dict(found["fillets_nl_v"]))) > 600


@pytest.mark.skipif(not os.path.isdir(sources.TUXPAINT_ROOT),
                    reason="tuxpaint-stamps-default not installed (apt-get install ...)")
def test_installed_tuxpaint_holds_the_kept_languages():
    found = sources.tuxpaint_speakers()
    assert set(found) == {"tuxpaint_" + lang for lang in sources.TUXPAINT_LANGS}
    assert set(mr.GAMES_TEST_SPEAKERS) <= set(found)
    assert all(len(files) > 300 for files in found.values())


def misc_prompts(members, pattern):
    """The prompt ids of the stand-in members whose name matches ``pattern``: the name
    without ``.ogg``."""
    return sorted(name[:-len(".ogg")] for name, _ in members if pattern in name)


def test_misc_discovery_per_package(misc_roots, tmp_path):
    def alone(package):
        return sources.misc_speakers({package: misc_roots[package]})
    zeroad = alone("0ad")
    # one speaker per civilisation and sex; other folders and civilisations, text and
    # the byte copy left out; the Greek man has under MIN_SPEAKER_SEC
    assert set(zeroad) == {"0ad_greek_female", "0ad_napatan_male"}
    assert [p for p, _ in zeroad["0ad_greek_female"]] == misc_prompts(ZEROAD_MEMBERS, "greek/civ/civ_female")
    assert [p for p, _ in zeroad["0ad_napatan_male"]] == misc_prompts(ZEROAD_MEMBERS, "napatan/civ/civ_male")
    assert all(f == sources.member_path(misc_roots["0ad"], p + ".ogg") for fs in zeroad.values() for p, f in fs)
    # the announcer's folders only
    warzone = alone("warzone")
    assert [p for p, _ in warzone["warzone_announcer"]] == sorted(
        misc_prompts(WARZONE_MEMBERS, "tutorial/") + misc_prompts(WARZONE_MEMBERS, "memressp/")
        + misc_prompts(WARZONE_MEMBERS, "countdown/") + misc_prompts(WARZONE_MEMBERS, "extra/"))
    assert set(warzone) == {"warzone_announcer"}
    # the narrator's tutorial lines, not the door; 13 s in 3 pieces
    assert {s: [p for p, _ in v] for s, v in alone("nexuiz").items()} == {"nexuiz_tutorial": [
        "sound/tutorial/1-welcome@0", "sound/tutorial/1-welcome@1", "sound/tutorial/1-welcome@2",
        "sound/tutorial/2-jumppad"]}
    assert [p for p, _ in alone("codec2")["codec2_ve9qrp"]] == ["ve9qrp@0", "ve9qrp@1", "ve9qrp@2"]
    # a missing package gives nothing; every package together gives each one's speakers
    assert sources.misc_speakers({"0ad": str(tmp_path / "no.zip"), "codec2": str(tmp_path / "no.wav")}) == {}
    assert sources.misc_speakers(misc_roots) == dict(zeroad, **warzone, **alone("nexuiz"), **alone("codec2"))
    assert sorted(sources.misc_speakers(misc_roots)) == MISC_TRAIN


def test_archive_members_are_read_like_files(misc_roots, tmp_path):
    member = "sound/tutorial/2-jumppad.ogg"
    with zipfile.ZipFile(misc_roots["nexuiz"]) as z:
        (tmp_path / "jumppad.ogg").write_bytes(z.read(member))
    path = sources.member_path(misc_roots["nexuiz"], member)
    assert path == misc_roots["nexuiz"] + "::" + member
    assert sources.file_bytes(path) == (tmp_path / "jumppad.ogg").read_bytes()
    x = sources.recording(path)
    assert np.array_equal(x, sources.recording(str(tmp_path / "jumppad.ogg")))
    assert abs(len(x) - 4.0 * sources.SR) <= 1       # stereo 44.1 kHz to mono 8 kHz
    # a slice of a member is its samples at 8 kHz
    assert np.array_equal(sources.recording(sources.slice_path(path, 800, 2000)), x[800:2000])


def test_long_recordings_are_read_in_pieces_cut_at_pauses(misc_roots):
    path = misc_roots["codec2"]
    x = sources.recording(path)
    pieces = sources.in_pieces("ve9qrp", path)
    parts = [sources.recording(f) for _, f in pieces]
    assert np.array_equal(np.concatenate(parts), x)
    assert all(len(p) <= (sources.PIECE_SEC + 1) * sources.SR for p in parts)
    cuts = np.cumsum([len(p) for p in parts])[:-1] / sources.SR
    for cut, (a, b) in zip(cuts, CODEC2_PAUSES):
        assert a <= cut <= b
    # a recording up to PIECE_SEC is read whole
    short = sources.member_path(misc_roots["nexuiz"], "sound/tutorial/2-jumppad.ogg")
    assert sources.in_pieces("jumppad", short) == [("jumppad", short)]


def test_misc_speakers_under_min_speaker_sec_are_left_out(misc_roots, monkeypatch):
    assert sources.MIN_SPEAKER_SEC == 10.0
    assert "0ad_greek_male" not in sources.misc_speakers(misc_roots)
    monkeypatch.setattr(sources, "MIN_SPEAKER_SEC", 3.0)
    assert len(sources.misc_speakers(misc_roots)["0ad_greek_male"]) == 4
    monkeypatch.setattr(sources, "MIN_SPEAKER_SEC", 13.0)       # the 12 s speakers go
    assert sorted(sources.misc_speakers(misc_roots)) == ["nexuiz_tutorial", "warzone_announcer"]


def test_misc_split_is_disjoint_from_every_other_split(plan, misc_roots):
    assert split_speakers(plan, "train_misc") == set(MISC_TRAIN)
    asterisk = set(mv.REAL_SPLITS["train"]) | set(mv.REAL_SPLITS["test"])
    for other in set(mr.SPLIT_NAMES) - {"train_misc"}:
        assert split_speakers(plan, other), other
        assert not split_speakers(plan, "train_misc") & split_speakers(plan, other), other
        assert not split_files(plan, "train_misc") & split_files(plan, other), other
    assert not split_speakers(plan, "train_misc") & asterisk
    # every recording or piece is used (each speaker is under GAMES_MAX_TRAIN_SEC), read
    # as a sentence
    found = sources.misc_speakers(misc_roots)
    assert {s: len(v) for s, v in first_versions_seconds(plan, "train_misc").items()} == {
        s: len(v) for s, v in found.items()}
    assert all(mr.reader(s) is mr.sentence_audio for s in MISC_TRAIN)


def test_adding_train_misc_leaves_the_older_splits_plans_as_they_were(plan, kde_roots, gcin_root, fillets_root,
                                                                      tuxpaint_root, misc_roots, tmp_path):
    before = stand_in_plan(3, kde_roots, gcin_root, fillets_root, tuxpaint_root)
    assert utts(before, "train_misc") == []
    for split in set(mr.SPLIT_NAMES) - {"train_misc"}:
        assert json.dumps(before["splits"][split]) == json.dumps(plan["splits"][split]), split
    assert mr.SPLIT_NAMES[:-1] == ["val_real", "train_kde", "train_gcin", "train_games", "test_games"]
    # without the other packages, train_misc is planned all the same, and with one of
    # its packages it holds that package's speakers' utterances as they were
    absent = str(tmp_path / "no")
    alone = stand_in_plan(3, {"ktuberling": absent}, absent, absent, absent, misc_roots)
    assert json.dumps(alone["splits"]["train_misc"]) == json.dumps(plan["splits"]["train_misc"])
    warzone = stand_in_plan(3, {"ktuberling": absent}, absent, absent, absent, {"warzone": misc_roots["warzone"]})
    assert utts(warzone, "train_misc") == [u for u in utts(plan, "train_misc")
                                           if u["variant"] == "warzone_announcer"]


def test_generator_needs_one_misc_package_for_train_misc(misc_roots, tmp_path, monkeypatch, capsys):
    absent = {package: str(tmp_path / package) for package in sources.MISC_ROOTS}
    monkeypatch.setattr(sources, "MISC_ROOTS", absent)
    want = sorted((absent[k], sources.MISC_PACKAGES[k]) for k in absent)
    assert mr.missing_packages(["train_misc"]) == want == mr.missing_misc_packages()
    assert [p for _, p in want] == ["0ad-data", "codec2-examples", "nexuiz-data", "warzone2100-data"]
    with pytest.raises(SystemExit) as e:
        mr.main(["--out", str(tmp_path / "corpus"), "--split", "train_misc"])
    assert "apt-get install -y 0ad-data codec2-examples nexuiz-data warzone2100-data" in str(e.value)
    assert not os.path.exists(tmp_path / "corpus")
    # one is enough: the others are named, not required
    monkeypatch.setattr(sources, "MISC_ROOTS", dict(absent, codec2=misc_roots["codec2"]))
    assert mr.missing_packages(["train_misc"]) == []
    assert len(mr.missing_misc_packages()) == 3
    pytest.importorskip("pyroomacoustics")        # some augmentation chains simulate a room
    monkeypatch.setattr(sources, "KDE_ROOTS", {})
    for name in ("GCIN_ROOT", "FILLETS_ROOT", "TUXPAINT_ROOT"):
        monkeypatch.setattr(sources, name, str(tmp_path / "absent"))
    mr.main(["--out", str(tmp_path / "corpus"), "--procs", "1", "--split", "train_misc"])
    printed = capsys.readouterr().out
    assert "train_misc without %s, %s, %s: apt-get install -y 0ad-data nexuiz-data warzone2100-data" % (
        absent["0ad"], absent["nexuiz"], absent["warzone"]) in printed
    assert "train_misc: 1 speakers" in printed


@pytest.mark.skipif(not all(os.path.isfile(f) for f in sources.MISC_ROOTS.values()),
                    reason="0ad-data / warzone2100-data / nexuiz-data / codec2-examples not installed")
def test_installed_misc_packages_hold_their_speakers():
    found = sources.misc_speakers()
    assert set(found) == {"0ad_%s_%s" % (civ, sex) for civ in ("greek", "latin", "napatan", "persian")
                          for sex in ("female", "male")} - {"0ad_greek_male"} | {
        "warzone_announcer", "nexuiz_tutorial", "codec2_ve9qrp"}
    assert len(found["warzone_announcer"]) > 300 and len(found["codec2_ve9qrp"]) > 20
