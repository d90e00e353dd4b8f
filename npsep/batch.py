"""Many files: finding them in folders, separating each (optionally in worker processes).

:func:`separate_files` is the batch behind ``npsep separate``: it probes every input
first (early one-line errors, output collisions, the total for the progress report),
compiles the kernels once before any timing starts or any worker is started (for more
than one file; one file loads, or compiles, just what it runs), then separates file after
file, or in ``jobs`` worker processes that load the compiled kernels from the cache. One
failing input never stops the others.
"""
import os
import re
import time
import traceback

from . import audio
from .errors import AudioError, NpsepError, SeparationError
from .outputs import AUDIO_EXTENSIONS, SOURCE_SUFFIX, check_outdir, output_paths, split_name
from .progress import Progress


def collect_inputs(paths, patterns=None, outdir=None):
    """Expand files and folders into ``(items, errors)``.

    ``items``: ``[(file, subfolder), ...]`` where ``subfolder`` is the file's folder
    relative to the folder it was found in ('' for files given directly). ``errors``:
    ``[(path, message), ...]`` for paths that do not exist or folders with nothing to take.

    Folders are walked recursively (sorted, symbolic links to folders not followed,
    hidden files and folders skipped, the output folder skipped, and the outputs of
    earlier separations skipped: see :func:`is_earlier_output`). A file in a folder is
    taken if its path relative to that folder matches one of ``patterns`` (see
    :func:`pattern_regex`), or, with no patterns, if its extension is one of
    :data:`npsep.outputs.AUDIO_EXTENSIONS`. Files named directly are always taken.
    """
    items, errors = [], []
    out_real = os.path.realpath(outdir) if outdir is not None else None
    regexes = [pattern_regex(p) for p in patterns or ()]
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p):
            found = []
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                                 and os.path.realpath(os.path.join(root, d)) != out_real)
                rel_dir = os.path.relpath(root, p)
                rel_dir = "" if rel_dir == "." else rel_dir
                names = set(files)
                for name in sorted(files):
                    if name.startswith(".") or is_earlier_output(name, names):
                        continue
                    rel = os.path.join(rel_dir, name).replace(os.sep, "/")
                    if _matches(name, rel, regexes):
                        found.append((os.path.join(root, name), rel_dir))
            if not found:
                what = " or ".join(patterns) if patterns else "audio files"
                errors.append((p, f"{p}: no files matching {what} in this folder"))
            items.extend(found)
        elif p == "-" or os.path.lexists(p):
            items.append((p, ""))
        else:
            errors.append((p, f"{p}: no such file or folder"))
    return items, errors


def is_earlier_output(name, names):
    """Is ``name`` one of the sources npsep wrote for some input, i.e. ``<stem>_s<k><ext>``
    with ``<stem>_s1<ext>`` and ``<stem>_s2<ext>`` both among ``names`` (its folder)?"""
    stem, ext = split_name(name)
    m = re.fullmatch(rf"(.+){SOURCE_SUFFIX}(\d+)", stem)
    if not m:
        return False
    return all(f"{m.group(1)}{SOURCE_SUFFIX}{k}{ext}" in names for k in (1, 2))


def pattern_regex(pattern):
    """A ``--glob`` pattern as a compiled regular expression on ``/``-separated relative paths.

    Shell style and case-sensitive: ``*`` matches within one folder name, ``?`` one
    character, ``[seq]`` / ``[!seq]`` one of (not one of) ``seq``, and ``**`` any number of
    folders, none included (``**/*.wav`` takes top-level files too). A pattern is matched
    against the end of the path: ``*.wav`` tests the file name at any depth,
    ``deep/*.wav`` the file name and its folder.
    """
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 2:]:
            j = pattern.index("]", i + 2)
            body = pattern[i + 1:j]
            body = "^" + body[1:] if body.startswith("!") else body
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = j + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("(?:^|.*/)" + "".join(out) + "$")


def _matches(name, rel, regexes):
    if not regexes:
        return os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS
    return any(r.match(rel) for r in regexes)


class FileResult:
    """Outcome for one input: ``outputs`` on success (``skipped`` if they existed), else
    ``error`` (one line). ``audio_seconds``: its length; ``seconds``: the time it took;
    ``note``: what the user should know about the result (e.g. a band the model ignores)."""

    def __init__(self, input, outputs=None, error=None, detail=None, seconds=0.0,
                 audio_seconds=0.0, skipped=False, note=None):
        self.input, self.outputs, self.error = input, outputs or [], error
        self.detail, self.seconds, self.audio_seconds = detail, seconds, audio_seconds
        self.skipped, self.note = skipped, note

    @property
    def ok(self):
        """Was the input separated, or skipped (no error)?"""
        return self.error is None

    def __repr__(self):
        return f"FileResult({self.input!r}, outputs={self.outputs!r}, error={self.error!r})"


def band_note(rate, model_rate):
    """What is lost when a ``rate`` Hz input goes through a ``model_rate`` Hz model, or ``None``."""
    if rate <= model_rate:
        return None
    return (f"content above {model_rate / 2000:g} kHz is not separated: the model works at "
            f"{model_rate} Hz and the input is at {rate} Hz")


def separate_one(input, subdir, outdir, model, options, progress, audio_seconds, rate):
    """Separate ``input`` into ``outdir/subdir`` with the loaded ``model``: its :class:`FileResult`
    (every failure caught and described in one line)."""
    from .files import separate_file
    t0 = time.monotonic()
    try:
        outs = separate_file(input, os.path.join(outdir, subdir) if subdir else outdir, model,
                             progress=progress, **options)
        return FileResult(input, outs, seconds=time.monotonic() - t0, audio_seconds=audio_seconds,
                          note=band_note(rate, int(model.sample_rate)))
    except NpsepError as e:
        return FileResult(input, error=str(e), detail=traceback.format_exc())
    except MemoryError:
        return FileResult(input, error=f"{input}: out of memory", detail=traceback.format_exc())
    except Exception as e:  # noqa: BLE001 - one bad file must not stop the others
        return FileResult(input, error=f"{input}: internal error: {type(e).__name__}: {e}"
                          .splitlines()[0], detail=traceback.format_exc())


def separate_files(inputs, outdir, model=None, *, jobs=1, patterns=None, overwrite=False,
                   skip_existing=False, fmt=None, subtype=None, compression=None,
                   chunk_seconds=None, overlap=None, show_progress=None, on_result=None,
                   progress_stream=None, client=None):
    """Separate files and folders (see :func:`collect_inputs`) into ``outdir``.

    ``jobs > 1`` runs that many worker processes (each loads the model once and uses
    ``cpu_count // jobs`` threads); ``model`` must then be ``None`` or a path. With
    ``skip_existing``, an input whose outputs all exist is skipped (a result with
    ``skipped``). A failure on one input does not stop the others: every input gets a
    :class:`FileResult` (passed to ``on_result`` as it completes) and the list of all
    results is returned. Raises only for problems that concern every file: the model
    cannot be loaded, ``outdir`` cannot be a writable folder. Nothing is created in
    ``outdir`` for inputs that are refused.

    ``show_progress``: ``None`` for a bar on ``progress_stream`` (default stderr) when it
    is a terminal and a plain line every 30 s otherwise, ``False`` never.

    ``client``: a Dask ``distributed.Client``; then each file is one task on its cluster
    (see :mod:`npsep.cluster`; ``jobs`` is not used, ``model`` must be ``None``, a path or
    a model name, and ``outdir`` a folder every worker sees), and every result is appended
    to the manifest ``outdir/npsep-manifest.jsonl`` (see :mod:`npsep.manifest`) as it
    arrives. With ``skip_existing``, running the same call again after an interruption
    separates only the inputs that were not finished.
    """
    from .chunking import DEFAULT_CHUNK_SECONDS, DEFAULT_OVERLAP, chunk_lengths
    from .model import resolve_model
    chunk_seconds = DEFAULT_CHUNK_SECONDS if chunk_seconds is None else chunk_seconds
    overlap = DEFAULT_OVERLAP if overlap is None else overlap
    jobs = int(jobs)
    if jobs < 1:
        raise SeparationError(f"--jobs must be at least 1, got {jobs}")
    if overwrite and skip_existing:
        raise SeparationError("--overwrite and --skip-existing exclude each other")
    outdir = os.fspath(outdir)
    by_path = model is None or isinstance(model, (str, os.PathLike))
    if (jobs > 1 or client is not None) and not by_path:
        raise TypeError("with jobs > 1 or a client, model must be None (bundled) or a weights "
                        "file path")
    cluster = None
    if client is not None:
        if outdir == "-":
            raise SeparationError("with a Dask cluster the outputs go to a folder, not to "
                                  "standard output (-o -)")
        cluster = load_cluster_module()
    loaded = resolve_model(model)
    if outdir != "-":
        check_outdir(outdir)
    S = int(loaded.num_sources)
    chunk_lengths(int(loaded.sample_rate), chunk_seconds, overlap)  # validate once, up front
    options = dict(overwrite=overwrite, chunk_seconds=chunk_seconds, overlap=overlap, fmt=fmt,
                   subtype=subtype, compression=compression)

    items, errors = collect_inputs(inputs, patterns, outdir)
    results = []

    def report(r):
        results.append(r)
        if cluster is not None:
            from . import manifest
            manifest.append(outdir, r)
        if on_result:
            on_result(r)

    for p, msg in errors:
        report(FileResult(p, error=msg))

    # probe everything first: early errors, output collisions, total work for the progress
    todo, seen, new_outputs = [], {}, {}
    for path, sub in items:
        try:
            info = audio.probe(audio.stdin_file() if path == "-" else path)
            if outdir == "-":
                todo.append((path, sub, info.frames / info.samplerate, info.samplerate))
                continue
            outs = output_paths(path, info, os.path.join(outdir, sub), S, fmt, subtype)
            key = os.path.normcase(os.path.abspath(outs[0]))
            if key in seen:
                raise AudioError(f"{path}: its outputs ({os.path.basename(outs[0])}, ...) "
                                 f"would overwrite those of {seen[key]}")
            seen[key] = path
            if skip_existing and all(os.path.lexists(o) for o in outs):
                report(FileResult(path, outs, skipped=True,
                                  audio_seconds=info.frames / info.samplerate))
                continue
            if not any(os.path.lexists(o) for o in outs):
                new_outputs[path] = outs
            todo.append((path, sub, info.frames / info.samplerate, info.samplerate))
        except NpsepError as e:
            report(FileResult(path, error=str(e), detail=traceback.format_exc()))
    if not todo:
        return results

    warm = getattr(loaded, "warmup", None)
    if warm is not None and (len(todo) > 1 or cluster is not None):
        warm()  # compile (or load) the kernels now: not in the ETA, not in every worker
    total_seconds = sum(t[2] for t in todo)
    bar = Progress(total_seconds, label="separating", stream=progress_stream,
                   enabled=None if show_progress is None else bool(show_progress),
                   log_interval=None if show_progress is False else 30.0)

    def report_clear(r):
        bar.clear()
        report(r)

    try:
        if cluster is not None:
            model_ref = None if model is None else os.fspath(model)
            cluster.run(client, todo, outdir, model_ref, options, new_outputs, bar, report_clear)
        elif jobs == 1 or len(todo) <= 1:
            done_seconds = 0.0
            for path, sub, seconds, rate in todo:
                def progress(frames, base=done_seconds, rate=rate):
                    bar.update(base + frames / rate)
                report_clear(separate_one(path, sub, outdir, loaded, options, progress, seconds,
                                          rate))
                done_seconds += seconds
                bar.update(done_seconds)
        else:
            model_path = None if model is None else os.fspath(model)
            _run_pool(todo, outdir, model_path, options, min(jobs, len(todo)), bar, report_clear)
    finally:
        bar.close()
    return results


def load_cluster_module():
    """:mod:`npsep.cluster`, or :class:`SeparationError` (one line) if Dask is not installed."""
    try:
        from . import cluster
    except ImportError as e:
        if (e.name or "").split(".")[0] not in ("dask", "distributed"):
            raise
        raise SeparationError("--dask needs Dask's distributed scheduler, which is not "
                              "installed: pip install 'npsep[dask]'") from None
    return cluster


# --- worker processes -------------------------------------------------------------------

_WORKER = {}
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
"""Environment variables that set a worker process's thread counts."""


def _worker_init(model_path, counter):
    from .model import resolve_model
    from .outputs import raise_on_termination
    raise_on_termination()
    _WORKER["model"] = resolve_model(model_path)
    _WORKER["counter"] = counter


def _worker_task(path, sub, outdir, options, rate, seconds):
    counter = _WORKER["counter"]
    last = [0]

    def progress(frames):
        with counter.get_lock():
            counter.value += (frames - last[0]) / rate
        last[0] = frames

    r = separate_one(path, sub, outdir, _WORKER["model"], options, progress, seconds, rate)
    return r.input, r.outputs, r.error, r.detail, r.seconds, r.audio_seconds, r.skipped, r.note


def _run_pool(todo, outdir, model_path, options, jobs, bar, report):
    import concurrent.futures as cf  # only for worker processes: not at every start
    import multiprocessing
    ctx = multiprocessing.get_context("spawn")
    counter = ctx.Value("d", 0.0)
    threads = str(max(1, (os.cpu_count() or 1) // jobs))
    saved = {k: os.environ.get(k) for k in THREAD_VARIABLES}
    os.environ.update({k: threads for k in THREAD_VARIABLES})
    pending = {}
    try:
        with cf.ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_worker_init,
                                    initargs=(model_path, counter)) as pool:
            for path, sub, seconds, rate in todo:
                pending[pool.submit(_worker_task, path, sub, outdir, options, rate, seconds)] = path
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
