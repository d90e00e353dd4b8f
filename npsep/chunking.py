"""Long signals in overlapping chunks: the plan, its execution, and the streaming pipeline.

A signal at the model's rate is cut into chunks ``chunk_len`` samples long, consecutive
chunks overlapping by ``overlap_len`` (:func:`next_chunk`, :func:`chunk_plan`). **Each
channel is separated on its own** (as a mono mixture). Every chunk's sources are put in
the order that agrees best with the previous chunk on their overlap (largest sum of inner
products, solved exactly as an assignment problem); for the first chunk, channels after
the first are ordered like channel 0 the same way, so that source 1 of a stereo signal
is, as far as the signal allows, the same sound on both sides. Chunks are cross-faded
over the overlap with complementary ``sin^2`` / ``cos^2`` halves of a Hann window (flat
elsewhere, no fade at the signal's ends), so the weights sum to exactly one.

:func:`stream_separate` is the whole pipeline for a signal at any rate arriving in blocks
(resample to the model's rate, chunk, resample back, trim to the input length). The
command line (files) and :meth:`npsep.Model.separate` (arrays) both run it, so both hold
at most one chunk of input and one overlap of outputs besides what they read and write.
"""
import numpy as np

from . import audio
from .errors import SeparationError
from .metrics import best_permutation

DEFAULT_CHUNK_SECONDS = 8.0
DEFAULT_OVERLAP = 0.5
MIN_CHUNK_SECONDS = 0.25
MAX_CHUNK_SECONDS = 86400.0


def chunk_lengths(model_rate, chunk_seconds, overlap=DEFAULT_OVERLAP, total=None):
    """``(chunk_len, overlap_len)`` in samples at ``model_rate``, checked; ``(None, 0)`` for one chunk.

    ``chunk_seconds`` is 0 (the whole signal at once) or from :data:`MIN_CHUNK_SECONDS` to
    :data:`MAX_CHUNK_SECONDS`; ``overlap`` a fraction in (0, 0.5]. A chunk is never longer
    than the signal: with ``total`` (its length at ``model_rate``) known and at most one
    chunk long, the whole signal is one chunk. Raises :class:`SeparationError` (one line).
    """
    valid = isinstance(chunk_seconds, (int, float, np.integer, np.floating)) and (
        chunk_seconds == 0 or MIN_CHUNK_SECONDS <= chunk_seconds <= MAX_CHUNK_SECONDS)
    if not valid:
        raise SeparationError(f"chunk length must be 0 (whole signal) or from {MIN_CHUNK_SECONDS:g} "
                              f"to {MAX_CHUNK_SECONDS:g} s, got {chunk_seconds}")
    if not 0 < overlap <= 0.5:
        raise SeparationError(f"overlap must be in (0, 0.5], got {overlap}")
    if chunk_seconds == 0:
        return None, 0
    chunk_len = int(round(chunk_seconds * model_rate))
    if total is not None and total <= chunk_len:
        return None, 0
    overlap_len = max(1, min(chunk_len // 2, int(round(overlap * chunk_len))))
    return chunk_len, overlap_len


def next_chunk(start, chunk_len, overlap_len, available, ended):
    """The chunk that starts at ``start``: ``(stop, last)``, or ``None`` while it needs more input.

    ``available`` samples have arrived, all of them if ``ended``. A chunk is ``chunk_len``
    long; the last one is the first that reaches the end, and stops there. A chunk that is
    not the last needs one sample after it (to know it is not the last). The next chunk
    starts ``chunk_len - overlap_len`` after this one.
    """
    if chunk_len is not None and available > start + chunk_len:
        return start + chunk_len, False
    if ended:
        return available, True
    return None


def chunk_plan(total, chunk_len, overlap_len):
    """Every chunk of a ``total``-sample signal: ``[(start, stop, first, last), ...]``."""
    plan, start = [], 0
    while True:
        stop, last = next_chunk(start, chunk_len, overlap_len, total, ended=True)
        plan.append((start, stop, start == 0, last))
        if last:
            return plan
        start += chunk_len - overlap_len


def crossfade(length):
    """``(rise, fall)`` of ``length`` samples: ``sin^2`` and ``cos^2`` (Hann halves), summing to 1."""
    phase = (np.arange(length, dtype=np.float64) + 0.5) / length * (np.pi / 2)
    rise = np.sin(phase) ** 2
    return rise.astype(np.float32), (1.0 - rise).astype(np.float32)


class ChunkedSeparator:
    """Separate a stream of model-rate samples chunk by chunk (the chunks of :func:`next_chunk`).

    ``push(x)`` with ``x`` of shape ``(frames, channels)`` returns the output samples that
    are final, shape ``(frames_out, S, channels)``; ``flush()`` returns the rest.
    Concatenated, the outputs have exactly as many frames as were pushed. Memory: at most
    one chunk of input plus one block, and one overlap of outputs.

    ``separate_fn(x)`` maps float32 ``(1, n)`` to ``(1, S, n)``. ``chunk_len`` ``None``
    means a single chunk (the whole stream at :meth:`flush`). Chunks shorter than
    ``min_len`` are zero-padded for ``separate_fn`` and trimmed back. ``align=False``
    disables the permutation alignment (for tests only).
    """

    def __init__(self, separate_fn, num_sources, channels, chunk_len=None, overlap_len=0,
                 min_len=1, align=True):
        if chunk_len is not None and not 0 < overlap_len <= chunk_len // 2:
            raise ValueError(f"overlap_len must be in 1..chunk_len/2, got {overlap_len}")
        self.separate_fn = separate_fn
        self.S, self.C = num_sources, channels
        self.chunk_len, self.O = chunk_len, overlap_len
        self.min_len = min_len
        self.align = align
        if chunk_len is not None:
            self.rise, self.fall = crossfade(overlap_len)
        self._buf = []          # pending input blocks
        self._buf_len = 0
        self._buf0 = 0          # global index of the first pending sample
        self._received = 0
        self._start = 0         # start of the next chunk
        self._tail = None       # windowed outputs of the previous chunk over the overlap
        self._prev = None       # raw (aligned) outputs of the previous chunk over the overlap
        self.chunks = 0         # chunks processed so far

    def push(self, x):
        """Add model-rate samples ``x (frames, channels)``; return the outputs now final,
        ``(frames_out, S, channels)`` float32."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.C:
            raise ValueError(f"expected (frames, {self.C}) samples, got {x.shape}")
        if len(x):
            self._buf.append(x)
            self._buf_len += len(x)
            self._received += len(x)
        return self._run(ended=False)

    def flush(self):
        """End of input: return the remaining outputs, ``(frames_out, S, channels)`` float32."""
        if self._received == 0:
            return self._cat([])
        return self._run(ended=True)

    # ---

    def _run(self, ended):
        outs = []
        while self._start < self._received:
            chunk = next_chunk(self._start, self.chunk_len, self.O, self._received, ended)
            if chunk is None:
                break
            outs.append(self._process(*chunk))
        return self._cat(outs)

    def _cat(self, outs):
        if not outs:
            return np.zeros((0, self.S, self.C), dtype=np.float32)
        return outs[0] if len(outs) == 1 else np.concatenate(outs, axis=0)

    def _take(self, start, stop, keep_from):
        """Input samples [start, stop) (global indices); drops those before ``keep_from``."""
        data = np.concatenate(self._buf, axis=0) if len(self._buf) > 1 else self._buf[0]
        x = data[start - self._buf0: stop - self._buf0]
        drop = max(0, keep_from - self._buf0)
        rest = data[drop:]
        self._buf = [rest] if len(rest) else []
        self._buf_len = len(rest)
        self._buf0 += drop
        return x

    def _separate(self, x):
        """Raw outputs ``(n, S, C)`` of one chunk, each channel on its own."""
        n = len(x)
        out = np.empty((n, self.S, self.C), dtype=np.float32)
        for c in range(self.C):
            xc = x[:, c]
            if n < self.min_len:
                xc = np.concatenate([xc, np.zeros(self.min_len - n, dtype=np.float32)])
            y = np.asarray(self.separate_fn(np.ascontiguousarray(xc[None, :])))
            if y.shape != (1, self.S, len(xc)):
                raise SeparationError(f"the model returned shape {y.shape} for input "
                                      f"(1, {len(xc)}); expected (1, {self.S}, {len(xc)})")
            if not np.isfinite(y).all():
                raise SeparationError("the model produced NaN or Inf outputs")
            out[:, :, c] = y[0, :, :n].T
        return out

    def _process(self, stop, last):
        start, first = self._start, self._start == 0
        next_start = stop if last else stop - self.O
        raw = self._separate(self._take(start, stop, keep_from=next_start))
        n = len(raw)
        if self.align and self.S > 1:
            if not first:
                for c in range(self.C):
                    score = self._prev[:, :, c].T.astype(np.float64) @ raw[:self.O, :, c]
                    raw[:, :, c] = raw[:, best_permutation(score), c]
            elif self.C > 1:
                for c in range(1, self.C):
                    score = raw[:, :, 0].T.astype(np.float64) @ raw[:, :, c]
                    raw[:, :, c] = raw[:, best_permutation(score), c]
        out = raw.copy()
        if not first:
            out[:self.O] *= self.rise[:, None, None]
            out[:self.O] += self._tail
        self.chunks += 1
        self._start = next_start
        if last:
            self._tail = self._prev = None
            return out
        out[n - self.O:] *= self.fall[:, None, None]
        self._tail = out[n - self.O:].copy()
        self._prev = raw[n - self.O:].copy()
        return out[:n - self.O]


def stream_separate(separate_fn, num_sources, blocks, rate, model_rate, channels,
                    chunk_len=None, overlap_len=0, min_len=1, align=True):
    """Separate a signal arriving as ``blocks`` of ``(frames, channels)`` at ``rate`` Hz.

    Yields the sources at ``rate`` in blocks of shape ``(frames, S, channels)``: resampled
    to ``model_rate`` (streaming ``resample_poly``, skipped when the rates agree),
    separated by a :class:`ChunkedSeparator`, resampled back and trimmed, so that the
    blocks add up to exactly as many frames as were read.
    """
    S, C = num_sources, channels
    resample_in = audio.StreamResampler(rate, model_rate, C)
    resample_out = audio.StreamResampler(model_rate, rate, S * C)
    chunker = ChunkedSeparator(separate_fn, S, C, chunk_len, overlap_len, min_len=min_len,
                               align=align)
    read = written = 0
    for block in blocks:
        read += len(block)
        y = chunker.push(resample_in.push(block))
        y = resample_out.push(y.reshape(len(y), S * C))
        written += len(y)
        yield y.reshape(len(y), S, C)
    y = np.concatenate([chunker.push(resample_in.flush()), chunker.flush()], axis=0)
    y = np.concatenate([resample_out.push(y.reshape(len(y), S * C)), resample_out.flush()])
    y = y[:max(0, read - written)]
    written += len(y)
    if written != read:
        raise SeparationError(f"internal error: {written} output frames for {read} input frames")
    yield y.reshape(len(y), S, C)
