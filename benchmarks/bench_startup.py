#!/usr/bin/env python
"""How long ``npsep separate`` takes the first time ever (Numba compiling) and then (cache warm),
and where a warm run's time goes.

Every run is a fresh process, ``python -m npsep separate mixture.wav -o OUT``, on one mono
file at the model's sample rate (a generated 4 s mixture, or ``--input``), timed wall-clock
from start to exit. ``NUMBA_CACHE_DIR`` points at a new, empty folder, so the first run
compiles every kernel it uses and writes them there; the following runs load them from it.
The difference is the one-time compile cost. Then:

* the warm runs: ``--repeats`` (default 5) of each command timed, interleaved, and their
  median: ``python -m npsep`` and, with ``--command``, installed console scripts
  (``--command /path/to/venv/bin/npsep``); with ``--baseline DIR``, the same command run with
  another checkout's ``npsep`` (its own warm cache), interleaved, for A/B comparisons;
* the breakdown of a warm run (medians over ``--repeats`` instrumented runs): interpreter
  start, imports and the rest of Python's work, loading the model, loading each compiled
  kernel from the cache (the first also sets up what Numba needs to load any), the forward
  passes (the warm-up's and the file's), reading and writing the audio, and the
  interpreter's exit;
* ``python -c pass`` and ``python -c "import npsep"``, for the share that is plain start-up.

The runs see the environment without ``PYTHONDONTWRITEBYTECODE``: as in an installed package,
Python's modules are compiled to bytecode once (by the first run) and loaded from it after.

    python benchmarks/bench_startup.py                 # the bundled model, else a random one
    python benchmarks/bench_startup.py improved.npz    # any npsep weights file

The random model, when nothing is bundled: Improved SuDoRM-RF with 8 blocks,
``C_out=256, C_in=512, Q=5, K=21, E=512, S=2``, 8 kHz. Writes ``startup.json`` in ``--out``.
Absolute times depend on the machine's load: the load average is printed with every figure.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
RANDOM_U8 = dict(out_channels=256, in_channels=512, num_blocks=8, upsampling_depth=5,
                 enc_kernel_size=21, enc_num_basis=512, num_sources=2)

PROBE = r"""
import importlib.abc, importlib.machinery, json, sys, time
started = float(sys.argv[1])  # the parent's clock just before it started this process
spans = [("interpreter start", started, time.time())]


def timed(owner, name, label):
    # record each call of owner.name as (label, start, end)
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        t0 = time.time()
        try:
            return original(*args, **kwargs)
        finally:
            spans.append((label(args) if callable(label) else label, t0, time.time()))
    setattr(owner, name, wrapper)


def instrument_jit(m):
    timed(m._TolerantCache, "load_overload", lambda a: "kernel load: " + a[0]._py_func.__qualname__)


def instrument_model(m):
    timed(m, "load", "model load")
    timed(m.Model, "forward", "forward")
    timed(m.Model, "warmup", "warm-up")


def instrument_files(m):
    timed(m, "separate_file", "file: read, chunk, write")


PATCHES = {"npsep._jit": instrument_jit, "npsep.model": instrument_model, "npsep.files": instrument_files}


class Instrument(importlib.abc.MetaPathFinder):
    # instruments a module right after it is imported, so that nothing is imported earlier than usual
    def find_spec(self, name, path, target=None):
        if name not in PATCHES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            PATCHES[name](module)
        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, Instrument())
from npsep import cli
sys.argv[1:] = sys.argv[2:]
status = getattr(cli, "command", cli.main)()  # the program (older versions: main)
spans.append(("end of main", time.time(), time.time()))
sys.stderr.write("\nPROBE " + json.dumps(spans) + "\n")
sys.exit(status)
"""


def random_model(path):
    """A random Improved U8 model, written with npsep's own weights writer (no PyTorch)."""
    from npsep import weights
    config = weights.make_config("improved", RANDOM_U8, sample_rate=8000,
                                 source={"name": "random Improved U8 (benchmarks/bench_startup.py)"})
    weights.save(path, weights.random_tensors("improved", RANDOM_U8, seed=0), config)
    return path


def mixture(path, sample_rate, seconds):
    """Two tones and some noise: any signal does, the cost does not depend on it."""
    import soundfile
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    rng = np.random.default_rng(0)
    x = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 1330 * t) + 0.05 * rng.standard_normal(t.size)
    soundfile.write(path, x.astype(np.float32), sample_rate, subtype="PCM_16")
    return path


def run(cmd, env, folder):
    """Run ``cmd`` in ``folder`` (not the current folder, where ``python -m`` could find another
    npsep than the one on ``PYTHONPATH``); ``(wall seconds, CPU seconds, stderr)``. Exits the
    benchmark if it fails.

    CPU seconds: user + system time of the process and its threads, which a busy machine
    inflates far less than the wall time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=folder)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr.strip()}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return elapsed, cpu, done.stderr


def timed(cmd, env, folder):
    return run(cmd, env, folder)[0]


def breakdown(args, env, folder):
    """One instrumented warm run: ``{phase: seconds}``, ``{kernel: seconds}`` and the total.

    Each moment of the run is given to the innermost call recorded at that moment (a kernel
    loaded inside a forward pass counts as kernel loading, not as the forward pass)."""
    t0 = time.time()
    total, _, stderr = run([sys.executable, "-c", PROBE, repr(t0), *args], env, folder)
    end = t0 + total
    spans = json.loads(stderr.rsplit("PROBE ", 1)[1])
    warmups = [(a, b) for label, a, b in spans if label == "warm-up"]
    for i, (label, a, b) in enumerate(spans):  # a forward pass inside the warm-up is the warm-up's
        if label == "forward" and any(wa <= a and b <= wb for wa, wb in warmups):
            spans[i] = ("forward (warm-up)", a, b)
    main_end = next(a for label, a, _ in spans if label == "end of main")
    spans.append(("interpreter exit", main_end, end))
    edges = sorted({t for _, a, b in spans for t in (a, b)} | {t0, end})
    phases, kernels = {}, {}
    for lo, hi in zip(edges, edges[1:]):
        inside = [(a, label) for label, a, b in spans if a <= lo and hi <= b]
        label = max(inside)[1] if inside else "imports and the rest of Python's work"
        if label.startswith("kernel load: "):
            kernels[label[13:]] = kernels.get(label[13:], 0.0) + hi - lo
            label = "kernel loads"
        phases[label] = phases.get(label, 0.0) + hi - lo
    builds = {}  # kernel -> how many builds (signatures, serial or parallel) were loaded
    for label, _, _ in spans:
        if label.startswith("kernel load: "):
            builds[label[13:]] = builds.get(label[13:], 0) + 1
    kernels = {f"{name} x{n}": kernels.get(name, 0.0) for name, n in builds.items()}
    loads = sum(builds.values())
    return phases, kernels, loads, total


def load_average():
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", nargs="?", default=None,
                   help="npsep weights file (default: the bundled model, else a random Improved U8)")
    p.add_argument("--input", type=Path, default=None,
                   help="audio file to separate (default: a generated mixture at the model's rate)")
    p.add_argument("--seconds", type=float, default=4.0, help="length of the generated file (default 4)")
    p.add_argument("--repeats", type=int, default=5,
                   help="warm runs of each command, and instrumented runs (default 5)")
    p.add_argument("--command", action="append", default=[], metavar="EXE",
                   help="also time this npsep executable (an installed console script), "
                   "interleaved with python -m npsep; repeatable")
    p.add_argument("--baseline", type=Path, default=None, metavar="DIR",
                   help="also time python -m npsep with the npsep of this other checkout, interleaved")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results",
                   help="folder for startup.json (default benchmarks/results/)")
    args = p.parse_args(argv)

    import npsep
    with tempfile.TemporaryDirectory(prefix="npsep-startup-") as tmp:
        tmp = Path(tmp)
        model_path = Path(args.model).resolve() if args.model else npsep.default_model_path()
        model_note = "given" if args.model else "bundled"
        if model_path is None:
            model_path, model_note = random_model(tmp / "random_u8.npz"), "random Improved U8"
        rate = npsep.load(model_path).sample_rate
        wav = args.input.resolve() if args.input else mixture(tmp / "mixture.wav", rate, args.seconds)
        separate = ["separate", str(wav), "-o", str(tmp / "out"), "--model", str(model_path),
                    "--overwrite", "--quiet"]

        def environment(root, cache):
            cache.mkdir()
            env = dict(os.environ, NUMBA_CACHE_DIR=str(cache),
                       PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
            env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: modules compiled once, not at every start
            return env
        env = environment(ROOT, tmp / "numba-cache")
        commands = {"python -m npsep": ([sys.executable, "-m", "npsep", *separate], env)}
        for exe in args.command:
            commands[exe] = ([exe, *separate], dict(env, PYTHONPATH=""))
        if args.baseline:
            commands[f"baseline ({args.baseline})"] = ([sys.executable, "-m", "npsep", *separate],
                                                       environment(args.baseline.resolve(), tmp / "baseline-cache"))

        print(f"model: {model_path} ({model_note}); input: {wav}; {load_average()}")
        print(f"NUMBA_CACHE_DIR={env['NUMBA_CACHE_DIR']} (empty)", flush=True)
        bare = [timed([sys.executable, "-c", "pass"], env, tmp) for _ in range(3)]
        imports = [timed([sys.executable, "-c", "import npsep"], env, tmp) for _ in range(3)]
        first = timed(commands["python -m npsep"][0], env, tmp)
        written = sum(len(files) for _, _, files in os.walk(env["NUMBA_CACHE_DIR"]))
        print(f"first run (compiles; {written} cache files written): {first:.2f} s", flush=True)
        for name, (cmd, cmd_env) in list(commands.items())[1:]:
            timed(cmd, cmd_env, tmp)  # fills the baseline's cache; checks the console script runs

        warm, cpu = {name: [] for name in commands}, {name: [] for name in commands}
        for _ in range(args.repeats):  # interleaved, so that a change of load hits every command
            for name, (cmd, cmd_env) in commands.items():
                wall, seconds, _ = run(cmd, cmd_env, tmp)
                warm[name].append(wall)
                cpu[name].append(seconds)
        for name, times in warm.items():
            print(f"warm, {name}: {', '.join(f'{t:.2f}' for t in times)} s; median {statistics.median(times):.2f} s "
                  f"(CPU time: median {statistics.median(cpu[name]):.2f} s)")
        print(f"'python -c pass': median {statistics.median(bare):.3f} s; "
              f"'import npsep': median {statistics.median(imports):.3f} s")
        print(f"one-time compile cost: {first - statistics.median(warm['python -m npsep']):.2f} s; {load_average()}",
              flush=True)

        runs = [breakdown(separate, env, tmp) for _ in range(args.repeats)]
        names = list(dict.fromkeys(name for phases, *_ in runs for name in phases))
        phases = {name: statistics.median(r[0].get(name, 0.0) for r in runs) for name in names}
        kernels = {name: statistics.median(r[1].get(name, 0.0) for r in runs)
                   for name in dict.fromkeys(k for r in runs for k in r[1])}
        loads = statistics.median(r[2] for r in runs)
        total = statistics.median(r[3] for r in runs)
        print(f"\nwarm run, instrumented (medians of {args.repeats}; total {total:.3f} s; {load_average()}):")
        for name, seconds in sorted(phases.items(), key=lambda kv: -kv[1]):
            print(f"  {seconds:7.3f} s  {name}" + (f" ({loads:g} loaded)" if name == "kernel loads" else ""))
        print("  kernels loaded from the cache (the first also sets up what Numba needs to load any):")
        for name, seconds in kernels.items():
            print(f"  {seconds:7.3f} s    {name}")

    result = {"model": str(model_path), "model_kind": model_note, "input": str(args.input or f"{args.seconds:g} s generated"),
              "first_run_s": first, "warm_runs_s": warm,
              "warm_median_s": {name: statistics.median(t) for name, t in warm.items()},
              "warm_cpu_s": cpu, "warm_cpu_median_s": {name: statistics.median(t) for name, t in cpu.items()},
              "compile_cost_s": first - statistics.median(warm["python -m npsep"]), "cache_files_written": written,
              "python_bare_s": bare, "import_npsep_s": imports, "breakdown_s": phases, "kernel_loads_s": kernels,
              "kernels_loaded": loads, "instrumented_total_s": total, "load_average_end": list(os.getloadavg()),
              "python": sys.version.split()[0], "npsep": npsep.__version__}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "startup.json").write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out / 'startup.json'}")


if __name__ == "__main__":
    main()
