"""The files one separation writes: their names, their folder, and all-or-nothing writing.

Output names: ``OUTDIR/<stem>_s1.<ext>``, ``_s2``, ... (format and extension from
:func:`npsep.audio.output_format`). An :class:`OutputSet` writes every source to its own
temporary file and only when all are complete claims the final names, one by one,
without replacing anything (a hard link fails if the name exists); if a claim fails, the
names already claimed are removed again. So a separation leaves either all of its
outputs or none, and when several runs write the same outputs at once, each stem's
sources all come from one run (every run claims ``_s1`` first) while the others report
that they exist.
"""
import contextlib
import os

from . import audio, ffmpeg
from .errors import AudioError

AUDIO_EXTENSIONS = (".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif",
                    ".aiff", ".aifc", ".au", ".snd", ".caf", ".w64", ".rf64", *ffmpeg.EXTENSIONS)
"""Extensions of audio files (case-insensitive): taken from folders when no ``--glob`` is given
(those only ffmpeg decodes too: without it, each is reported as an error naming the remedy)."""

SOURCE_SUFFIX = "_s"
"""Output names are ``<stem>_s<k><ext>``."""


def output_paths(input_path, info, outdir, num_sources, fmt=None, subtype=None):
    """The files a separation of ``input_path`` (probed as ``info``) writes in ``outdir``."""
    _, _, ext = audio.output_format(info, fmt, subtype)
    stem, suffix = split_name(os.path.basename(os.fspath(input_path)))
    if ext is None:
        ext = suffix or "." + info.format.lower()
    return [os.path.join(os.fspath(outdir), f"{stem}{SOURCE_SUFFIX}{k + 1}{ext}")
            for k in range(num_sources)]


def split_name(name):
    """``"a.b.wav" -> ("a.b", ".wav")``; a name that is only a suffix (``".wav"``) is a stem."""
    stem, suffix = os.path.splitext(name)
    return (suffix, "") if not stem else (stem, suffix)


def check_outdir(outdir):
    """Refuse an ``outdir`` that cannot be a writable folder, without creating anything.

    An existing file, a missing path with an audio file's extension (``-o out.wav``: a
    file name where a folder is wanted), or a folder (or nearest existing parent) that
    cannot be written raises :class:`AudioError`.
    """
    outdir = os.fspath(outdir)
    if os.path.lexists(outdir) and not os.path.isdir(outdir):
        raise AudioError(f"{outdir}: is a file; -o takes the folder the sources are written to")
    if not os.path.lexists(outdir) and os.path.splitext(outdir)[1].lower() in AUDIO_EXTENSIONS:
        raise AudioError(f"{outdir}: -o takes a folder (the sources are written as "
                         f"<stem>{SOURCE_SUFFIX}1.<ext>, ...), not a file name")
    existing = os.path.abspath(outdir)
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise AudioError(f"{outdir}: cannot create output folder ({existing} is not a folder)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise AudioError(f"{outdir}: output folder is not writable ({existing})")


def ensure_folder(folder):
    """Create ``folder`` (and parents) if needed; :class:`AudioError` if that fails."""
    folder = os.fspath(folder)
    if os.path.isdir(folder):
        return
    if os.path.lexists(folder):
        raise AudioError(f"{folder}: output folder is not a folder")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise AudioError(f"{folder}: cannot create output folder ({e.strerror or e})") from None


class OutputSet(audio.AbortOnError):
    """The sources of one separation, written block by block, then all claimed or none.

    ``paths``: one file per source; ``compression``: see :class:`npsep.audio.AtomicWriter`; ``overwrite`` replaces existing files (then the set is
    renamed into place without roll-back). Use as a context manager: an exception (or
    ``KeyboardInterrupt``, or a termination signal turned into one) deletes every
    temporary file. The folder is created, and dead temporaries of killed runs removed
    from it (:func:`npsep.audio.remove_dead_temporaries`), when the set is opened.
    """

    def __init__(self, paths, samplerate, channels, fmt, subtype, overwrite=False, compression=None):
        self.paths = [os.fspath(p) for p in paths]
        if not overwrite:
            for p in self.paths:
                if os.path.lexists(p):
                    raise AudioError(f"{p}: already exists (use --overwrite to replace it, "
                                     "or --skip-existing to skip it)")
        folder = os.path.dirname(os.path.abspath(self.paths[0]))
        ensure_folder(folder)
        audio.remove_dead_temporaries(folder)
        self.writers = []
        try:
            with termination_deferred():  # a temporary file exists only once it is in self.writers
                for p in self.paths:
                    self.writers.append(audio.AtomicWriter(p, samplerate, channels, fmt, subtype,
                                                           overwrite=overwrite, compression=compression))
        except BaseException:
            self.abort()
            raise

    def write(self, sources):
        """Append ``sources`` of shape ``(frames, S, channels)``."""
        for k, w in enumerate(self.writers):
            w.write(sources[:, k])

    def commit(self):
        """Finish every file, then claim every final name in order; on any failure none stays."""
        try:
            for w in self.writers:
                w.finish()
            for w in self.writers:
                w.claim()
        except BaseException:
            for w in self.writers:
                w.unclaim()
            self.abort()
            raise

    def abort(self):
        """Delete every temporary file."""
        for w in self.writers:
            w.abort()


class Terminated(BaseException):
    """A termination signal (SIGTERM, SIGHUP) turned into an exception, so that every
    :class:`OutputSet` in progress deletes its temporary files as on Ctrl-C."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


TERMINATION_SIGNALS = ("SIGTERM", "SIGHUP")


@contextlib.contextmanager
def termination_deferred():
    """Hold SIGTERM and SIGHUP back for the ``with`` block (where the platform can): one that
    arrives meanwhile is delivered when the block ends, so it cannot strike between creating
    a temporary file and recording it for clean-up."""
    import signal
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    held = {getattr(signal, name) for name in TERMINATION_SIGNALS if hasattr(signal, name)}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def raise_on_termination():
    """From now on, SIGTERM and SIGHUP raise :class:`Terminated` in the main thread."""
    import signal

    def handler(signum, frame):
        raise Terminated(signum)

    for name in TERMINATION_SIGNALS:
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), handler)
