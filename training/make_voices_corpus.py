#!/usr/bin/env python3
"""Generate the many-voices corpus: other synthesisers and real recordings (8 kHz).

It complements the espeak-ng corpus of ``make_corpus.py`` (same output folder,
other split names) and is derived deterministically from ``--seed``:

* voices are split by *speaker* (``SYNTH_SPLITS``, ``REAL_SPLITS``): a person
  whose voice is in one split is in no other.  Two real speakers are held out
  from training and validation entirely, for ``test_real``; the flite / festival
  voices built from CMU ARCTIC talkers are held out for ``test_synth``;
* sentences: synthesised text comes from the English phrase grammar routed to a
  split by ``make_corpus``'s sentence hash, real recordings by a hash of their
  prompt id (the file name, shared by a prompt's translations), so no sentence
  or prompt is in two splits;
* a real-speaker utterance is a few prompts of one speaker joined by short pauses
  (3.5-6 s); every training utterance of a real speaker is written ``REAL_COPIES``
  times, once as recorded and then with a random chain of the expensive
  augmentations of ``augment.py`` (formant warp, pitch shift, codec round trip,
  simulated room); a training synthesiser utterance gets one such chain;
* ``test_tel`` is the espeak ``test`` split's first mixtures with both sources
  band-passed to the telephone band (300-3400 Hz);
* the SVOX Pico voices (one speaker per language) have splits of their own
  (``PICO_SPLITS``), their sentences drawn from a stream of their own, so that
  adding them left every other split's plan as it was.

Splits written (beside ``train``, ``val``, ``test`` ... of ``make_corpus.py``):

    train_synth, train_real   single-speaker shards, mixed on the fly
    val_voices                fixed mixtures of the validation synthesiser voices
    test_synth                fixed mixtures of the held-out synthesiser voices
    test_real                 fixed mixtures of the two held-out real speakers
    test_tel                  telephone-band copy of espeak test mixtures
    train_pico                single-speaker shards of four Pico voices
    test_pico                 fixed mixtures of the two held-out Pico voices

    python training/make_voices_corpus.py            # ~10 min of CPU
    python training/make_voices_corpus.py --split train_pico --split test_pico
"""

import hashlib
import json
import multiprocessing
import os
import random
import shutil
import sys

import numpy as np
import soundfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import augment  # noqa: E402
import make_corpus  # noqa: E402
import sentences  # noqa: E402
import sources  # noqa: E402

SR = 8000
CORPUS_VERSION = 1

SYNTH_SPLITS = {
    "train": ["flite_kal", "flite_kal16", "kal_diphone", "pc_diphone", "lp_diphone",
              "upc_ca_ona_hts", "czech_dita", "czech_krb", "czech_machac",
              "suo_fi_lj_diphone", "msu_ru_nsh_clunits"],
    "val": ["ked_diphone", "hy_fi_mv_diphone", "czech_ph"],
    "test": ["flite_awb", "flite_rms", "flite_slt", "cmu_us_slt_arctic_hts"],
}
REAL_SPLITS = {"train": ["allison", "ivrvoice_ru"], "test": ["menardi", "es_co"]}
PICO_SPLITS = {"train": ["pico_en-US", "pico_de-DE", "pico_es-ES", "pico_it-IT"],
               "test": ["pico_en-GB", "pico_fr-FR"]}
REAL_TEST_BUCKETS = {0, 1, 2}      # sha1(prompt id) % 10: prompts only the test split may use

DEFAULT_SENTENCES = {"train": 100, "val": 40, "test": 40}     # per synthesiser voice
DEFAULT_PICO_SENTENCES = {"train": 300, "test": 100}                # per Pico voice
DEFAULT_MIXES = {"val_voices": 150, "test_synth": 100, "test_real": 100, "test_tel": 200,
                 "test_pico": 100}
REAL_COPIES = 3
REAL_UTT_SEC = (3.5, 6.0)          # a real-speaker utterance: prompts joined up to this long
PAUSE_SEC = (0.1, 0.4)

VOICES = {v.name: v for v in sources.FLITE_VOICES + sources.FESTIVAL_VOICES + sources.PICO_VOICES}
SPLIT_NAMES = ["train_synth", "val_voices", "test_synth", "train_real", "test_real",
               "test_tel", "train_pico", "test_pico"]


# --------------------------------------------------------------------------
# plan
# --------------------------------------------------------------------------

def draw_chain(r):
    """A random chain of the generation-time augmentations (identity parts are None)."""
    codecs = augment.available_codecs()
    return {"formant": r.uniform(*augment.FORMANT_RANGE) if r.random() < 0.6 else None,
            "pitch_st": r.uniform(*augment.PITCH_RANGE) if r.random() < 0.6 else None,
            "codec": list(r.choice(codecs)) if codecs and r.random() < 0.3 else None,
            "rt60": r.uniform(*augment.RT60_RANGE) if r.random() < 0.3 else None,
            "seed": r.randrange(2 ** 31)}


def routed_texts(stream_seed, voice_splits, per_voice):
    """``per_voice[s]`` English sentences for each voice of ``voice_splits[s]``, by split
    ``s`` ("train", "val", "test"), hash-routed like ``make_corpus``, from the sentence
    stream ``stream_seed`` (streams apart from the espeak corpus's say other sentences)."""
    want = {s: n * len(voice_splits[s]) for s, n in per_voice.items()}
    texts = {s: [] for s in want}
    for t in sentences.sentence_stream("en", stream_seed):
        if all(len(texts[s]) >= want[s] for s in want):
            return texts
        b = make_corpus._bucket(t)
        s = next((s for s in want if b in make_corpus.EN_BUCKETS[s]), None)
        if s is not None and len(texts[s]) < want[s] and t not in texts[s]:
            texts[s].append(t)


def real_bucket(prompt_id):
    return int(hashlib.sha1(prompt_id.encode("utf-8")).hexdigest(), 16) % 10


def real_utterances(speaker, split, seed, root):
    """A real speaker's prompts of this split, shuffled, joined into 3.5-6 s utterances."""
    files = [(p, f) for p, f in sources.real_files(speaker, root)
             if (real_bucket(p) in REAL_TEST_BUCKETS) == (split == "test")]
    r = random.Random("real:%d:%s" % (seed, speaker))
    r.shuffle(files)
    out, cur, dur = [], [], 0.0
    for p, f in files:
        cur.append({"prompt": p, "path": f, "pause": round(r.uniform(*PAUSE_SEC), 3)})
        dur += soundfile.info(f).duration if f.endswith(".wav") else os.path.getsize(f) / 1650.0
        if dur >= REAL_UTT_SEC[0]:
            out.append(cur)
            cur, dur = [], 0.0
    return out


def synth_splits(seed, stream_seed, voice_splits, per_voice, split_names):
    """``{split name: {"utterances": [...]}}`` of synthesiser voices: ``voice_splits``
    and ``per_voice`` by split ("train", "val", "test"), ``split_names`` the split
    written for each; every training utterance gets an augmentation chain."""
    texts = routed_texts(stream_seed, voice_splits, per_voice)
    splits = {}
    for split, names in voice_splits.items():
        us = []
        for vi, name in enumerate(names):
            v = VOICES[name]
            for k in range(per_voice[split]):
                uid = "%s_%s_%04d" % (split_names[split], name, k)
                r = random.Random("chain:%d:%s" % (seed, uid))
                us.append({"id": uid, "kind": "synth", "voice": name, "engine": v.engine,
                           "variant": v.speaker, "text": texts[split][vi * per_voice[split] + k],
                           "chain": draw_chain(r) if split == "train" else None})
        splits[split_names[split]] = {"utterances": us}
    return splits


def make_plan(seed=0, per_voice=None, mixes=None, root=sources.ASTERISK, real=True, pico_per_voice=None):
    """Deterministic plan of every utterance (with its augmentation chain) and mixture."""
    per_voice = dict(DEFAULT_SENTENCES if per_voice is None else per_voice)
    pico_per_voice = dict(DEFAULT_PICO_SENTENCES if pico_per_voice is None else pico_per_voice)
    mixes = dict(DEFAULT_MIXES if mixes is None else mixes)
    splits = synth_splits(seed, seed + 1000, SYNTH_SPLITS, per_voice,
                          {"train": "train_synth", "val": "val_voices", "test": "test_synth"})
    if real:
        for split, name in (("train", "train_real"), ("test", "test_real")):
            us = []
            for speaker in REAL_SPLITS[split]:
                for k, parts in enumerate(real_utterances(speaker, split, seed, root)):
                    for c in range(REAL_COPIES if split == "train" else 1):
                        uid = "%s_%s_%04d_%d" % (name, speaker, k, c)
                        r = random.Random("chain:%d:%s" % (seed, uid))
                        us.append({"id": uid, "kind": "real", "voice": speaker, "variant": speaker,
                                   "text": " + ".join(p["prompt"] for p in parts),
                                   "parts": parts, "chain": draw_chain(r) if c else None})
            if us:      # the recordings are installed
                splits[name] = {"utterances": us}
    splits.update(synth_splits(seed, seed + 2000, PICO_SPLITS, pico_per_voice,
                               {"train": "train_pico", "test": "test_pico"}))
    for name in ("val_voices", "test_synth", "test_real", "test_pico"):
        if name in splits and name in mixes:
            splits[name]["mixtures"] = make_corpus.plan_mixtures(
                splits[name]["utterances"], mixes[name], seed, name)
    return {"version": CORPUS_VERSION, "seed": seed, "sr": SR, "splits": splits,
            "test_tel": mixes.get("test_tel", 0)}


# --------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------

def apply_chain(x, chain):
    """Apply a planned augmentation chain: formant warp, pitch shift, codec, room."""
    if chain is None:
        return x
    rng = np.random.default_rng(chain["seed"])
    if chain["formant"] is not None:
        x = augment.formant_warp(x, chain["formant"])
    if chain["pitch_st"] is not None:
        x = augment.pitch_shift(x, chain["pitch_st"])
    if chain["codec"] is not None:
        x = augment.codec_round_trip(x, *chain["codec"])
    if chain["rt60"] is not None:
        x = augment.reverberate(x, augment.room_impulse_response(chain["rt60"], rng))
    return x


def recorded_prompt(path):
    """One packaged prompt, 8 kHz, leading/trailing silence cut."""
    return sources.trim(sources.recording(path))


def real_audio(u, item=recorded_prompt):
    """The parts of a real-speaker utterance, each read by ``item(path)``, joined by their pauses."""
    pieces = []
    for p in u["parts"]:
        pieces += [item(p["path"]), np.zeros(int(p["pause"] * SR))]
    return np.concatenate(pieces[:-1])


def finish(x):
    """Cut to the longest utterance, unit RMS * 0.1 like the espeak corpus, float32."""
    x = x[: int(sources.MAX_UTT_SEC * SR)]
    return (0.1 * x / (np.sqrt(np.mean(x ** 2)) + 1e-12)).astype(np.float32)


def render_job(us):
    """Audio of a list of utterances that share one voice (one synthesiser call)."""
    if us[0]["kind"] == "synth":
        raw = sources.render_tmp(VOICES[us[0]["voice"]], [u["text"] for u in us])
    else:
        raw = [real_audio(u) for u in us]
    return [finish(apply_chain(x, u["chain"])) for x, u in zip(raw, us)]


def render_utterances(us, procs, job=render_job):
    """Audio of every planned utterance, in order: ``job`` renders runs of up to 40
    consecutive utterances of one voice, in ``procs`` worker processes (1: here)."""
    jobs, cur = [], []
    for u in us:
        if cur and (u["voice"] != cur[0]["voice"] or len(cur) == 40):
            jobs.append(cur)
            cur = []
        cur.append(u)
    jobs += [cur] if cur else []
    if procs == 1:        # in this process: no fork of a process that may run threads
        return [a for j in jobs for a in job(j)]
    audio = []
    with multiprocessing.Pool(procs) as pool:
        for res in pool.imap(job, jobs):
            audio.extend(res)
    return audio


def write_planned_splits(plan, out, plan_name, order, procs, force, job=render_job):
    """Write the splits of ``plan`` named in ``order``, each rendered by ``job``, and
    record in ``out/plan_name`` the plan of each split once it is written (the plan
    file describes what is on disk: other splits keep their recorded plan, and a run
    stopped halfway re-renders the split it was writing).  A split whose folder exists
    and whose plan is the recorded one is skipped, unless ``force``.  At most 2
    worker processes."""
    os.makedirs(out, exist_ok=True)
    plan_path = os.path.join(out, plan_name)
    recorded = json.load(open(plan_path))["splits"] if os.path.exists(plan_path) else {}
    for split in order:
        entry = plan["splits"][split]
        if os.path.isdir(os.path.join(out, split)) and recorded.get(split) == entry and not force:
            print("%s: up to date" % split)
            continue
        audio = render_utterances(entry["utterances"], max(1, min(2, procs)), job)
        sec = make_corpus.write_split(split, entry, audio, out, voice_fields)
        recorded[split] = entry
        with open(plan_path + ".tmp", "w") as f:
            json.dump(dict(plan, splits=recorded), f, ensure_ascii=False)
        os.replace(plan_path + ".tmp", plan_path)
        print("%s: %d speakers, %d utterances, %.2f h%s" % (
            split, len({u["variant"] for u in entry["utterances"]}), len(audio), sec / 3600,
            ", %d mixtures" % len(entry["mixtures"]) if "mixtures" in entry else ""), flush=True)


def voice_fields(u):
    """What the index / manifest records about a voice: ``voice`` is engine+speaker
    (the training mixer never pairs one speaker with the same speaker)."""
    chain = u.get("chain") or {}
    return {"voice": "%s+%s" % (u.get("engine", "real"), u["variant"]), "source": u["voice"],
            "formant": chain.get("formant"), "pitch_st": chain.get("pitch_st")}


def write_telephone_split(espeak_test, out_dir, n):
    """``test_tel``: the first ``n`` espeak test mixtures, both sources band-passed
    to 300-3400 Hz, re-quantised with mix == s1 + s2."""
    with open(os.path.join(espeak_test, "manifest.json")) as f:
        manifest = json.load(f)["mixtures"][:n]
    sdir = os.path.join(out_dir, "test_tel")
    tmp = sdir + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    for m in manifest:
        d = os.path.join(tmp, m["id"])
        os.makedirs(d)
        src = [soundfile.read(os.path.join(espeak_test, m["id"], "s%d.wav" % i))[0] for i in (1, 2)]
        s1, s2 = (augment.band_limit(s, *augment.TELEPHONE_BAND) for s in src)
        peak = max(np.abs(s1 + s2).max(), np.abs(s1).max(), np.abs(s2).max())
        q1, q2 = (np.round(s * 0.8 * 32767 / peak).astype(np.int16) for s in (s1, s2))
        for name, q in (("mix", q1.astype(np.int32) + q2), ("s1", q1), ("s2", q2)):
            soundfile.write(os.path.join(d, name + ".wav"), q.astype(np.int16), SR, subtype="PCM_16")
    with open(os.path.join(tmp, "manifest.json"), "w") as f:
        json.dump({"sr": SR, "band_hz": list(augment.TELEPHONE_BAND), "mixtures": manifest}, f, indent=1)
    shutil.rmtree(sdir, ignore_errors=True)
    os.rename(tmp, sdir)


def missing_sources(splits, plan):
    """What the chosen splits need and this machine lacks: synthesisers, the Asterisk recordings."""
    engines = {u["engine"] for s in splits if s in plan["splits"]
               for u in plan["splits"][s]["utterances"] if u["kind"] == "synth"}
    real = not {"train_real", "test_real"}.isdisjoint(splits)
    return ([e for e in sorted(engines) if not sources.engine_available(e)]
            + ([sources.ASTERISK] if real and not os.path.isdir(sources.ASTERISK) else []))


def main(argv=None):
    a = make_corpus.corpus_arguments(__doc__, SPLIT_NAMES).parse_args(argv)
    splits = a.splits or SPLIT_NAMES
    per_voice = {k: max(2, int(round(v * a.scale))) for k, v in DEFAULT_SENTENCES.items()}
    pico_per_voice = {k: max(2, int(round(v * a.scale))) for k, v in DEFAULT_PICO_SENTENCES.items()}
    mixes = {k: max(2, int(round(v * a.scale))) for k, v in DEFAULT_MIXES.items()}
    plan = make_plan(a.seed, per_voice, mixes, pico_per_voice=pico_per_voice)
    missing = missing_sources(splits, plan)
    if missing:
        sys.exit("missing %s: see training/README.md (apt-get install ..., pip install ttspico==0.3.2)"
                 % ", ".join(missing))
    # the fixed splits first: a training run can start once val_voices is written
    order = sorted((s for s in plan["splits"] if s in splits), key=lambda s: s.startswith("train"))
    write_planned_splits(plan, a.out, "plan_voices.json", order, a.procs, a.force)
    espeak_test = os.path.join(a.out, "test")
    if "test_tel" in splits and os.path.isdir(espeak_test):
        write_telephone_split(espeak_test, a.out, plan["test_tel"])
        print("test_tel: %d mixtures" % plan["test_tel"])
    elif "test_tel" in splits:
        print("test_tel skipped: run make_corpus.py first (it writes the espeak test split)")
    print("corpus in", a.out)


if __name__ == "__main__":
    main()
