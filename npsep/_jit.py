"""Numba compile settings, kept in one place.

Every kernel in :mod:`npsep.kernels` is compiled with one of the decorators below,
so that changing a flag (caching, fastmath, parallelism) is one edit.

* ``cache=True``: compiled machine code is written to
  ``npsep.paths.cache_folder("numba")`` (``$NUMBA_CACHE_DIR`` when set), never inside the
  installed package, so a second process does not recompile and uninstalling or reinstalling
  npsep leaves nothing behind. If that folder cannot be written, kernels are compiled in
  memory on every run, after one notice on stderr. A damaged cache entry (a truncated or
  overwritten file) is discarded and the kernel recompiled. The first compilation in a
  process prints one line on stderr (it takes tens of seconds; ``npsep warmup`` does it ahead).
  Loading from the cache skips Numba's set-up for compiling (see :class:`_TolerantCache`).
* ``error_model="numpy"``: division by zero gives inf/nan like NumPy instead of
  raising, so the kernels need no Python-level exception checks.
* ``fastmath`` is off everywhere except :data:`sum_jit`, which allows only
  re-association (``reassoc``) so that float64 sums can use SIMD lanes. It is used
  for the GlobLN statistics alone; re-associating a float64 sum of float32 values
  moves it by ~1e-16 relative, and ``tests/test_kernels.py`` checks those sums
  against NumPy to 1e-9. Nothing computed in float32 is re-associated.
* Parallel kernels (:func:`pjit`) are compiled twice, with ``prange`` as threads and
  as a plain loop, and run serially when the work is small: a parallel region costs
  tens of microseconds to start, far more when the machine is busy, and on a 2-core
  machine a tiny model ran 5-100x slower with two threads than with one.
* Numba's threads come from OpenMP (``omp``) when it is available, else TBB, else
  ``workqueue``, unless ``NUMBA_THREADING_LAYER`` says otherwise. Between two kernels
  OpenMP's workers spin for a moment instead of sleeping, so a parallel region starts in
  microseconds (``workqueue`` took ~0.5 ms per region here, longer than many kernels run).
  Spinning is only harmless because nothing else competes for the cores during a forward
  pass: the matrix products run on these same threads with a single-threaded BLAS
  (:mod:`npsep.kernels.gemm`, :func:`npsep.threads.blas_pinned`).
"""
import contextlib
import functools
import os
import sys
import tempfile
import types

from . import paths

import numba
from numba.core.caching import FunctionCache
from numba.core.runtime import rtsys

# Numba reads NUMBA_CACHE_DIR at import and again whenever a NUMBA_ variable changes: the
# folder is set in the environment (where worker processes inherit it) and in Numba's
# config (Numba may have been imported first), before any kernel is decorated.
os.environ.setdefault("NUMBA_CACHE_DIR", os.fspath(paths.cache_folder("numba")))
numba.config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]

if "NUMBA_THREADING_LAYER" not in os.environ and "NUMBA_THREADING_LAYER_PRIORITY" not in os.environ:
    numba.config.THREADING_LAYER_PRIORITY = ["omp", "tbb", "workqueue"]


def cache_writable(folder):
    """``None`` if compiled kernels can be stored in ``folder`` (created if needed), else why not."""
    try:
        os.makedirs(folder, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as e:
        return e.strerror or str(e)
    return None


_cache_problem = cache_writable(os.environ["NUMBA_CACHE_DIR"])
if _cache_problem is not None:
    print(f"npsep: note: cannot store compiled kernels in {os.environ['NUMBA_CACHE_DIR']} "
          f"({_cache_problem}); compiling them in memory for this run (set NPSEP_HOME to a "
          "writable folder to keep them)", file=sys.stderr)

_compile_notice = {"shown": False}


def cache_location():
    """Where compiled kernels are stored, or why they are not."""
    if _cache_problem is None:
        return os.environ["NUMBA_CACHE_DIR"]
    return f"none, {os.environ['NUMBA_CACHE_DIR']}: {_cache_problem}"


def compile_notice(show):
    """Print (``True``, the default) or not the one-line notice of the first compilation."""
    _compile_notice["shown"] = not show


class _TolerantCache(FunctionCache):
    """Numba's on-disk cache, except that a miss announces the first compilation of the
    process on stderr, an entry that cannot be loaded is discarded (a miss), and loading
    machine code does not first import everything Numba could compile with.

    Numba's own ``load_overload`` begins with ``target_context.refresh()``: the import of
    every implementation Numba lowers Python and NumPy with (strings, lists, sets, random,
    linalg...) and their registration. Code loaded from the cache is already machine code: it
    needs Numba's runtime (``rtsys``, which allocates and frees the arrays' records), which is
    all this load sets up; a compilation, after a miss, refreshes the context itself. Loading
    the 12 kernels of a warm ``npsep separate`` of a 4 s file took 0.24 s with the refresh and
    0.10 s without (bundled model, one thread, load average 3)."""

    def load_overload(self, sig, target_context):
        try:
            rtsys.initialize(target_context)
            with self._guard_against_spurious_io_errors():
                result = self._load_overload(sig, target_context)
        except Exception:  # noqa: BLE001 - any unreadable entry: truncated, random, foreign
            self.flush()
            result = None
        if result is None and not _compile_notice["shown"]:
            _compile_notice["shown"] = True
            print("npsep: compiling the kernels for this machine (first run only, about "
                  "20 s; 'npsep warmup' does it ahead)", file=sys.stderr, flush=True)
        return result


def _njit(**flags):
    """``numba.njit`` with npsep's flags and, if the cache folder is writable, its cache."""
    def decorate(func):
        dispatcher = numba.njit(error_model="numpy", nogil=True, **flags)(func)
        if _cache_problem is None:
            dispatcher._cache = _TolerantCache(dispatcher.py_func)
        return dispatcher
    return decorate


_every_build = {"on": False}


@contextlib.contextmanager
def every_build():
    """Inside this block, a parallel kernel (:func:`pjit`) also compiles, or loads from the
    cache, the build it does not run, for the same argument types: one forward pass on a
    short input then readies every kernel that inputs of any length, at any thread count, run."""
    before = _every_build["on"]
    _every_build["on"] = True
    try:
        yield
    finally:
        _every_build["on"] = before


PARALLEL_MIN_WORK = 1 << 16
"""Elements in a kernel's first array below which it runs on one thread."""

jit = _njit(fastmath=False)
"""Decorator for a serial kernel."""

sum_jit = _njit(fastmath={"reassoc"})
"""Decorator for a float64 reduction that may be re-associated (vectorised)."""


def pjit(func):
    """Decorator for a kernel whose outer loop is a ``numba.prange`` over channels.

    Returns a function that calls the multi-threaded build when its first argument
    holds at least :data:`PARALLEL_MIN_WORK` elements and more than one thread is
    allowed, and the single-threaded build otherwise. (The serial build is compiled
    from a twin of ``func`` with its own name, so the two never share a cache entry.)
    """
    parallel = _njit(parallel=True, fastmath=False)(func)
    twin = types.FunctionType(func.__code__, func.__globals__, func.__name__, func.__defaults__, func.__closure__)
    twin.__qualname__ = func.__qualname__ + "_serial"
    serial = _njit(fastmath=False)(twin)

    @functools.wraps(func)
    def kernel(*args):
        run, other = (parallel, serial) if args[0].size >= PARALLEL_MIN_WORK and numba.get_num_threads() > 1 \
            else (serial, parallel)
        if _every_build["on"]:
            other.compile(tuple(map(other.typeof_pyval, args)))
        return run(*args)

    kernel.parallel, kernel.serial = parallel, serial
    return kernel
