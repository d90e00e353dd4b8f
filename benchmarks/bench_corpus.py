#!/usr/bin/env python
"""A corpus of short files through ``npsep separate``: ``--jobs 1``, ``--jobs 2``, and ``--dask``
with 1 and 2 local workers, in files per second and times real time, and the cost of one Dask task.

1. **Whole command.** Each case is a fresh ``python -m npsep.cli separate CORPUS -o OUT -q``
   process timed wall-clock from start to exit, so it includes what a user waits for:
   imports, loading the model, starting the worker processes (and, with ``--dask``, the
   scheduler and its workers on 127.0.0.1). The kernels are compiled once before timing.
2. **Per task.** In this process, a ``LocalCluster`` of one worker (all cores' threads, as
   ``--jobs 1``) is started, then ``separate_files(client=...)`` runs on the corpus; the
   overhead per task is the time between the first and the last result minus the time the
   tasks in between spent separating, per task: scheduling, moving arguments and results,
   the manifest line. The same is measured for the serial path (``separate_files`` without
   a client), and the round trip of an empty task.

    python benchmarks/bench_corpus.py                     # bundled model, 40 files of 2 s
    python benchmarks/bench_corpus.py --files 80 --seconds 4 MODEL.npz

Needs the ``dask`` extra. Writes ``corpus.json`` in ``--out`` (default benchmarks/results).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CASES = {"--jobs 1": ["--jobs", "1"], "--jobs 2": ["--jobs", "2"],
         "--dask, 1 worker": ["--jobs", "1", "--dask"], "--dask, 2 workers": ["--jobs", "2", "--dask"]}


def write_corpus(folder, count, seconds, rate):
    """``count`` files of ``seconds`` each: tones and noise (the cost does not depend on them)."""
    import soundfile
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    for i in range(count):
        x = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 1500) * t) + 0.05 * rng.standard_normal(t.size)
        soundfile.write(folder / f"f{i:03d}.wav", x.astype(np.float32), rate, subtype="PCM_16")
    return folder


def command_seconds(args, corpus, out, model):
    """Wall-clock seconds of one ``npsep separate`` process."""
    cmd = [sys.executable, "-m", "npsep.cli", "separate", str(corpus), "-o", str(out), "-q", *args]
    if model:
        cmd += ["--model", model]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t0 = time.perf_counter()
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - t0
    if run.returncode != 0:
        sys.exit(f"failed ({run.returncode}): {' '.join(cmd)}\n{run.stderr.strip()}")
    return elapsed


def overhead_per_task(corpus, out, model, client):
    """``(wall seconds, overhead seconds per file)`` of ``separate_files`` on ``corpus``.

    The overhead is taken between the first and the last result, so that one-time costs
    (loading the model, the worker loading it too) stay out: with one worker the files go
    one after the other, and what separates two results besides separating is overhead.
    """
    from npsep import separate_files
    finished = []
    t0 = time.perf_counter()
    results = separate_files([corpus], out, model, client=client, show_progress=False,
                             on_result=lambda r: finished.append((time.perf_counter(), r)))
    wall = time.perf_counter() - t0
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    between = finished[-1][0] - finished[0][0]
    return wall, (between - sum(r.seconds for _, r in finished[1:])) / (len(finished) - 1)


def empty_task_round_trip(client, count=200):
    """Seconds per task for ``count`` tasks that do nothing, submitted at once."""
    from distributed import as_completed
    t0 = time.perf_counter()
    for fut in as_completed([client.submit(int, i, pure=False) for i in range(count)]):
        fut.result()
    return (time.perf_counter() - t0) / count


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", help="npsep weights file; default: the bundled model")
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each file")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import npsep
    from npsep.cluster import connect

    model = npsep.load(args.model)
    model.warmup()  # compile now (into the cache every process below reads)
    audio_seconds = args.files * args.seconds
    report = {"files": args.files, "seconds_per_file": args.seconds, "cores": os.cpu_count(),
              "load_average_before": os.getloadavg(), "commands": {}}
    print(f"{args.files} files of {args.seconds:g} s ({audio_seconds:g} s of audio), "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"{'case':20s} {'wall s':>8s} {'files/s':>8s} {'x real time':>12s}")
    with tempfile.TemporaryDirectory(prefix="npsep-bench-corpus-") as tmp:
        tmp = Path(tmp)
        corpus = write_corpus(tmp / "in", args.files, args.seconds, int(model.sample_rate))
        for i, (name, case) in enumerate(CASES.items()):
            wall = command_seconds(case, corpus, tmp / f"out{i}", args.model)
            report["commands"][name] = {"wall_seconds": wall, "files_per_second": args.files / wall,
                                        "times_real_time": audio_seconds / wall}
            print(f"{name:20s} {wall:8.2f} {args.files / wall:8.2f} {audio_seconds / wall:12.1f}")

        serial_wall, serial_overhead = overhead_per_task(corpus, tmp / "serial", args.model, None)
        with connect(None, 1) as client:
            dask_wall, dask_overhead = overhead_per_task(corpus, tmp / "dask", args.model, client)
            empty = empty_task_round_trip(client)
    report["per_task"] = {"serial_wall_seconds": serial_wall,
                          "serial_overhead_seconds_per_file": serial_overhead,
                          "dask_1_worker_wall_seconds": dask_wall,
                          "dask_overhead_seconds_per_task": dask_overhead,
                          "empty_task_round_trip_seconds": empty}
    report["load_average_after"] = os.getloadavg()
    print(f"in one process, cluster already running: serial {serial_wall:.2f} s "
          f"({1000 * serial_overhead:.1f} ms per file besides separating), Dask 1 worker "
          f"{dask_wall:.2f} s ({1000 * dask_overhead:.1f} ms per task); an empty task: "
          f"{1000 * empty:.2f} ms")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "corpus.json"), "w") as f:
        json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
