#!/usr/bin/env python3
"""Generate npsep's two-speaker training corpus with espeak-ng (8 kHz).

Everything is derived deterministically from ``--seed``:

* a *plan*: for every split, the list of utterances (text, espeak voice,
  variant, pitch, speed).  Sentences are assigned to splits by a hash of their
  text, so no sentence occurs in two splits; voice variants are partitioned
  into disjoint sets per split, so no voice setting occurs in two splits.
  The "unseen languages" sets (German, Spanish) use the *test* variants and
  text in languages never used in training (training is English only).
* train: single-speaker utterances stored as float32 shards
  (``train/shard_NNN.npy`` + ``train/index.json``); the training loader mixes
  them on the fly.
* val / test / test_de / test_es: fixed mixtures, one directory per example
  holding ``mix.wav``, ``s1.wav``, ``s2.wav`` (16-bit PCM, 8 kHz, with
  ``mix == s1 + s2`` exactly in integer samples) and a ``manifest.json``.

Output goes to ``$NPSEP_DATA_DIR`` (default ``~/.cache/npsep/corpus``).
"""

import argparse
import hashlib
import json
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from scipy.io import wavfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sentences  # noqa: E402
import sources  # noqa: E402

SR = 8000
ESPEAK_SR = 22050
CORPUS_VERSION = 1

# espeak-ng voice variants, partitioned per split (disjoint).  Whisper
# variants are left out everywhere (no pitch, unlike any real talker pair).
TEST_VARIANTS = ["m3", "m6", "f2", "f5", "Andy", "linda", "max", "steph2",
                 "john", "Alicia", "edward", "edward2", "aunty", "steph", "steph3"]
VAL_VARIANTS = ["m5", "f4", "adam", "anika", "david", "belinda", "Mike", "shelby"]
TRAIN_VARIANTS = [
    "m1", "m2", "m4", "m7", "m8", "f1", "f3", "Alex", "Andrea", "AnxiousAndy",
    "Denis", "Diogo", "Gene", "Gene2", "Henrique", "Hugo", "Jacky", "Lee",
    "Marco", "Mario", "Michael", "Nguyen", "RicishayMax", "RicishayMax2",
    "RicishayMax3", "Storm", "Tweaky", "anikaRobot", "announcer", "antonio",
    "benjamin", "boris", "caleb", "croak", "ed", "fast", "grandma",
    "grandpa", "gustave", "iven", "iven2", "iven3", "iven4", "kaukovalta",
    "klatt", "klatt2", "klatt3", "klatt4", "klatt5", "klatt6", "marcelo",
    "michel", "miguel", "norbert", "pablo", "paul", "pedro", "quincy", "rob",
    "robert", "robosoft", "robosoft2", "robosoft3", "robosoft4", "robosoft5",
    "robosoft6", "robosoft7", "robosoft8", "sandro", "travis", "victor", "Annie", "Demonic", "UniRobot",
]
VARIANTS = {"train": TRAIN_VARIANTS, "val": VAL_VARIANTS, "test": TEST_VARIANTS,
            "test_de": TEST_VARIANTS, "test_es": TEST_VARIANTS}

EN_VOICES = ["en-us", "en-gb", "en-gb-scotland", "en-029", "en-gb-x-rp",
             "en-us-nyc", "en-gb-x-gbclan", "en-gb-x-gbcwmd"]
LANG_VOICES = {"en": EN_VOICES, "de": ["de"], "es": ["es", "es-419"]}
SPLIT_LANG = {"train": "en", "val": "en", "test": "en", "test_de": "de", "test_es": "es"}

# Sentences are routed to a split by hash(text) % 20 (English only).
EN_BUCKETS = {"test": {0, 1}, "val": {2}, "train": set(range(3, 20))}

# default sizes: utterances per split, mixtures per fixed split
DEFAULT_UTTS = {"train": 12000, "val": 600, "test": 1200, "test_de": 300, "test_es": 300}
DEFAULT_MIXES = {"val": 200, "test": 500, "test_de": 100, "test_es": 100}
FIXED_SPLITS = ["val", "test", "test_de", "test_es"]

MAX_UTT_SEC = 5.0       # utterances are cut to at most this length
LEVEL_DB = 5.0          # relative level of the two talkers: uniform in +-LEVEL_DB


def default_data_dir():
    return os.environ.get("NPSEP_DATA_DIR",
                          os.path.join(os.path.expanduser("~"), ".cache", "npsep", "corpus"))


def _bucket(text):
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16) % 20


# --------------------------------------------------------------------------
# plan
# --------------------------------------------------------------------------

def voice_key(u):
    """The voice setting of an utterance (what must not be shared across splits)."""
    return (u["voice"], u["variant"], u["pitch"], u["speed"])


def make_plan(seed=0, utts=None, mixes=None):
    """Deterministic plan of every utterance and every fixed mixture."""
    utts = dict(DEFAULT_UTTS if utts is None else utts)
    mixes = dict(DEFAULT_MIXES if mixes is None else mixes)
    plan = {"version": CORPUS_VERSION, "seed": seed, "sr": SR, "splits": {}}

    # sentences: one stream per language, deduplicated, English routed by hash
    want = {s: n for s, n in utts.items()}
    texts = {s: [] for s in want}
    seen = set()
    for lang in ("en", "de", "es"):
        splits = [s for s in want if SPLIT_LANG[s] == lang]
        if not splits:
            continue
        stream = sentences.sentence_stream(lang, seed)
        tries = 0
        while any(len(texts[s]) < want[s] for s in splits):
            t = next(stream)
            tries += 1
            if tries > 200 * sum(want[s] for s in splits) + 10000:
                raise RuntimeError("sentence generator exhausted for %s" % lang)
            if t in seen:
                continue
            if lang == "en":
                b = _bucket(t)
                s = next((s for s in splits if b in EN_BUCKETS[s]), None)
                if s is None:       # belongs to a split not requested here
                    continue
            else:
                # German / Spanish: one test split per language
                s = splits[0]
            if len(texts[s]) < want[s]:
                seen.add(t)
                texts[s].append(t)

    for split, n in want.items():
        r = random.Random("voices:%d:%s" % (seed, split))
        variants = VARIANTS[split]
        voices = LANG_VOICES[SPLIT_LANG[split]]
        us = []
        for i, text in enumerate(texts[split]):
            us.append({
                "id": "%s_%05d" % (split, i),
                "text": text,
                "voice": r.choice(voices),
                "variant": r.choice(variants),
                "pitch": r.randint(10, 90),
                "speed": r.randint(130, 195),
            })
        entry = {"utterances": us}
        if split in mixes:
            entry["mixtures"] = plan_mixtures(us, mixes[split], seed, split)
        plan["splits"][split] = entry
    return plan


def plan_mixtures(us, n, seed, split):
    """Pairs of utterances with different variants, each used at most once
    as long as possible, plus a relative level and a start offset."""
    r = random.Random("mix:%d:%s" % (seed, split))
    order = list(range(len(us)))
    r.shuffle(order)
    out = []
    pos = 0
    while len(out) < n:
        if pos + 1 >= len(order):
            r.shuffle(order)
            pos = 0
        a = order[pos]
        # next utterance with a different variant
        j = pos + 1
        while j < len(order) and us[order[j]]["variant"] == us[a]["variant"]:
            j += 1
        if j >= len(order):
            pos = len(order)
            continue
        b = order[j]
        order[pos + 1], order[j] = order[j], order[pos + 1]
        pos += 2
        out.append({"id": "%s_mix%04d" % (split, len(out)),
                    "s1": us[a]["id"], "s2": us[b]["id"],
                    "level_db": r.uniform(-LEVEL_DB, LEVEL_DB),
                    "offset_frac": r.random()})
    return out


# --------------------------------------------------------------------------
# synthesis
# --------------------------------------------------------------------------

def synthesize(u, tmpdir=None):
    """Render one planned utterance to float32 mono at 8 kHz (silence trimmed)."""
    fd, path = tempfile.mkstemp(suffix=".wav", dir=tmpdir)
    os.close(fd)
    try:
        subprocess.run(["espeak-ng", "-v", "%s+%s" % (u["voice"], u["variant"]),
                        "-p", str(u["pitch"]), "-s", str(u["speed"]), "-w", path, u["text"]],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rate, x = wavfile.read(path)
    finally:
        os.unlink(path)
    x = sources.trim(sources.to_8k(x, rate))
    x = x[: int(MAX_UTT_SEC * SR)]
    p = np.sqrt(np.mean(x ** 2)) + 1e-12
    return (0.1 * x / p).astype(np.float32)


def mix_pair(x1, x2, level_db, offset_frac):
    """Place two utterances in one mixture.  The mixture is as long as the
    longer one; the shorter one starts at ``offset_frac`` of the slack.
    s1/s2 power ratio is ``level_db``; the result is quantised to int16 with
    mix = s1 + s2 exactly.  Returns int16 arrays (mix, s1, s2)."""
    n = max(len(x1), len(x2))
    s1 = np.zeros(n)
    s2 = np.zeros(n)
    o1 = int(round(offset_frac * (n - len(x1))))
    o2 = int(round(offset_frac * (n - len(x2))))
    s1[o1:o1 + len(x1)] = x1
    s2[o2:o2 + len(x2)] = x2
    p1 = np.mean(s1 ** 2)
    p2 = np.mean(s2 ** 2)
    s1 *= 10 ** (level_db / 20) * np.sqrt(p2 / p1)
    peak = max(np.abs(s1 + s2).max(), np.abs(s1).max(), np.abs(s2).max())
    scale = 0.8 * 32767 / peak
    q1 = np.round(s1 * scale).astype(np.int32)
    q2 = np.round(s2 * scale).astype(np.int32)
    qm = q1 + q2
    assert np.abs(qm).max() <= 32767
    return qm.astype(np.int16), q1.astype(np.int16), q2.astype(np.int16)


def _synth_job(args):
    us, tmpdir = args
    return [synthesize(u, tmpdir) for u in us]


def _chunks(seq, n):
    return [seq[i:i + n] for i in range(0, len(seq), n)]


def render_split(split, entry, out_dir, procs):
    us = entry["utterances"]
    tmpdir = tempfile.mkdtemp(prefix="npsep_espeak_")
    try:
        jobs = [(c, tmpdir) for c in _chunks(us, 500)]
        audio = []
        if procs > 1:
            with multiprocessing.Pool(procs) as pool:
                for i, res in enumerate(pool.imap(_synth_job, jobs)):
                    audio.extend(res)
                    print("  %s: %d/%d utterances" % (split, len(audio), len(us)), flush=True)
        else:
            for c in jobs:
                audio.extend(_synth_job(c))
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)

    return write_split(split, entry, audio, out_dir, espeak_fields)


def espeak_fields(u):
    """What the index / manifest records about an espeak utterance's voice."""
    return {"voice": "%s+%s" % (u["voice"], u["variant"]), "pitch": u["pitch"], "speed": u["speed"]}


def write_split(split, entry, audio, out_dir, describe):
    """Write one split atomically: float32 shards + ``index.json`` for a training
    split (no "mixtures" in ``entry``), else one folder of int16 WAVs per planned
    mixture + ``manifest.json``.  ``describe(u)`` gives the voice fields recorded
    for an utterance.  Returns the seconds of speech written."""
    us = entry["utterances"]
    sdir = os.path.join(out_dir, split)
    tmp_sdir = sdir + ".tmp"
    shutil.rmtree(tmp_sdir, ignore_errors=True)
    os.makedirs(tmp_sdir)
    if "mixtures" not in entry:
        # training split: float32 shards + index
        index = []
        for si, c in enumerate(_chunks(list(range(len(us))), 2000)):
            buf = np.concatenate([audio[i] for i in c]).astype(np.float32)
            np.save(os.path.join(tmp_sdir, "shard_%03d.npy" % si), buf)
            off = 0
            for i in c:
                u = us[i]
                index.append(dict(describe(u), id=u["id"], shard=si, offset=off,
                                  length=int(len(audio[i]))))
                off += len(audio[i])
        with open(os.path.join(tmp_sdir, "index.json"), "w") as f:
            json.dump({"sr": SR, "utterances": index}, f)
    else:
        by_id = {u["id"]: a for u, a in zip(us, audio)}
        meta = {u["id"]: u for u in us}
        manifest = []
        for m in entry["mixtures"]:
            mix, s1, s2 = mix_pair(by_id[m["s1"]], by_id[m["s2"]], m["level_db"], m["offset_frac"])
            d = os.path.join(tmp_sdir, m["id"])
            os.makedirs(d)
            wavfile.write(os.path.join(d, "mix.wav"), SR, mix)
            wavfile.write(os.path.join(d, "s1.wav"), SR, s1)
            wavfile.write(os.path.join(d, "s2.wav"), SR, s2)
            manifest.append(dict(m, samples=int(len(mix)),
                                 s1_voice=describe(meta[m["s1"]]), s2_voice=describe(meta[m["s2"]]),
                                 s1_text=meta[m["s1"]]["text"], s2_text=meta[m["s2"]]["text"]))
        with open(os.path.join(tmp_sdir, "manifest.json"), "w") as f:
            json.dump({"sr": SR, "mixtures": manifest}, f, indent=1, ensure_ascii=False)
    shutil.rmtree(sdir, ignore_errors=True)
    os.rename(tmp_sdir, sdir)
    return sum(len(a) for a in audio) / SR


def corpus_arguments(description, split_names=None):
    """The options every corpus generator takes: --out, --seed, --procs, --scale, --force;
    with ``split_names``, also ``--split NAME`` (repeatable, one of them) into ``splits``."""
    ap = argparse.ArgumentParser(description=description,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=default_data_dir(), help="output directory (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--procs", type=int, default=2, help="worker processes (at most 2)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply every split's size (e.g. 0.01 for a smoke test)")
    ap.add_argument("--force", action="store_true", help="regenerate splits that already exist")
    if split_names:
        ap.add_argument("--split", action="append", choices=split_names, dest="splits",
                        help="write only this split (repeatable; default: every split)")
    return ap


def main(argv=None):
    ap = corpus_arguments(__doc__)
    ap.add_argument("--train-utts", type=int, default=DEFAULT_UTTS["train"])
    a = ap.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng not found: apt-get install -y espeak-ng")
    procs = max(1, min(2, a.procs))
    utts = dict(DEFAULT_UTTS, train=a.train_utts)
    utts = {k: max(4, int(round(v * a.scale))) for k, v in utts.items()}
    mixes = {k: max(2, int(round(v * a.scale))) for k, v in DEFAULT_MIXES.items()}
    plan = make_plan(a.seed, utts, mixes)
    os.makedirs(a.out, exist_ok=True)
    plan_path = os.path.join(a.out, "plan.json")
    old = None
    if os.path.exists(plan_path):
        with open(plan_path) as f:
            old = json.load(f)
    with open(plan_path + ".tmp", "w") as f:
        json.dump(plan, f, ensure_ascii=False)
    os.replace(plan_path + ".tmp", plan_path)
    for split, entry in plan["splits"].items():
        done = os.path.isdir(os.path.join(a.out, split))
        same = old is not None and old["splits"].get(split) == entry
        if done and same and not a.force:
            print("%s: up to date" % split)
            continue
        sec = render_split(split, entry, a.out, procs)
        print("%s: %d utterances, %.1f h of speech%s" % (
            split, len(entry["utterances"]), sec / 3600,
            ", %d mixtures" % len(entry["mixtures"]) if "mixtures" in entry else ""), flush=True)
    print("corpus in", a.out)


if __name__ == "__main__":
    main()
