"""One audio file separated into one file per source, in bounded memory.

How one file is processed (nothing grows with the file's length):

1. read in blocks of :data:`npsep.audio.BLOCK_FRAMES` frames, each checked;
2. separated by :func:`npsep.chunking.stream_separate`: resampled to the model's rate,
   cut into overlapping chunks (default 8 s, 50 % overlap; every channel on its own,
   sources aligned across chunks and channels), cross-faded, resampled back and trimmed
   to the input's length;
3. written block by block to one temporary file per source; the final names are claimed
   only when all are complete (:class:`npsep.outputs.OutputSet`: all outputs or none).

``chunk_seconds=0`` processes the whole file at once (exact, but memory grows with the
length). The input ``-`` is standard input and the output folder ``-`` standard output
(one WAV stream whose channels are the sources one after the other: source 1's
channels, then source 2's, ...).
"""
import os
import shutil
import sys
import tempfile

from . import audio
from .chunking import DEFAULT_CHUNK_SECONDS, DEFAULT_OVERLAP, chunk_lengths, stream_separate
from .model import resolve_model
from .outputs import OutputSet, output_paths


def separate_file(input, outdir, model=None, *, overwrite=False,
                  chunk_seconds=DEFAULT_CHUNK_SECONDS, overlap=DEFAULT_OVERLAP, fmt=None,
                  subtype=None, compression=None, progress=None, _align=True):
    """Separate the audio file ``input`` into ``OUTDIR/<stem>_s1.<ext>``, ``_s2``, ...

    ``model``: ``None`` for the bundled model, a weights file path, or a loaded model
    (see :func:`npsep.model.resolve_model`; load it once when separating many files).
    Outputs keep the input's sample rate, length, channel count and format family (see
    :mod:`npsep.audio`) unless ``fmt`` / ``subtype`` choose another (``compression``:
    libsndfile's compression level from 0 to 1 for FLAC, Vorbis, Opus and MP3).
    ``chunk_seconds`` (default 8) is the chunk length at the model's rate, ``0`` for the
    whole file at once; ``overlap`` the fraction of a chunk shared with the next (0 to 0.5].
    ``progress(frames)`` is called with the number of input frames read so far.

    Returns the list of written paths. Raises :class:`npsep.errors.NpsepError` (e.g.
    :class:`~npsep.errors.AudioError`) for bad input; then no output file (and no output
    folder) is created and existing files are untouched.
    """
    model = resolve_model(model)
    S, rate_m = int(model.num_sources), int(model.sample_rate)
    source = audio.stdin_file() if os.fspath(input) == "-" else os.fspath(input)
    info = audio.probe(source)
    total = -(-info.frames * rate_m // info.samplerate)
    chunk_len, overlap_len = chunk_lengths(rate_m, chunk_seconds, overlap, total=total)
    C, rate = info.channels, info.samplerate
    if os.fspath(outdir) == "-":
        paths = [None]
        fmt, subtype, _ = audio.output_format(info, fmt, subtype)
        fmt, subtype = "WAV", subtype if audio.sf.check_format("WAV", subtype) else "FLOAT"
        channels = S * C
    else:
        paths = output_paths("stdin.wav" if os.fspath(input) == "-" else input, info, outdir, S,
                             fmt, subtype)
        fmt, subtype, _ = audio.output_format(info, fmt, subtype)
        channels = C

    def blocks():
        read = 0
        for block in audio.read_blocks(source):
            read += len(block)
            yield block
            if progress is not None:
                progress(read)

    separate_fn = getattr(model, "separate_mixtures", model.separate)  # the recipe, unchunked
    separated = stream_separate(separate_fn, S, blocks(), rate, rate_m, C, chunk_len, overlap_len,
                                min_len=max(1, int(getattr(model, "min_length", 1))), align=_align)
    if paths == [None]:
        _write_stdout(separated, rate, channels, fmt, subtype)
        return ["-"]
    first = next(separated)  # the first block: bad input is refused before any file is made
    with OutputSet(paths, rate, C, fmt, subtype, overwrite=overwrite,
                   compression=compression) as out:
        out.write(first)
        for y in separated:
            out.write(y)
        out.commit()
    return paths


def _write_stdout(separated, rate, channels, fmt, subtype):
    """Write the sources as one WAV stream on standard output (through a temporary file:
    a WAV header holds the length)."""
    with tempfile.TemporaryDirectory(prefix="npsep-") as tmp:
        path = os.path.join(tmp, "sources.wav")
        w = audio.AtomicWriter(path, rate, channels, fmt, subtype, overwrite=True)
        with w:
            for y in separated:
                w.write(y.reshape(len(y), channels))
            w.commit()
        with open(path, "rb") as f:
            shutil.copyfileobj(f, sys.stdout.buffer)
        sys.stdout.buffer.flush()
