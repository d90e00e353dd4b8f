"""Run npsep on hostile or damaged input in child processes with memory, CPU and wall-clock limits.

For tests: one runaway case (gigabytes, an endless loop, a blocking read) must fail
its own test, not take the test run down with it.

* :func:`run_limited` runs a command under ``setrlimit`` (address space, CPU seconds)
  and a wall-clock timeout; :func:`npsep_argv` is the ``npsep`` command line.
* :func:`assert_one_line_error`: non-zero exit, exactly one line on stderr, no traceback.
* :func:`mutate` damages a file's bytes reproducibly from a seed; :func:`run_batch`
  runs many mutated files through a reader inside one limited child (this file run
  as a script) and returns one outcome per case.
* :func:`zip_member_patched` and :func:`deflate_zeros` build zips whose directory
  lies or whose entries decompress to far more than they take.
"""
import io
import json
import os
import resource
import signal
import struct
import subprocess
import sys
import tempfile
import traceback
import zipfile
import zlib

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GIB = 2 ** 30


def npsep_argv(*args):
    """The command line of ``npsep ARGS`` run from the repository (no installed npsep needed)."""
    return [sys.executable, "-m", "npsep.cli", *map(str, args)]


def run_limited(argv, *, mem_bytes=GIB, seconds=10, cwd=ROOT, wall_seconds=None):
    """Run ``argv`` with at most ``mem_bytes`` of address space and ``seconds`` of CPU time.

    Returns the ``subprocess.CompletedProcess`` (text output). A child still running
    after ``wall_seconds`` (default: room for a loaded machine, ``4 * seconds + 20``) is
    killed and ``subprocess.TimeoutExpired`` raised: a hang fails the caller.
    """
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
    env = dict(os.environ, PYTHONPATH=ROOT, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               NUMBA_NUM_THREADS="1")
    return subprocess.run(argv, cwd=cwd, env=env, preexec_fn=limit, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL,
                          timeout=wall_seconds or 4 * seconds + 20)


def assert_one_line_error(result, match=None):
    """A refusal as users must see it: exit status 1, one line on stderr, no traceback."""
    lines = result.stderr.splitlines()
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    if match:
        assert match in lines[0], lines[0]
    return lines[0]


# --- damaged files ----------------------------------------------------------------------

def mutate(data, seed):
    """A reproducible damage of ``data`` (a zip's bytes), by ``seed % 6``: bit flips anywhere,
    bit flips in the zip directory (the last 1 KiB), a run of random bytes, a truncation;
    or, the zip rewritten intact around a damaged entry (so past the CRC checks), either
    the structure entry (``data.pkl`` / ``__config__.npy``) or the first bytes of any entry
    (``.npy`` headers)."""
    rng = np.random.default_rng(seed)
    kind = seed % 6
    if kind >= 4:
        return _entry_damaged(data, rng, structure_only=kind == 4)
    return _bytes_damaged(data, rng, kind)


def _bytes_damaged(data, rng, kind, low=None):
    out = bytearray(data)
    if kind == 3 or not out:
        return bytes(out[:rng.integers(0, len(out) + 1)])
    if kind == 2:
        start = int(rng.integers(0, len(out)))
        run = rng.integers(0, 256, size=int(rng.integers(1, 17)), dtype=np.uint8).tobytes()
        out[start:start + len(run)] = run
        return bytes(out)
    low = max(0, len(out) - 1024) if kind == 1 else 0
    for _ in range(int(rng.integers(1, 9))):
        out[rng.integers(low, len(out))] ^= 1 << int(rng.integers(0, 8))
    return bytes(out)


def _entry_damaged(data, rng, structure_only):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        entries = [(info, z.read(info)) for info in z.infolist()]
    names = [info.filename for info, _ in entries]
    structure = [i for i, n in enumerate(names) if n.endswith(("data.pkl", "__config__.npy"))]
    target = structure[0] if structure_only and structure else int(rng.integers(0, len(entries)))
    info, content = entries[target]
    head = len(content) if structure_only else min(len(content), 256)
    damaged = _bytes_damaged(content[:head], rng, int(rng.choice([0, 2, 3]))) + content[head:]
    entries[target] = (info, damaged)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for info, content in entries:
            z.writestr(info.filename, content)
    return out.getvalue()


def zip_member_patched(data, name, *, method=None, file_size=None, flag_bits=None):
    """``data`` (a zip's bytes) with the local header and directory entry of ``name`` changed:
    compression ``method``, uncompressed ``file_size``, ``flag_bits`` (CRCs left as they are)."""
    out = bytearray(data)
    encoded = name.encode()
    headers = ((b"PK\x03\x04", 26, 6), (b"PK\x01\x02", 28, 8))  # signature, name length at, flags at
    for signature, name_length_at, flags_at in headers:
        at = out.find(signature)
        while at >= 0:
            (n,) = struct.unpack_from("<H", out, at + name_length_at)
            name_at = at + name_length_at + (4 if signature == b"PK\x03\x04" else 18)
            if bytes(out[name_at:name_at + n]) == encoded:
                if flag_bits is not None:
                    struct.pack_into("<H", out, at + flags_at, flag_bits)
                if method is not None:
                    struct.pack_into("<H", out, at + flags_at + 2, method)
                if file_size is not None:
                    struct.pack_into("<I", out, at + flags_at + 16, file_size)
            at = out.find(signature, at + 4)
    return bytes(out)


def deflate_zeros(size, prefix=b"", chunk=2 ** 26):
    """A raw deflate stream of ``prefix`` then ``size`` zero bytes (``size`` a multiple of
    ``chunk``), one compressed chunk repeated: megabytes that inflate to gigabytes, quickly."""
    def flushed(data):  # byte-aligned blocks that refer to nothing before them
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        return compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)
    return (flushed(prefix) + flushed(bytes(chunk)) * (size // chunk)
            + zlib.compressobj(9, zlib.DEFLATED, -15).flush())


# --- many cases in one limited child ------------------------------------------------------

READERS = {
    "convert": "weights_convert:convert",  # reader(src, dst)
    "weights": "npsep.weights:load",  # reader(path)
}


def run_batch(reader, source, seeds, *, mem_bytes=GIB, seconds_per_case=10, cpu_seconds=170):
    """Run ``mutate(source bytes, seed)`` for each seed through ``reader`` (a key of
    :data:`READERS`) in one child limited to ``mem_bytes`` and ``cpu_seconds``, each case
    stopped after ``seconds_per_case``.

    Returns the list of outcomes, one dict per seed: ``{"seed", "outcome", "message"}``
    with outcome ``"ok"`` (read), ``"error"`` (a one-line NpsepError), ``"timeout"`` or
    ``"crash"`` (any other exception; ``message`` holds the traceback). A child that dies
    (memory or CPU limit) raises ``AssertionError`` naming the case it was running.
    """
    argv = [sys.executable, os.path.abspath(__file__), reader, os.fspath(source),
            str(seconds_per_case), *map(str, seeds)]
    result = run_limited(argv, mem_bytes=mem_bytes, seconds=cpu_seconds,
                         wall_seconds=3 * cpu_seconds)
    outcomes = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    started = [line.split()[1] for line in result.stdout.splitlines() if line.startswith("start ")]
    assert result.returncode == 0 and len(outcomes) == len(seeds), (
        f"the {reader} batch died (status {result.returncode}) on seed {started[-1:]} of "
        f"{source}: {result.stderr[-1500:]}")
    return outcomes


class _CaseTimeout(Exception):
    pass


def _run_cases(reader_name, source, seconds, seeds):
    """The child side of :func:`run_batch`: print ``start SEED`` then one JSON line per case."""
    import importlib
    from npsep.errors import NpsepError
    module, func = READERS[reader_name].split(":")
    reader = getattr(importlib.import_module(module), func)
    data = open(source, "rb").read()
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(_CaseTimeout()))
    with tempfile.TemporaryDirectory() as folder:
        for seed in seeds:
            print("start", seed, flush=True)
            path = os.path.join(folder, f"case{os.path.splitext(source)[1]}")
            with open(path, "wb") as f:
                f.write(mutate(data, seed))
            args = (path, os.path.join(folder, "out.npz")) if reader_name == "convert" else (path,)
            outcome = {"seed": seed, "outcome": "ok", "message": ""}
            signal.setitimer(signal.ITIMER_REAL, seconds)
            try:
                reader(*args)
            except NpsepError as e:
                outcome.update(outcome="error", message=str(e))
            except _CaseTimeout:
                outcome.update(outcome="timeout")
            except Exception:
                outcome.update(outcome="crash", message=traceback.format_exc())
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            for leftover in os.listdir(folder):
                os.unlink(os.path.join(folder, leftover))
            print(json.dumps(outcome), flush=True)


if __name__ == "__main__":
    sys.path.insert(0, ROOT)
    _run_cases(sys.argv[1], sys.argv[2], float(sys.argv[3]), [int(s) for s in sys.argv[4:]])
