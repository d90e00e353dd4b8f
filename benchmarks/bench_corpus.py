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
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CASES = {"--jobs 1": ["--jobs", "1"], "--jobs 2": ["--jobs", "2"],
         "--dask, 1 worker": ["--jobs", "1", "--dask"],
         "--dask, 2 workers": ["--jobs", "2", "--dask"]}


def write_corpus(folder, count, seconds, rate):
    """``count`` files of ``seconds`` each: tones and noise (the cost does not depend on them)."""
    import soundfile
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    for i in range(count):
        x = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 1500) * t)
        x = x + 0.05 * rng.standard_normal(t.size)
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
    parser.add_argument("--rounds", type=int, default=3,
                        help="every case once per round, rounds interleaved; medians reported")
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
    walls = {name: [] for name in CASES}
    serial, dask, empty = [], [], []
    with tempfile.TemporaryDirectory(prefix="npsep-bench-corpus-") as tmp:
        tmp = Path(tmp)
        corpus = write_corpus(tmp / "in", args.files, args.seconds, int(model.sample_rate))
        for r in range(args.rounds):
            for i, (name, case) in enumerate(CASES.items()):
                walls[name].append(command_seconds(case, corpus, tmp / f"out{r}-{i}", args.model))
        with connect(None, 1) as client:
            for r in range(args.rounds):
                serial.append(overhead_per_task(corpus, tmp / f"serial{r}", args.model, None))
                dask.append(overhead_per_task(corpus, tmp / f"dask{r}", args.model, client))
                empty.append(empty_task_round_trip(client))
    print(f"{'case':20s} {'wall s':>8s} {'files/s':>8s} {'x real time':>12s}")
    for name, w in walls.items():
        wall = statistics.median(w)
        report["commands"][name] = {"wall_seconds": w, "median_wall_seconds": wall,
                                    "files_per_second": args.files / wall,
                                    "times_real_time": audio_seconds / wall}
        print(f"{name:20s} {wall:8.2f} {args.files / wall:8.2f} {audio_seconds / wall:12.1f}")
    med = {k: [statistics.median(x[j] for x in v) for j in range(2)]
           for k, v in (("serial", serial), ("dask", dask))}
    report["per_task"] = {"serial_runs": serial, "dask_1_worker_runs": dask,
                          "serial_overhead_seconds_per_file": med["serial"][1],
                          "dask_overhead_seconds_per_task": med["dask"][1],
                          "empty_task_round_trip_seconds": statistics.median(empty)}
    report["load_average_after"] = os.getloadavg()
    print(f"in one process, medians: serial {med['serial'][0]:.2f} s "
          f"({1000 * med['serial'][1]:.1f} ms per file besides separating); Dask, 1 worker "
          f"already running: {med['dask'][0]:.2f} s ({1000 * med['dask'][1]:.1f} ms per task "
          f"besides separating); an empty task: {1000 * statistics.median(empty):.2f} ms")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "corpus.json"), "w") as f:
        json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
