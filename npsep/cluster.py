"""Separating many files on a Dask cluster: one task per input file.

The only module of npsep that imports Dask (the optional extra ``npsep[dask]``); it is
imported by :func:`npsep.batch.separate_files` only when a Dask client is given, through
:func:`npsep.batch.load_cluster_module`, which turns a missing Dask into one line saying
how to install it.

Each worker loads the model once, when it joins (:class:`ModelOnWorker`, a worker plugin,
also given to workers that replace dead ones), and keeps it for every task it runs. A
task separates one file with :func:`npsep.batch.separate_one` (long files keep streaming
in bounded memory) and writes its outputs all or nothing, so a worker killed mid-file
leaves no file under a final name; the scheduler runs the task again on another worker
(up to Dask's ``distributed.scheduler.allowed-failures`` times, then the file is reported
as failed). A file that fails for its own reasons (bad audio) returns its error as a
result: it is reported once and never retried. Inputs and the output folder must be on a
filesystem every worker sees under the same paths.
"""
import contextlib
import os
import traceback

from distributed import Client, LocalCluster, WorkerPlugin, as_completed, get_worker
from distributed.scheduler import KilledWorker

from .batch import THREAD_VARIABLES, FileResult, separate_one
from .errors import SeparationError

PLUGIN_PREFIX = "npsep-model:"


@contextlib.contextmanager
def connect(address=None, workers=None):
    """A Dask client: of the scheduler at ``address`` (``tcp://host:8786``), or, without one,
    of a new ``LocalCluster`` on 127.0.0.1 with ``workers`` worker processes (default: one
    per core), each running one task at a time on ``cores // workers`` threads. The local
    cluster is shut down on leaving the ``with`` block."""
    if address:
        try:
            client = Client(address, timeout="20s")
        except (OSError, TimeoutError) as e:
            raise SeparationError(f"cannot connect to the Dask scheduler at {address}: "
                                  f"{e}".splitlines()[0]) from None
        with client:
            yield client
        return
    cores = os.cpu_count() or 1
    workers = workers or cores
    threads = str(max(1, cores // workers))
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=":0", silence_logs=50,
                      env={k: threads for k in THREAD_VARIABLES}) as cluster, \
            Client(cluster) as client:
        yield client


def dashboard_link(client):
    """The URL of the cluster's dashboard, or ``None`` if it has none (no ``bokeh``)."""
    try:
        has_dashboard = "dashboard" in client.scheduler_info().get("services", {})
    except Exception:  # noqa: BLE001 - no link is not an error
        return None
    return client.dashboard_link if has_dashboard else None


class ModelOnWorker(WorkerPlugin):
    """Loads the model ``model_ref`` (``None``: bundled; a path or a model name) once per
    worker, and its compiled kernels (from Numba's cache when they are there)."""

    def __init__(self, model_ref):
        self.model_ref = model_ref
        self.model = None

    def setup(self, worker):
        from .model import resolve_model
        self.model = resolve_model(self.model_ref)
        warm = getattr(self.model, "warmup", None)
        if warm is not None:
            warm()


def separate_task(plugin_name, path, sub, outdir, options, seconds, rate, new_outputs):
    """One input file, on a worker: the fields of its :class:`FileResult`.

    ``new_outputs``: its outputs if none of them existed when the run started, else ``None``.
    If they all exist now, an earlier attempt of this task wrote them (its worker died after
    claiming them, before its result reached the client): the task is done.
    """
    from .threads import set_num_threads
    if new_outputs and all(os.path.lexists(p) for p in new_outputs):
        return path, new_outputs, None, None, 0.0, seconds, False, None
    worker = get_worker()
    set_num_threads(max(1, (os.cpu_count() or 1) // max(1, worker.state.nthreads)))
    r = separate_one(path, sub, outdir, worker.plugins[plugin_name].model, options, None,
                     seconds, rate)
    return r.input, r.outputs, r.error, r.detail, r.seconds, r.audio_seconds, r.skipped, r.note


def run(client, todo, outdir, model_ref, options, new_outputs, bar, report):
    """Separate ``todo`` (``[(path, subfolder, seconds, rate), ...]``) as one task per file on
    ``client``'s workers, calling ``report(FileResult)`` as tasks finish (in that order).
    ``new_outputs``: ``{path: outputs}`` for the inputs none of whose outputs existed."""
    plugin_name = PLUGIN_PREFIX + repr(model_ref)
    client.register_plugin(ModelOnWorker(model_ref), name=plugin_name)
    pending = {}
    for path, sub, seconds, rate in todo:
        fut = client.submit(separate_task, plugin_name, path, sub, outdir, options, seconds, rate,
                            new_outputs.get(path), pure=False)
        pending[fut] = (path, seconds)
    done_seconds = 0.0
    try:
        for fut in as_completed(list(pending)):
            path, seconds = pending.pop(fut)
            try:
                report(FileResult(*fut.result()))
            except KilledWorker:
                report(FileResult(path, error=f"{path}: every worker that ran it died "
                                  "(out of memory?)"))
            except Exception as e:  # noqa: BLE001 - one lost task must not stop the others
                report(FileResult(path, error=f"{path}: worker failed: {type(e).__name__}: "
                                  f"{e}".splitlines()[0], detail=traceback.format_exc()))
            done_seconds += seconds
            bar.update(done_seconds)
    finally:
        if pending:
            client.cancel(list(pending))
