"""Where single-speaker speech comes from: offline synthesisers and packaged recordings.

Every voice is a ``Voice(name, engine, speaker, lang)``; ``speaker`` names the
person behind it (two synthesiser voices built from one person's recordings share
it), which is what corpus splits keep apart.  ``render`` turns a list of texts
into 8 kHz float signals for one voice; ``recording`` reads one packaged file.

Engines and where they come from (Debian packages):

* ``flite``: the flite voices kal, kal16, awb, rms, slt;
* ``festival``: the festvox voices listed in ``FESTIVAL_VOICES`` (the Hindi,
  Marathi and Telugu voices are left out: they crash on Latin-script text);
* ``pico``: the six SVOX Pico voices of ``PICO_VOICES``, one speaker per language,
  from the ``ttspico`` package on PyPI (a training-only dependency, built from its
  source distribution: ``pip install ttspico==0.3.2``);
* real recordings: the Asterisk voice-prompt packages in ``REAL_SPEAKERS``, the
  words and letters recorded for two KDE games (``KDE_ROOTS``), one speaker per
  language folder (``kde_speakers``), the Mandarin syllables of ``gcin-voice``
  (``GCIN_ROOT``), two speakers told apart by file name (``gcin_speakers``), the spoken
  dialogue of Fish Fillets NG (``FILLETS_ROOT``, ``fillets_speakers``), the spoken
  stamp descriptions of Tux Paint (``TUXPAINT_ROOT``, ``tuxpaint_speakers``) and single
  speakers of three games' archives and a codec's example file (``MISC_ROOTS``,
  ``misc_speakers``).

A recording's path may name a member of a zip archive, ``<archive>::<member>``
(``member_path``), and a slice of a recording, ``<path>@<start>:<end>`` in samples at
8 kHz (``slice_path``); ``recording`` and ``file_bytes`` read every kind.
"""

import collections
import functools
import hashlib
import importlib.metadata
import importlib.util
import io
import os
import re
import shutil
import subprocess
import tempfile
import zipfile

import numpy as np
import soundfile
from scipy.signal import resample_poly

SR = 8000
MAX_UTT_SEC = 6.0

Voice = collections.namedtuple("Voice", "name engine speaker lang")

FLITE_VOICES = [Voice("flite_kal", "flite", "kal", "en"), Voice("flite_kal16", "flite", "kal", "en"),
                Voice("flite_awb", "flite", "awb", "en"), Voice("flite_rms", "flite", "rms", "en"),
                Voice("flite_slt", "flite", "slt", "en")]
FESTIVAL_VOICES = [
    Voice("kal_diphone", "festival", "kal", "en"), Voice("ked_diphone", "festival", "ked", "en"),
    Voice("cmu_us_slt_arctic_hts", "festival", "slt", "en"),
    Voice("pc_diphone", "festival", "it_pc", "it"), Voice("lp_diphone", "festival", "it_lp", "it"),
    Voice("upc_ca_ona_hts", "festival", "ca_ona", "ca"),
    Voice("czech_dita", "festival", "cs_dita", "cs"), Voice("czech_krb", "festival", "cs_krb", "cs"),
    Voice("czech_machac", "festival", "cs_machac", "cs"), Voice("czech_ph", "festival", "cs_ph", "cs"),
    Voice("suo_fi_lj_diphone", "festival", "fi_lj", "fi"),
    Voice("hy_fi_mv_diphone", "festival", "fi_mv", "fi"),
    Voice("msu_ru_nsh_clunits", "festival", "ru_nsh", "ru")]
# Pico's voices; the speaker is named by the language and the tag of its signal-
# generation file (``<lang>_<tag>_sg.bin``), which differs in every language: each
# language's voice is a speaker of its own
PICO_VOICES = [Voice("pico_" + lang, "pico", "%s_%s" % (lang, tag), lang)
               for lang, tag in (("en-US", "lh0"), ("en-GB", "kh0"), ("de-DE", "gl0"),
                                 ("es-ES", "zl0"), ("fr-FR", "nk0"), ("it-IT", "cm0"))]
PICO_SR = 16000
# Pico's volume (0-500, default 100): at 100, 0.004-1 % of the samples of 30 English
# sentences hit full scale in every voice (clipped); at 40 the loudest sample of 200
# sentences is at -2.3 dBFS (it-IT) or below
PICO_VOLUME = 40

ASTERISK = "/usr/share/asterisk/sounds"
# speaker -> (package, folder under ASTERISK, file extension); the en and es-MX
# core sounds are both recorded by Allison Smith: one speaker.
REAL_SPEAKERS = {
    "allison": [("asterisk-core-sounds-en-wav", "en_US_f_Allison", ".wav"),
                ("asterisk-core-sounds-es-wav", "es_MX_f_Allison", ".wav")],
    "ivrvoice_ru": [("asterisk-core-sounds-ru-wav", "ru_RU_f_IvrvoiceRU", ".wav")],
    "menardi": [("asterisk-prompt-it-menardi-wav", "it_IT_f_Menardi", ".wav")],
    "es_co": [("asterisk-prompt-es-co", "es", ".gsm")],
}


# the KDE games' recorded words (ktuberling-data) and letters and syllables
# (klettres-data): package -> folder holding one sub-folder of recordings per language
KDE_ROOTS = {"ktuberling": "/usr/share/ktuberling/sounds", "klettres": "/usr/share/klettres"}
KDE_AUDIO = (".ogg", ".opus", ".wav")
# language folders that are one speaker under another name: the four Serbian
# scripts and dialects of ktuberling share one set of recordings
KDE_SAME_SPEAKER = {"ktuberling_sr@latin": "ktuberling_sr", "ktuberling_sr@ijekavian": "ktuberling_sr",
                    "ktuberling_sr@ijekavianlatin": "ktuberling_sr"}
# language folders left out, and why
KDE_EXCLUDED = {"ktuberling_ga": "frame-wise frozen spectra and long runs of digital silence: "
                                 "vocoded or synthetic, not a plain recording"}

# gcin-voice: one folder per Mandarin syllable (zhuyin, tone digit), holding the same
# syllable said by two people; the file name says who: file name -> speaker
GCIN_ROOT = "/usr/share/gcin-voice/ogg"
GCIN_SPEAKERS = {"3.ogg": "gcin_liu", "5.ogg": "gcin_chulo"}

# Fish Fillets NG's spoken dialogue (fillets-ng-data-cs, fillets-ng-data-nl):
# ``<level>/<lang>/[<level tag>-]<character>-<line>.ogg``, ``<level>`` one folder or two
# (``share/blackjokes``); kept: the two fish, who speak in every level, the big one
# (``v``, a man) and the small one (``m``, a woman), one speaker per language and fish.
# Other characters' actors are not credited (some may be the same people) and some
# of their files are sound effects.
FILLETS_ROOT = "/usr/share/games/fillets-ng/sound"
FILLETS_LANGS = ("cs", "nl")
FILLETS_LINE = re.compile(r"^(?:[^-]+-)?([vm])-[^-]+\.ogg$")

# Tux Paint's spoken stamp descriptions (tuxpaint-stamps-default):
# ``<category path>/<stamp>_desc_<lang>.ogg``, each language read by one person (the
# package's changelog); kept: the languages with at least 5 minutes of descriptions
# (English, Dutch, Lithuanian and Malayalam have under one minute each)
TUXPAINT_ROOT = "/usr/share/tuxpaint/stamps"
TUXPAINT_LANGS = ("be", "bg", "ca", "da", "el", "es", "fr", "ro", "ru")
TUXPAINT_DESC = re.compile(r"^(.+)_desc_([a-z]{2})\.ogg$")

# single real speakers of other packages: package -> the zip archive (or, for
# codec2-examples, the one recording) that holds them
MISC_ROOTS = {"0ad": "/usr/share/games/0ad/mods/public/public.zip",
              "warzone": "/usr/share/games/warzone2100/base.wz",
              "nexuiz": "/usr/share/games/nexuiz/data/data.pk3",
              "codec2": "/usr/share/codec2/wav/ve9qrp.wav"}
MISC_PACKAGES = {"0ad": "0ad-data", "warzone": "warzone2100-data", "nexuiz": "nexuiz-data",
                 "codec2": "codec2-examples"}
# archive members kept: package -> (member name pattern, speaker name formatted with its
# groups).  0 A.D.: the civilians' commands, one actor per civilisation and sex.
# Warzone 2100: the female announcer ("mission control"); its other voices (taunts,
# vtoltalk, trnsppil, nexus, coltive, proxmessages, multi) are left out.  Nexuiz: the
# tutorial's narrator, a man; misc-door.ogg in his folder is a sound effect.
MISC_MEMBERS = {
    "0ad": (re.compile(r"^audio/voice/(greek|latin|napatan|persian)/civ/civ_(male|female)_[^/]+\.ogg$"),
            "0ad_{0}_{1}"),
    "warzone": (re.compile(r"^audio/(?:memressp/[^/]+|tutorial|countdown|extra)/[^/]+\.ogg$"),
                "warzone_announcer"),
    "nexuiz": (re.compile(r"^sound/tutorial/(?!misc-door\.ogg$)[^/]+\.ogg$"), "nexuiz_tutorial")}
# a speaker with less recorded speech than this is left out (0 A.D.'s Greek man: 4
# commands, 3.7 s, not credited)
MIN_SPEAKER_SEC = 10.0
# a longer recording is read in slices of at most about this long (cut at pauses),
# so that the 6 s cut of an utterance does not throw most of it away
PIECE_SEC = 5.0
ARCHIVE_SEP = "::"
SLICE = re.compile(r"^(.*)@(\d+):(\d+)$")


def engine_available(engine):
    if engine == "pico":
        return importlib.util.find_spec("ttspico") is not None
    return shutil.which({"flite": "flite", "festival": "festival"}[engine]) is not None


def pico_language_dir():
    """The folder of Pico's language files, wherever pip put the package's data files
    (``<prefix>/languages``, which ``ttspico`` itself finds only under ``sys.prefix``)."""
    files = importlib.metadata.distribution("ttspico").files or []
    found = [f.locate() for f in files if f.name.endswith("_ta.bin")]
    if not found:
        raise RuntimeError("ttspico is installed without its language files: "
                           "pip install --force-reinstall ttspico==0.3.2")
    return os.path.dirname(os.path.normpath(str(found[0])))


def pico_speak(lang, text, lang_dir=None):
    """Pico saying ``text`` in language ``lang`` (e.g. "en-US"): int16 samples at
    ``PICO_SR``.  A fresh engine for every text: an engine carries state from one
    text into the next, so reusing one would make a sentence's audio depend on the
    sentences said before it."""
    import ttspico
    engine = ttspico.TtsEngine(lang, lang_dir=lang_dir or pico_language_dir())
    engine.volume = PICO_VOLUME
    return np.frombuffer(engine.speak(text) or b"", dtype=np.int16)


def real_files(speaker, root=ASTERISK):
    """Sorted (prompt id, path) of a real speaker's recordings; the prompt id is the
    path without folder and extension, shared by translations of one prompt."""
    out = []
    for _, folder, ext in REAL_SPEAKERS[speaker]:
        base = os.path.join(root, folder)
        for d, _, files in os.walk(base):
            for f in files:
                rel = os.path.relpath(os.path.join(d, f), base)
                if f.endswith(ext) and not rel.startswith("silence"):
                    out.append((rel[:-len(ext)], os.path.join(d, f)))
    return sorted(out)


def kde_speakers(roots=None):
    """{speaker: sorted [(prompt id, path)]} of the KDE games' recordings found under
    ``roots`` (default ``KDE_ROOTS``; a missing package is skipped).  A speaker is
    ``<package>_<language folder>`` (``KDE_SAME_SPEAKER`` merges, ``KDE_EXCLUDED``
    drops); the prompt id is the file's path in its folder without extension.
    A file whose bytes another of the speaker's files already has is skipped."""
    out = {}
    for package, root in sorted((KDE_ROOTS if roots is None else roots).items()):
        if not os.path.isdir(root):
            continue
        for lang in sorted(os.listdir(root)):
            speaker = "%s_%s" % (package, lang)
            speaker = KDE_SAME_SPEAKER.get(speaker, speaker)
            base = os.path.join(root, lang)
            if speaker in KDE_EXCLUDED or not os.path.isdir(base):
                continue
            for d, _, files in sorted(os.walk(base)):
                for f in sorted(files):
                    stem, ext = os.path.splitext(f)
                    if ext in KDE_AUDIO:
                        rel = os.path.relpath(os.path.join(d, stem), base)
                        out.setdefault(speaker, []).append((rel, os.path.join(d, f)))
    return {speaker: unique_files(files) for speaker, files in out.items()}


def unique_files(files):
    """Sorted (prompt id, path) of ``files`` without a file whose bytes an earlier one has."""
    seen, kept = set(), []
    for p, f in sorted(files):
        digest = hashlib.sha1(file_bytes(f)).hexdigest()
        if digest not in seen:
            seen.add(digest)
            kept.append((p, f))
    return kept


def gcin_speakers(root=None):
    """{speaker: sorted [(syllable, path)]} of gcin-voice's recordings under ``root``
    (default ``GCIN_ROOT``; a missing package gives ``{}``): ``<syllable>/<file>`` is
    said by ``GCIN_SPEAKERS[file]``; the prompt id is the syllable folder's name."""
    root = GCIN_ROOT if root is None else root
    out = {}
    if not os.path.isdir(root):
        return out
    for syllable in sorted(os.listdir(root)):
        for name, speaker in sorted(GCIN_SPEAKERS.items()):
            path = os.path.join(root, syllable, name)
            if os.path.isfile(path):
                out.setdefault(speaker, []).append((syllable, path))
    return out


def fillets_speakers(root=None):
    """{speaker: sorted [(prompt id, path)]} of the two fish's lines under ``root``
    (default ``FILLETS_ROOT``; a missing package gives ``{}``): speaker
    ``fillets_<lang>_<v or m>``, prompt id ``<level>/<file name without .ogg>``, which
    a line and its translation share.  A file whose bytes another of the speaker's
    files already has is skipped."""
    root = FILLETS_ROOT if root is None else root
    out = {}
    for d, _, files in sorted(os.walk(root)):
        lang = os.path.basename(d)
        if lang not in FILLETS_LANGS:
            continue
        level = os.path.relpath(os.path.dirname(d), root)
        for f in sorted(files):
            m = FILLETS_LINE.match(f)
            if m:
                speaker = "fillets_%s_%s" % (lang, m.group(1))
                out.setdefault(speaker, []).append((level + "/" + f[:-len(".ogg")], os.path.join(d, f)))
    return {speaker: unique_files(files) for speaker, files in out.items()}


def tuxpaint_speakers(root=None):
    """{speaker: sorted [(prompt id, path)]} of the stamp descriptions of
    ``TUXPAINT_LANGS`` under ``root`` (default ``TUXPAINT_ROOT``; a missing package gives
    ``{}``): speaker ``tuxpaint_<lang>``, prompt id the stamp's path without
    ``_desc_<lang>.ogg``, which a description and its translations share.  A file whose
    bytes another of the speaker's files already has is skipped (stamps in two
    categories, notes of two lengths)."""
    root = TUXPAINT_ROOT if root is None else root
    out = {}
    for d, _, files in sorted(os.walk(root)):
        for f in sorted(files):
            m = TUXPAINT_DESC.match(f)
            if m and m.group(2) in TUXPAINT_LANGS:
                stamp = os.path.relpath(os.path.join(d, m.group(1)), root)
                out.setdefault("tuxpaint_" + m.group(2), []).append((stamp, os.path.join(d, f)))
    return {speaker: unique_files(files) for speaker, files in out.items()}


def misc_speakers(roots=None):
    """{speaker: sorted [(prompt id, path)]} of the single speakers in the files of
    ``roots`` (package -> file, default ``MISC_ROOTS``; a missing package is skipped):
    the members of an archive that ``MISC_MEMBERS`` keeps (prompt id: the member's name
    without extension), or the package's one recording (speaker ``<package>_<file
    name>``).  A member whose bytes another of the speaker's has is skipped; a
    recording over ``PIECE_SEC`` is read in slices (``in_pieces``); a speaker with
    under ``MIN_SPEAKER_SEC`` of recordings is left out."""
    out = {}
    for package, path in sorted((MISC_ROOTS if roots is None else roots).items()):
        if not os.path.isfile(path):
            continue
        if package not in MISC_MEMBERS:
            stem = os.path.splitext(os.path.basename(path))[0]
            out["%s_%s" % (package, stem)] = [(stem, path)]
            continue
        pattern, speaker = MISC_MEMBERS[package]
        with zipfile.ZipFile(path) as z:
            for member in z.namelist():
                m = pattern.match(member)
                if m:
                    out.setdefault(speaker.format(*m.groups()), []).append(
                        (os.path.splitext(member)[0], member_path(path, member)))
    pieces = {speaker: [piece for p, f in unique_files(files) for piece in in_pieces(p, f)]
              for speaker, files in out.items()}
    return {speaker: files for speaker, files in pieces.items()
            if sum(len(recording(f)) for _, f in files) >= MIN_SPEAKER_SEC * SR}


def in_pieces(prompt, path):
    """[(prompt id, path)] of one recording: itself if it lasts at most ``PIECE_SEC``,
    else its slices (``slice_path``, prompt id ``<prompt>@<k>``) of about equal length,
    each cut at the quietest 10 ms within 0.5 s of an even split point."""
    x = recording(path)
    n = int(np.ceil(len(x) / (PIECE_SEC * SR)))
    if n <= 1:
        return [(prompt, path)]
    hop, e = 80, frame_energy(x)
    w = int(0.5 * SR / hop)
    cuts = [0]
    for k in range(1, n):
        c = k * len(e) // n
        cuts.append((c - w + int(np.argmin(e[c - w:c + w]))) * hop)
    cuts.append(len(x))
    return [("%s@%d" % (prompt, k), slice_path(path, a, b)) for k, (a, b) in enumerate(zip(cuts, cuts[1:]))]


def member_path(archive, member):
    """The path of a zip archive's member, as ``recording`` and ``file_bytes`` read it."""
    return archive + ARCHIVE_SEP + member


def slice_path(path, start, end):
    """The path of samples ``start:end`` (at 8 kHz) of the recording at ``path``."""
    return "%s@%d:%d" % (path, start, end)


def file_bytes(path):
    """The bytes of a file or of an archive member (``member_path``)."""
    if ARCHIVE_SEP in path:
        archive, member = path.split(ARCHIVE_SEP, 1)
        return _archive(archive, os.getpid()).read(member)
    with open(path, "rb") as f:
        return f.read()


@functools.lru_cache(maxsize=8)
def _archive(path, pid):
    """An open zip archive, one per archive and process (``pid``: a forked worker opens
    its own rather than share the file position of its parent's)."""
    return zipfile.ZipFile(path)


def recording(path):
    """A packaged recording as float64 at 8 kHz (raw GSM 06.10 for ``.gsm``); ``path``
    may name an archive member (``member_path``) or a slice (``slice_path``)."""
    m = SLICE.match(path)
    if m:
        return _sliced_recording(m.group(1))[int(m.group(2)):int(m.group(3))].copy()
    if path.endswith(".gsm"):
        x, rate = soundfile.read(path, format="RAW", subtype="GSM610", samplerate=SR, channels=1)
    else:
        source = io.BytesIO(file_bytes(path)) if ARCHIVE_SEP in path else path
        x, rate = soundfile.read(source, dtype="float64")
    return to_8k(x, rate)


@functools.lru_cache(maxsize=8)
def _sliced_recording(path):
    """``recording(path)``, decoded once for all the slices cut from it (a long
    recording is read as tens of slices, each of which would decode it whole)."""
    return recording(path)


def to_8k(x, rate):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim > 1:
        x = x.mean(axis=1)
    if rate != SR:
        g = np.gcd(SR, rate)
        x = resample_poly(x, SR // g, rate // g)
    return x


def frame_energy(x, hop=80):
    """Mean square of each whole ``hop``-sample frame (10 ms at 8 kHz)."""
    n = len(x) // hop
    return (x[: n * hop].reshape(n, hop) ** 2).mean(axis=1)


def trim(x, thresh_db=-40.0, margin=0.05):
    """Cut leading/trailing silence (80-sample frames 40 dB below the loudest)."""
    hop = 80
    e = frame_energy(x, hop)
    if len(e) < 2:
        return x
    act = np.nonzero(e > e.max() * 10 ** (thresh_db / 10))[0]
    m = int(margin * SR)
    return x[max(0, act[0] * hop - m):min(len(x), (act[-1] + 1) * hop + m)]


def trim_above_noise(x, floor_margin_db=10.0, max_gap=0.3, margin=0.05):
    """The spoken part of a recorded word, letter or syllable, for recordings whose
    hiss, hum or clicks ``trim`` would keep.

    Frame energies (10 ms) are smoothed over 50 ms; a frame is active above a threshold
    ``floor_margin_db`` over the noise floor (the 20th percentile of the smoothed
    energies), kept between 40 and 20 dB below the loudest frame.  Active frames
    form runs across gaps up to ``max_gap`` seconds; kept: the run of most energy (so
    a click or a breath further away goes), plus ``margin`` seconds each side."""
    hop = 80
    e = frame_energy(x, hop)
    if len(e) < 2:
        return x
    smooth = np.convolve(e, np.ones(5) / 5, "same") + 1e-20
    floor_db = 10 * np.log10(np.percentile(smooth, 20) / smooth.max())
    thresh = smooth.max() * 10 ** (min(-20.0, max(-40.0, floor_db + floor_margin_db)) / 10)
    active = np.nonzero(smooth > thresh)[0]
    runs = np.split(active, np.nonzero(np.diff(active) > max_gap * SR / hop)[0] + 1)
    run = max(runs, key=lambda r: smooth[r].sum())
    m = int(margin * SR)
    return x[max(0, run[0] * hop - m):min(len(x), (run[-1] + 1) * hop + m)]


def render(voice, texts, tmpdir):
    """Synthesise ``texts`` with one voice: a list of float64 signals at 8 kHz, trimmed."""
    if voice.engine == "pico":
        lang_dir = pico_language_dir()
        said = [(pico_speak(voice.lang, t, lang_dir) / 32768.0, PICO_SR) for t in texts]
    else:
        said = _render_files(voice, texts, tmpdir)
    return [trim(to_8k(x, rate))[: int(MAX_UTT_SEC * SR)] for x, rate in said]


def _render_files(voice, texts, tmpdir):
    """(signal, rate) of each text said by a flite or festival voice through WAV files."""
    paths = [os.path.join(tmpdir, "%s_%05d.wav" % (voice.name, i)) for i in range(len(texts))]
    if voice.engine == "flite":
        for t, p in zip(texts, paths):
            subprocess.run(["flite", "-voice", voice.name.split("_", 1)[1], "-t", t, "-o", p],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        _festival(voice, texts, paths)
        # a few diphone voices fail on some capitalised, punctuated sentences: say the
        # ones that came out missing again in lower case without punctuation
        missing = [i for i, p in enumerate(paths) if not os.path.exists(p)]
        _festival(voice, [_plain(texts[i]) for i in missing], [paths[i] for i in missing])
        for i in missing:
            if not os.path.exists(paths[i]):
                raise RuntimeError("festival voice %s cannot say %r" % (voice.name, texts[i]))
    out = []
    for p in paths:
        out.append(soundfile.read(p, dtype="float64"))
        os.unlink(p)
    return out


def _festival(voice, texts, paths):
    """One festival process saying each text into its WAV path (one that fails is skipped)."""
    script = "(voice_%s)\n" % voice.name + "".join(
        '(utt.save.wave (utt.synth (Utterance Text "%s")) "%s" (quote riff))\n'
        % (t.replace('"', ""), p) for t, p in zip(texts, paths))
    subprocess.run(["festival", "--pipe"], input=script.encode(),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _plain(text):
    return "".join(c for c in text.lower() if c.isalnum() or c == " ")


def render_tmp(voice, texts):
    tmpdir = tempfile.mkdtemp(prefix="npsep_voices_")
    try:
        return render(voice, texts, tmpdir)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
