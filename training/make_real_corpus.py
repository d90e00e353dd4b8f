#!/usr/bin/env python3
"""Generate the many-real-speakers splits from packaged recordings (8 kHz).

``ktuberling-data`` ships words and ``klettres-data`` letters and syllables, each
recorded by volunteers for a KDE game, one folder per language; every language
folder is one speaker (``sources.kde_speakers``).  ``gcin-voice`` ships Mandarin
syllables said by two people (``sources.gcin_speakers``).  ``fillets-ng-data-cs`` and
``fillets-ng-data-nl`` ship the dialogue of the game Fish Fillets NG, two fish each
played by one person per language (``sources.fillets_speakers``), and
``tuxpaint-stamps-default`` spoken descriptions of Tux Paint's stamps, one reader per
language (``sources.tuxpaint_speakers``).  ``0ad-data``, ``warzone2100-data``,
``nexuiz-data`` and ``codec2-examples`` hold a few single speakers each: 0 A.D.'s
civilians (one actor per civilisation and sex), Warzone 2100's announcer, Nexuiz's
tutorial narrator and one radio amateur (``sources.misc_speakers``).  From them, in the corpus folder of
``make_corpus.py`` and ``make_voices_corpus.py`` (other split names, own plan
file ``plan_real.json``), deterministically from ``--seed``:

    train_kde   single-speaker shards, mixed on the fly: every speaker except
                ``VAL_SPEAKERS``, each utterance in ``make_voices_corpus.REAL_COPIES``
                versions (as recorded, then with a random chain of the
                generation-time augmentations)
    val_real    150 fixed mixtures of the ``VAL_SPEAKERS``, for best-model selection
    train_gcin  single-speaker shards of the two gcin-voice speakers, made like
                train_kde (a split of its own, so that adding it left the plans
                of the two above as they were)
    train_games single-speaker shards of the Fish Fillets and Tux Paint speakers
                except ``GAMES_TEST_SPEAKERS``, made like train_kde, up to
                ``GAMES_MAX_TRAIN_SEC`` of speech per speaker (again a split of its own)
    test_games  150 fixed mixtures of the ``GAMES_TEST_SPEAKERS``, made like val_real
    train_misc  single-speaker shards of the ``sources.misc_speakers``, made like
                train_games (all are training speakers: none holds more than 7 minutes)

The splits are disjoint by speaker: a validation speaker's recordings are in no
training split, the held-out test speakers of ``test_real`` (Asterisk prompts) are
in neither, and ``test_games``' speakers are in no other split.  An utterance is one
speaker's items, shuffled, trimmed of silence and joined by 0.05-0.3 s pauses until
it lasts ``UTT_SEC[0]`` (3.5 s); it is cut at ``sources.MAX_UTT_SEC`` (6 s) when
rendered.  A speaker's last utterance may be shorter (at least ``LAST_UTT_SEC``), so
that the few seconds of the smallest speakers are not thrown away.  A speaker with
more than ``MAX_TRAIN_SEC`` of speech gives only that much to training, so that one
voice does not fill the split.  The recordings of words, letters and syllables are
cut to their speech by ``sources.trim_above_noise``, the read sentences and lines of
dialogue, and 0 A.D.'s commands, by ``sources.trim`` (``SENTENCE_SOURCES``).

    apt-get install -y ktuberling-data klettres-data gcin-voice \
        fillets-ng-data-cs fillets-ng-data-nl tuxpaint-stamps-default \
        0ad-data warzone2100-data nexuiz-data codec2-examples
    python training/make_real_corpus.py                       # every split
    python training/make_real_corpus.py --split train_gcin    # only this one
"""

import glob
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_corpus  # noqa: E402
import make_voices_corpus as voices  # noqa: E402
import sources  # noqa: E402

SR = 8000
CORPUS_VERSION = 1

# held out for validation: four speakers, four languages that neither package's other
# folders nor the test speakers speak; by the handbook credits one woman (Czech) and two
# men (Hebrew, Walloon); the Greek folder is credited to two names, its measured median
# pitch is 157 Hz
VAL_SPEAKERS = ["klettres_cs", "klettres_he", "ktuberling_wa", "ktuberling_el"]
VAL_MIXES = 150
UTT_SEC = (3.5, 6.0)
LAST_UTT_SEC = 1.0
PAUSE_SEC = (0.05, 0.3)
MAX_TRAIN_SEC = 300.0
# held out for testing: three Tux Paint readers, by the measured median pitch of their
# descriptions a woman (Greek, 211 Hz) and two men (Danish 145 Hz, French 136 Hz), in
# languages that no other Tux Paint or Fish Fillets speaker reads
GAMES_TEST_SPEAKERS = ["tuxpaint_da", "tuxpaint_el", "tuxpaint_fr"]
# the Fish Fillets and Tux Paint speakers hold 13-44 minutes each
GAMES_MAX_TRAIN_SEC = 600.0
# speakers whose recordings are read sentences or lines of dialogue (by name prefix);
# 0 A.D.'s commands are phrases of a few words too, which trim_above_noise, keeping
# only the loudest run of speech, would cut (it keeps 53 of Napatan's 63 s, trim 58 s)
SENTENCE_SOURCES = ("fillets_", "tuxpaint_", "0ad_", "warzone_", "nexuiz_", "codec2_")
# in the order written: the validation split first, so a training run can start on it
SPLIT_NAMES = ["val_real", "train_kde", "train_gcin", "train_games", "test_games", "train_misc"]


def item_audio(path):
    """One recorded word or letter: 8 kHz, leading/trailing silence and hiss cut."""
    return sources.trim_above_noise(sources.recording(path))


def sentence_audio(path):
    """One recorded sentence or line of dialogue: 8 kHz, leading/trailing silence cut
    (``trim_above_noise`` would also cut its pauses and quiet syllables)."""
    return sources.trim(sources.recording(path))


def reader(speaker):
    """``sentence_audio`` for a speaker of ``SENTENCE_SOURCES``, else ``item_audio``."""
    return sentence_audio if speaker.startswith(SENTENCE_SOURCES) else item_audio


def speaker_utterances(speaker, files, seed, max_sec=None):
    """Lists of parts ``{"prompt", "path", "pause"}`` of one speaker's utterances:
    the items in a seeded shuffle, joined until an utterance lasts ``UTT_SEC[0]``
    (the pause after the last part is not played); at most ``max_sec`` of speech."""
    r = random.Random("kde:%d:%s" % (seed, speaker))
    read = reader(speaker)
    files = list(files)
    r.shuffle(files)
    out, cur, dur, total = [], [], 0.0, 0.0
    for prompt, path in files:
        if max_sec is not None and total >= max_sec:
            break
        sec = len(read(path)) / SR
        total += sec
        dur += sec + (cur[-1]["pause"] if cur else 0.0)
        cur.append({"prompt": prompt, "path": path, "pause": round(r.uniform(*PAUSE_SEC), 3)})
        if dur >= UTT_SEC[0]:
            out.append(cur)
            cur, dur = [], 0.0
    if cur and dur >= LAST_UTT_SEC:
        out.append(cur)
    return out


def speaker_split(name, speaker, files, seed, held, max_sec=None):
    """The planned utterances of one speaker in split ``name``: a held-out speaker's
    once, all of them; a training speaker's up to ``max_sec`` (default ``MAX_TRAIN_SEC``)
    of speech, each in ``REAL_COPIES`` versions, all but the first with an augmentation
    chain."""
    copies = 1 if held else voices.REAL_COPIES
    out = []
    for k, ps in enumerate(speaker_utterances(speaker, files, seed, None if held else max_sec or MAX_TRAIN_SEC)):
        for c in range(copies):
            uid = "%s_%s_%04d_%d" % (name, speaker, k, c)
            r = random.Random("chain:%d:%s" % (seed, uid))
            out.append({"id": uid, "kind": "real", "voice": speaker, "variant": speaker,
                        "text": " + ".join(p["prompt"] for p in ps), "parts": ps,
                        "chain": voices.draw_chain(r) if c else None})
    return out


def make_plan(seed=0, mixes=VAL_MIXES, roots=None, gcin_root=None, fillets_root=None, tuxpaint_root=None,
              misc_roots=None):
    """Deterministic plan of every utterance (with its augmentation chain) and mixture;
    ``mixes`` mixtures each in val_real and test_games."""
    splits = {name: {"utterances": []} for name in SPLIT_NAMES}
    for speaker, files in sorted(sources.kde_speakers(roots).items()):
        held = speaker in VAL_SPEAKERS
        name = "val_real" if held else "train_kde"
        splits[name]["utterances"] += speaker_split(name, speaker, files, seed, held)
    for speaker, files in sorted(sources.gcin_speakers(gcin_root).items()):
        splits["train_gcin"]["utterances"] += speaker_split("train_gcin", speaker, files, seed, False)
    games = dict(sources.fillets_speakers(fillets_root), **sources.tuxpaint_speakers(tuxpaint_root))
    for speaker, files in sorted(games.items()):
        held = speaker in GAMES_TEST_SPEAKERS
        name = "test_games" if held else "train_games"
        splits[name]["utterances"] += speaker_split(name, speaker, files, seed, held, GAMES_MAX_TRAIN_SEC)
    for speaker, files in sorted(sources.misc_speakers(misc_roots).items()):
        splits["train_misc"]["utterances"] += speaker_split("train_misc", speaker, files, seed, False,
                                                            GAMES_MAX_TRAIN_SEC)
    for name in ("val_real", "test_games"):
        fixed = splits[name]
        if fixed["utterances"]:     # the packages are installed
            fixed["mixtures"] = make_corpus.plan_mixtures(fixed["utterances"], mixes, seed, name)
    return {"version": CORPUS_VERSION, "seed": seed, "sr": SR, "splits": splits}


def render_job(us):
    """Audio of planned utterances: items joined, augmentation chain, level, 6 s cut."""
    return [voices.finish(voices.apply_chain(voices.real_audio(u, reader(u["variant"])), u["chain"]))
            for u in us]


def missing_misc_packages():
    """(file, Debian package) of each of ``sources.MISC_ROOTS`` that this machine lacks."""
    return sorted((path, sources.MISC_PACKAGES[package]) for package, path in sources.MISC_ROOTS.items()
                  if not os.path.isfile(path))


def missing_packages(splits):
    """(folder, Debian package) of each recording folder the chosen splits read and this
    machine lacks (a folder may be a pattern: ``<level>/cs`` of any level); for
    train_misc, its packages' files when none of them is there (one is enough)."""
    need = {}
    if not {"train_kde", "val_real"}.isdisjoint(splits):
        need.update({root: game + "-data" for game, root in sources.KDE_ROOTS.items()})
    if "train_gcin" in splits:
        need[sources.GCIN_ROOT] = "gcin-voice"
    if "train_games" in splits:
        need.update({os.path.join(sources.FILLETS_ROOT, "*", lang): "fillets-ng-data-" + lang
                     for lang in sources.FILLETS_LANGS})
    if not {"train_games", "test_games"}.isdisjoint(splits):
        need[sources.TUXPAINT_ROOT] = "tuxpaint-stamps-default"
    missing = [(root, package) for root, package in need.items()
               if not any(os.path.isdir(d) for d in glob.glob(root))]
    absent = missing_misc_packages() if "train_misc" in splits else []
    if len(absent) == len(sources.MISC_ROOTS):
        missing += absent
    return sorted(missing)


def main(argv=None):
    a = make_corpus.corpus_arguments(__doc__, SPLIT_NAMES).parse_args(argv)
    splits = a.splits or SPLIT_NAMES
    missing = missing_packages(splits)
    if missing:
        sys.exit("missing %s: apt-get install -y %s (training/README.md)"
                 % (", ".join(r for r, _ in missing), " ".join(sorted({p for _, p in missing}))))
    absent = missing_misc_packages() if "train_misc" in splits else []
    if absent:
        print("train_misc without %s: apt-get install -y %s" % (", ".join(r for r, _ in absent),
                                                                " ".join(p for _, p in absent)))
    plan = make_plan(a.seed, max(2, int(round(VAL_MIXES * a.scale))))
    voices.write_planned_splits(plan, a.out, "plan_real.json", [s for s in SPLIT_NAMES if s in splits],
                                a.procs, a.force, render_job)
    print("corpus in", a.out)


if __name__ == "__main__":
    main()
