"""Separate audio files: streaming, chunked, permutation-aligned, many files in parallel.

The Python entry points are :func:`separate_file` (one file) and
:func:`separate_files` (files and folders, optionally with worker processes);
``npsep separate`` is :func:`run`.

How one file is processed (in bounded memory; nothing grows with the file length):

1. read in blocks of :data:`npsep.audio.BLOCK_FRAMES` frames, each checked for NaN/Inf;
2. resampled to the model's rate with a streaming ``resample_poly``
   (:class:`npsep.audio.StreamResampler`; skipped when the rates agree);
3. cut into overlapping chunks (:class:`ChunkedSeparator`): ``chunk_seconds``
   long (default 8 s) at the model's rate, consecutive chunks overlapping by
   ``overlap`` (default 50 %). **Each channel is separated on its own** (as a
   mono mixture). Every chunk's sources are put in the order that agrees best
   with the previous chunk on their overlap (largest sum of inner products,
   solved exactly as an assignment problem); for the first chunk, channels
   after the first are ordered like channel 0 the same way, so that source 1
   of a stereo file is, as far as the signal allows, the same sound on both
   sides. Chunks are cross-faded over the overlap with complementary
   ``sin^2`` / ``cos^2`` halves of a Hann window (flat elsewhere, no fade at
   the file's ends), so the weights sum to exactly one;
4. resampled back to the input rate, trimmed to the input length, and written
   block by block to one temporary file per source, renamed into place only
   when all of them are complete.

``chunk_seconds=0`` processes the whole file at once (exact, but memory grows
with the length). Inputs shorter than the model's padding unit are padded
with zeros for the model and trimmed back.

Output names: ``OUTDIR/<stem>_s1.<ext>``, ``_s2``, ... For files found inside a
folder given as input, the sub-folder path relative to that folder is kept
under ``OUTDIR`` (so equal names in different sub-folders do not collide).
Formats: see :mod:`npsep.audio`.
"""
import concurrent.futures as cf
import multiprocessing
import os
import pathlib
import sys
import time
import traceback

import numpy as np

from . import audio
from .errors import AudioError, NpsepError
from .metrics import best_permutation
from .weights import default_model_path

DEFAULT_CHUNK_SECONDS = 8.0
DEFAULT_OVERLAP = 0.5
MIN_CHUNK_SECONDS = 0.25

AUDIO_EXTENSIONS = (".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif",
                    ".aiff", ".aifc", ".au", ".snd", ".caf", ".w64", ".rf64")
"""File extensions taken from folders when no ``--glob`` is given (case-insensitive)."""



class SeparationError(NpsepError):
    """The separation itself failed (options out of range, a model that outputs NaN, ...)."""


class NoModelError(NpsepError):
    """No model was given and no bundled model is installed."""


# --- the model --------------------------------------------------------------------------

def resolve_model(model=None):
    """A loaded model from ``None`` (the bundled one), a path, or a model object.

    A model object is anything with ``sample_rate``, ``num_sources`` and
    ``separate(x)`` (``(B, T) -> (B, S, T)`` float32).
    """
    if model is None:
        path = default_model_path()
        if path is None:
            raise NoModelError("no bundled model in this installation (npsep/data/"
                               "default_model.npz is missing); give one with --model PATH")
        model = path
    if isinstance(model, (str, os.PathLike)):
        from .model import load
        return load(os.fspath(model))
    for attr in ("sample_rate", "num_sources", "separate"):
        if not hasattr(model, attr):
            raise TypeError(f"model must be a path or have a {attr!r} attribute")
    return model


def model_min_length(model):
    """Shortest input handed to ``model.separate`` (shorter chunks are zero-padded, then trimmed).

    npsep models accept any length from one sample (they pad to their own
    padding unit and trim back, SPEC section 1), so this is 1 unless the model
    object says otherwise with a ``min_length`` attribute.
    """
    return max(1, int(getattr(model, "min_length", 1)))


# --- chunking ---------------------------------------------------------------------------

def crossfade(length):
    """``(rise, fall)`` of ``length`` samples: ``sin^2`` and ``cos^2`` (Hann halves), summing to 1."""
    phase = (np.arange(length, dtype=np.float64) + 0.5) / length * (np.pi / 2)
    rise = np.sin(phase) ** 2
    return rise.astype(np.float32), (1.0 - rise).astype(np.float32)


def chunk_plan(total, chunk_len, overlap_len):
    """The chunks ``[(start, stop, first, last), ...]`` :class:`ChunkedSeparator` processes.

    Chunk ``k`` starts at ``k * (chunk_len - overlap_len)``; the last one is the
    first that reaches ``total``. Useful to reason about (and test) the scheme.
    """
    if chunk_len is None or total <= chunk_len:
        return [(0, total, True, True)]
    step = chunk_len - overlap_len
    plan, start = [], 0
    while True:
        last = start + chunk_len >= total
        plan.append((start, total if last else start + chunk_len, start == 0, last))
        if last:
            return plan
        start += step


class ChunkedSeparator:
    """Separate a stream of model-rate samples chunk by chunk, with aligned, cross-faded chunks.

    ``push(x)`` with ``x`` of shape ``(frames, channels)`` returns the output
    samples that are final, shape ``(frames_out, S, channels)``; ``flush()``
    returns the rest. Concatenated, the outputs have exactly as many frames as
    were pushed. Memory: at most one chunk of input plus one block, and one
    overlap of outputs.

    ``separate_fn(x)`` maps float32 ``(1, n)`` to ``(1, S, n)``. ``chunk_len``
    ``None`` means a single chunk (the whole stream at :meth:`flush`).
    ``align=False`` disables the permutation alignment (for tests only).
    """

    def __init__(self, separate_fn, num_sources, channels, chunk_len=None, overlap_len=0,
                 min_len=1, align=True):
        if chunk_len is not None:
            if not 0 < overlap_len <= chunk_len // 2:
                raise ValueError(f"overlap_len must be in 1..chunk_len/2, got {overlap_len}")
        self.separate_fn = separate_fn
        self.S, self.C = num_sources, channels
        self.chunk_len, self.O = chunk_len, overlap_len
        self.step = None if chunk_len is None else chunk_len - overlap_len
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
        outs = []
        if self.chunk_len is not None:
            # a chunk that is not the last one needs a sample after it
            while self._received > self._start + self.chunk_len:
                outs.append(self._process(self._start + self.chunk_len, last=False))
        return self._cat(outs)

    def flush(self):
        """End of input: return the remaining outputs, ``(frames_out, S, channels)`` float32."""
        if self._received == 0:
            return self._cat([])
        return self._cat([self._process(self._received, last=True)])

    # ---

    def _cat(self, outs):
        if not outs:
            return np.zeros((0, self.S, self.C), dtype=np.float32)
        return outs[0] if len(outs) == 1 else np.concatenate(outs, axis=0)

    def _take(self, start, stop):
        """Input samples [start, stop) (global indices); drops what no later chunk needs."""
        data = np.concatenate(self._buf, axis=0) if len(self._buf) > 1 else self._buf[0]
        x = data[start - self._buf0: stop - self._buf0]
        keep_from = start + (self.step if self.step is not None else 0)
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
        x = self._take(start, stop)
        raw = self._separate(x)
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
        if last:
            self._tail = self._prev = None
            self._start = stop
            return out
        out[n - self.O:] *= self.fall[:, None, None]
        self._tail = out[n - self.O:].copy()
        self._prev = raw[n - self.O:].copy()
        self._start = start + self.step
        return out[:n - self.O]


# --- one file ---------------------------------------------------------------------------

def output_paths(input_path, info, outdir, num_sources):
    """The files :func:`separate_file` writes for ``input_path`` (probed as ``info``)."""
    fmt, subtype, ext = audio.output_format(info)
    base = os.path.basename(os.fspath(input_path))
    stem, suffix = os.path.splitext(base)
    if not stem:  # ".wav" is a stem with no suffix
        stem, suffix = suffix, ""
    if ext is None:
        ext = suffix or "." + fmt.lower()
    return [os.path.join(os.fspath(outdir), f"{stem}_s{i + 1}{ext}") for i in range(num_sources)]


def _chunk_lengths(model_rate, chunk_seconds, overlap):
    if chunk_seconds is None or chunk_seconds < 0 or not np.isfinite(chunk_seconds):
        raise SeparationError(f"chunk length must be 0 (whole file) or at least "
                              f"{MIN_CHUNK_SECONDS} s, got {chunk_seconds}")
    if chunk_seconds == 0:
        return None, 0
    if chunk_seconds < MIN_CHUNK_SECONDS:
        raise SeparationError(f"chunk length must be 0 (whole file) or at least "
                              f"{MIN_CHUNK_SECONDS} s, got {chunk_seconds}")
    if not 0 < overlap <= 0.5:
        raise SeparationError(f"overlap must be in (0, 0.5], got {overlap}")
    chunk_len = int(round(chunk_seconds * model_rate))
    overlap_len = max(1, min(chunk_len // 2, int(round(overlap * chunk_len))))
    return chunk_len, overlap_len


def separate_file(input, outdir, model=None, *, overwrite=False,
                  chunk_seconds=DEFAULT_CHUNK_SECONDS, overlap=DEFAULT_OVERLAP,
                  progress=None, _align=True):
    """Separate the audio file ``input`` into ``OUTDIR/<stem>_s1.<ext>``, ``_s2``, ...

    ``model``: ``None`` for the bundled model, a weights file path, or a
    loaded model (see :func:`resolve_model`; load it once when separating many
    files). Outputs keep the input's sample rate, length, channel count and
    format family (see :mod:`npsep.audio`). ``chunk_seconds`` (default 8) is
    the chunk length at the model's rate, ``0`` for the whole file at once;
    ``overlap`` the fraction of a chunk shared with the next (0 to 0.5].
    ``progress(frames)`` is called with the number of input frames read so far.

    Returns the list of written paths. Raises :class:`npsep.errors.NpsepError`
    (e.g. :class:`~npsep.errors.AudioError`) for bad input; then no output
    file is created and existing files are untouched.
    """
    model = resolve_model(model)
    S, rate_m = int(model.num_sources), int(model.sample_rate)
    chunk_len, overlap_len = _chunk_lengths(rate_m, chunk_seconds, overlap)
    input = os.fspath(input)
    info = audio.probe(input)
    paths = output_paths(input, info, outdir, S)
    if not overwrite:
        for p in paths:
            if os.path.lexists(p):
                raise AudioError(f"{p}: already exists (use --overwrite to replace it)")
    fmt, subtype, _ = audio.output_format(info)
    ensure_folder(outdir)

    C, rate = info.channels, info.samplerate
    resample_in = audio.StreamResampler(rate, rate_m, C)
    resample_out = audio.StreamResampler(rate_m, rate, S * C)
    chunker = ChunkedSeparator(model.separate, S, C, chunk_len, overlap_len,
                               min_len=model_min_length(model), align=_align)
    writers = []
    try:
        for p in paths:
            writers.append(audio.AtomicWriter(p, rate, C, fmt, subtype, overwrite=overwrite))
        state = {"read": 0, "written": 0}

        def emit(y, total=None):
            if len(y) == 0:
                return
            if total is not None:
                y = y[:max(0, total - state["written"])]
            for s, w in enumerate(writers):
                w.write(y[:, s * C:(s + 1) * C])
            state["written"] += len(y)

        for block in audio.read_blocks(input):
            state["read"] += len(block)
            y = chunker.push(resample_in.push(block))
            emit(resample_out.push(y.reshape(len(y), S * C)))
            if progress is not None:
                progress(state["read"])
        total = state["read"]
        y = np.concatenate([chunker.push(resample_in.flush()), chunker.flush()], axis=0)
        emit(resample_out.push(y.reshape(len(y), S * C)), total)
        emit(resample_out.flush(), total)
        if state["written"] != total:
            raise SeparationError(f"{input}: internal error: wrote {state['written']} "
                                  f"frames for {total} input frames")
        for w in writers:
            w.commit()
    except BaseException:
        for w in writers:
            w.abort()
        raise
    return paths


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


def check_writable_folder(folder):
    """Create ``folder`` if needed and check a file can be created in it."""
    ensure_folder(folder)
    import tempfile
    try:
        fd, tmp = tempfile.mkstemp(prefix=".npsep-write-test-", dir=folder)
    except OSError as e:
        raise AudioError(f"{folder}: output folder is not writable ({e.strerror or e})") from None
    os.close(fd)
    os.unlink(tmp)


# --- many files -------------------------------------------------------------------------

def collect_inputs(paths, patterns=None, outdir=None):
    """Expand files and folders into ``(items, errors)``.

    ``items``: ``[(file, subfolder), ...]`` where ``subfolder`` is the file's
    folder relative to the folder it was found in ('' for files given
    directly). ``errors``: ``[(path, message), ...]`` for paths that do not
    exist or folders with nothing to take.

    Folders are walked recursively (sorted, symbolic links to folders not
    followed, hidden files and folders skipped, and the output folder
    skipped). A file in a folder is taken if its path relative to that
    folder matches one of ``patterns`` the way :meth:`pathlib.PurePath.match`
    matches (shell-style ``*``, ``?``, ``[seq]``, case-sensitive, ``*`` never
    crosses ``/``, matched from the right: ``*.wav`` tests the file name,
    ``deep/*.wav`` the file name and its folder), or, with no patterns, if its
    extension is one of :data:`AUDIO_EXTENSIONS`. Files named directly are
    always taken.
    """
    items, errors = [], []
    out_real = os.path.realpath(outdir) if outdir is not None else None
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p):
            found = []
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                                 and os.path.realpath(os.path.join(root, d)) != out_real)
                rel_dir = os.path.relpath(root, p)
                rel_dir = "" if rel_dir == "." else rel_dir
                for name in sorted(files):
                    if name.startswith("."):
                        continue
                    rel = os.path.join(rel_dir, name).replace(os.sep, "/")
                    if _matches(name, rel, patterns):
                        found.append((os.path.join(root, name), rel_dir))
            if not found:
                what = " or ".join(patterns) if patterns else "audio files"
                errors.append((p, f"{p}: no files matching {what} in this folder"))
            items.extend(found)
        elif os.path.lexists(p):
            items.append((p, ""))
        else:
            errors.append((p, f"{p}: no such file or folder"))
    return items, errors


def _matches(name, rel, patterns):
    if not patterns:
        return os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS
    path = pathlib.PurePosixPath(rel)
    return any(path.match(pat) for pat in patterns)


class FileResult:
    """Outcome for one input: ``outputs`` on success, else ``error`` (one line)."""

    def __init__(self, input, outputs=None, error=None, detail=None, seconds=0.0):
        self.input, self.outputs, self.error = input, outputs or [], error
        self.detail, self.seconds = detail, seconds

    @property
    def ok(self):
        """Was the input separated (no error)?"""
        return self.error is None

    def __repr__(self):
        return f"FileResult({self.input!r}, outputs={self.outputs!r}, error={self.error!r})"


def _one(input, subdir, outdir, model, options, progress):
    t0 = time.monotonic()
    try:
        outs = separate_file(input, os.path.join(outdir, subdir) if subdir else outdir, model,
                             progress=progress, **options)
        return FileResult(input, outs, seconds=time.monotonic() - t0)
    except NpsepError as e:
        return FileResult(input, error=str(e), detail=traceback.format_exc())
    except MemoryError:
        return FileResult(input, error=f"{input}: out of memory", detail=traceback.format_exc())
    except Exception as e:  # noqa: BLE001 - one bad file must not stop the others
        return FileResult(input, error=f"{input}: internal error: {type(e).__name__}: {e}"
                          .splitlines()[0], detail=traceback.format_exc())


def separate_files(inputs, outdir, model=None, *, jobs=1, patterns=None, overwrite=False,
                   chunk_seconds=DEFAULT_CHUNK_SECONDS, overlap=DEFAULT_OVERLAP,
                   show_progress=None, on_result=None, progress_stream=None):
    """Separate files and folders (see :func:`collect_inputs`) into ``outdir``.

    ``jobs > 1`` runs that many worker processes (each loads the model once
    and uses ``cpu_count // jobs`` threads); ``model`` must then be ``None``
    or a path. A failure on one input does not stop the others: every input
    gets a :class:`FileResult` (passed to ``on_result`` as it completes) and
    the list of all results is returned. Raises only for problems that
    concern every file: the model cannot be loaded, ``outdir`` is not writable.

    ``show_progress``: ``None`` for a bar on ``progress_stream`` (default
    stderr) when it is a terminal, ``False`` never.
    """
    from .progress import Progress
    jobs = int(jobs)
    if jobs < 1:
        raise SeparationError(f"--jobs must be at least 1, got {jobs}")
    outdir = os.fspath(outdir)
    if jobs > 1 and not (model is None or isinstance(model, (str, os.PathLike))):
        raise TypeError("with jobs > 1, model must be None (bundled) or a weights file path")
    model_path = None
    if model is None or isinstance(model, (str, os.PathLike)):
        model_path = default_model_path() if model is None else os.fspath(model)
    loaded = resolve_model(model)
    check_writable_folder(outdir)
    S = int(loaded.num_sources)
    _chunk_lengths(int(loaded.sample_rate), chunk_seconds, overlap)  # validate once
    options = dict(overwrite=overwrite, chunk_seconds=chunk_seconds, overlap=overlap)

    items, errors = collect_inputs(inputs, patterns, outdir)
    results = [FileResult(p, error=msg) for p, msg in errors]
    for r in results:
        if on_result:
            on_result(r)

    # probe everything first: early errors, output collisions, total work for the bar
    todo, seen, total_seconds = [], {}, 0.0
    for path, sub in items:
        try:
            info = audio.probe(path)
            outs = output_paths(path, info, os.path.join(outdir, sub), S)
            key = os.path.normcase(os.path.abspath(outs[0]))
            if key in seen:
                raise AudioError(f"{path}: its outputs ({os.path.basename(outs[0])}, ...) "
                                 f"would overwrite those of {seen[key]}")
            seen[key] = path
            todo.append((path, sub, info.frames / info.samplerate, info.samplerate))
            total_seconds += info.frames / info.samplerate
        except NpsepError as e:
            r = FileResult(path, error=str(e), detail=traceback.format_exc())
            results.append(r)
            if on_result:
                on_result(r)

    bar = Progress(total_seconds, label="separating", stream=progress_stream,
                   enabled=None if show_progress is None else bool(show_progress))

    def report(r):
        bar.clear()
        results.append(r)
        if on_result:
            on_result(r)

    try:
        if jobs == 1 or len(todo) <= 1:
            done_seconds = 0.0
            for path, sub, seconds, rate in todo:
                def progress(frames, base=done_seconds, rate=rate):
                    bar.update(base + frames / rate)
                report(_one(path, sub, outdir, loaded, options, progress))
                done_seconds += seconds
                bar.update(done_seconds)
        else:
            _run_pool(todo, outdir, model_path, options, min(jobs, len(todo)), bar, report)
    finally:
        bar.close()
    return results


# --- worker processes -------------------------------------------------------------------

_WORKER = {}
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def _worker_init(model_path, counter):
    _WORKER["model"] = resolve_model(model_path)
    _WORKER["counter"] = counter


def _worker_task(path, sub, outdir, options, rate):
    counter = _WORKER["counter"]
    last = [0]

    def progress(frames):
        with counter.get_lock():
            counter.value += (frames - last[0]) / rate
        last[0] = frames

    r = _one(path, sub, outdir, _WORKER["model"], options, progress)
    return r.input, r.outputs, r.error, r.detail, r.seconds


def _run_pool(todo, outdir, model_path, options, jobs, bar, report):
    ctx = multiprocessing.get_context("spawn")
    counter = ctx.Value("d", 0.0)
    threads = str(max(1, (os.cpu_count() or 1) // jobs))
    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update({k: threads for k in _THREAD_VARS})
    pending = {}
    try:
        with cf.ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_worker_init,
                                    initargs=(model_path, counter)) as pool:
            for path, sub, seconds, rate in todo:
                pending[pool.submit(_worker_task, path, sub, outdir, options, rate)] = path
            _restore_env(saved)
            saved = None
            try:
                while pending:
                    done, _ = cf.wait(pending, timeout=0.2, return_when=cf.FIRST_COMPLETED)
                    bar.update(counter.value)
                    for fut in done:
                        path = pending.pop(fut)
                        try:
                            report(FileResult(*fut.result()))
                        except cf.process.BrokenProcessPool:
                            report(FileResult(path, error=f"{path}: a worker process died "
                                              "(out of memory?)"))
                        except Exception as e:  # noqa: BLE001
                            report(FileResult(path, error=f"{path}: worker failed: "
                                              f"{type(e).__name__}: {e}".splitlines()[0],
                                              detail=traceback.format_exc()))
            except BaseException:
                for fut in pending:
                    fut.cancel()
                raise
    finally:
        if saved is not None:
            _restore_env(saved)


def _restore_env(saved):
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


# --- command line -----------------------------------------------------------------------

def add_arguments(p):
    """The options of ``npsep separate``."""
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="audio files, or folders searched recursively")
    p.add_argument("-o", "--outdir", required=True, metavar="OUTDIR",
                   help="folder for the separated sources (created if needed)")
    p.add_argument("-m", "--model", metavar="MODEL", default=None,
                   help="npsep weights file (.npz) or model name ('npsep models' lists them; "
                   "downloaded once); default: the bundled model")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("-j", "--jobs", type=_positive_int, default=1, metavar="N",
                   help="files processed in parallel by N worker processes (default 1)")
    p.add_argument("--chunk-seconds", type=_non_negative_float, default=DEFAULT_CHUNK_SECONDS,
                   metavar="X", help=f"process in X-second chunks overlapping by half "
                   f"(default {DEFAULT_CHUNK_SECONDS:g}); 0: the whole file at once (exact, "
                   "memory grows with the length)")
    p.add_argument("--glob", action="append", metavar="PATTERN", dest="patterns",
                   help="in folders, take only files matching PATTERN (shell style: * ? "
                   "[seq], case-sensitive, matched from the right of the path relative to the "
                   "folder: '*.wav', 'speech/*.flac'); repeatable. Default: common audio "
                   "extensions")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar and no line per written file")


def _positive_int(s):
    import argparse
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {s!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {v}")
    return v


def _non_negative_float(s):
    import argparse
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {s!r}") from None
    if not np.isfinite(v) or v < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or a positive number, got {s}")
    if 0 < v < MIN_CHUNK_SECONDS:
        raise argparse.ArgumentTypeError(f"must be 0 (whole file) or at least "
                                         f"{MIN_CHUNK_SECONDS}, got {s}")
    return v


def run(args):
    """``npsep separate``: exit status 0 if every input was separated, else 1."""
    debug = getattr(args, "debug", False)

    def on_result(r):
        if r.ok:
            if not args.quiet:
                print(f"{r.input} -> {', '.join(r.outputs)}", flush=True)
        else:
            if debug and r.detail:
                print(r.detail.rstrip(), file=sys.stderr)
            print(f"npsep separate: error: {r.error}", file=sys.stderr, flush=True)

    results = separate_files(args.inputs, args.outdir, args.model, jobs=args.jobs,
                             patterns=args.patterns, overwrite=args.overwrite,
                             chunk_seconds=args.chunk_seconds,
                             show_progress=False if args.quiet else None, on_result=on_result)
    failed = sum(not r.ok for r in results)
    if failed and len(results) > 1:
        print(f"npsep separate: {failed} of {len(results)} inputs failed", file=sys.stderr)
    return 1 if failed else 0
