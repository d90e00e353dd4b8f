#!/usr/bin/env python
"""How long ``npsep separate`` takes the first time ever (Numba compiling) and then (cache warm).

Every run is a fresh process, ``python -m npsep.cli separate mixture.wav -o OUT``, on one 4 s
mono file at the model's sample rate, timed wall-clock from start to exit. ``NUMBA_CACHE_DIR``
points at a new, empty folder, so the first run compiles every kernel it uses and writes them
there; the following runs load them from it. The difference is the one-time compile cost.
A ``python -c "import npsep"`` process is timed too, for the share that is plain start-up.

    python benchmarks/bench_startup.py                 # the bundled model, else a random one
    python benchmarks/bench_startup.py improved.npz    # any npsep weights file

The random model, when nothing is bundled: Improved SuDoRM-RF with 8 blocks,
``C_out=256, C_in=512, Q=5, K=21, E=512, S=2``, 8 kHz. Writes ``startup.json`` in ``--out``.
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
RANDOM_U8 = dict(out_channels=256, in_channels=512, num_blocks=8, upsampling_depth=5,
                 enc_kernel_size=21, enc_num_basis=512, num_sources=2)


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


def timed(cmd, env):
    t0 = time.perf_counter()
    run = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if run.returncode != 0:
        sys.exit(f"failed ({run.returncode}): {' '.join(cmd)}\n{run.stderr.strip()}")
    return elapsed


def cache_files(folder):
    return sum(len(files) for _, _, files in os.walk(folder))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", nargs="?", default=None,
                   help="npsep weights file (default: the bundled model, else a random Improved U8)")
    p.add_argument("--seconds", type=float, default=4.0, help="length of the test file (default 4)")
    p.add_argument("--repeats", type=int, default=3, help="runs after the first, cache warm (default 3)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results",
                   help="folder for startup.json (default benchmarks/results/)")
    args = p.parse_args(argv)

    import npsep
    with tempfile.TemporaryDirectory(prefix="npsep-startup-") as tmp:
        tmp = Path(tmp)
        model_path = args.model or npsep.default_model_path()
        model_note = "given" if args.model else "bundled"
        if model_path is None:
            model_path, model_note = random_model(tmp / "random_u8.npz"), "random Improved U8"
        model = npsep.load(model_path)
        wav = mixture(tmp / "mixture.wav", model.sample_rate, args.seconds)
        del model

        cache = tmp / "numba-cache"
        cache.mkdir()
        env = dict(os.environ, NUMBA_CACHE_DIR=str(cache),
                   PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        cmd = [sys.executable, "-m", "npsep.cli", "separate", str(wav), "-o", str(tmp / "out"),
               "--model", str(model_path), "--overwrite", "--quiet"]

        print(f"model: {model_path} ({model_note}); input: {args.seconds:g} s at {npsep.load(model_path).sample_rate} Hz")
        print(f"NUMBA_CACHE_DIR={cache} (empty)", flush=True)
        imports = [timed([sys.executable, "-c", "import npsep"], env) for _ in range(3)]
        first = timed(cmd, env)
        written = cache_files(cache)
        print(f"first run (compiles; {written} cache files written): {first:.2f} s", flush=True)
        warm = [timed(cmd, env) for _ in range(args.repeats)]
        print(f"later runs (cache warm): {', '.join(f'{t:.2f}' for t in warm)} s; "
              f"median {statistics.median(warm):.2f} s")
        print(f"'import npsep' alone: median {statistics.median(imports):.2f} s")
        print(f"one-time compile cost: {first - statistics.median(warm):.2f} s")

    result = {"model": str(model_path), "model_kind": model_note, "seconds": args.seconds,
              "first_run_s": first, "warm_runs_s": warm, "warm_median_s": statistics.median(warm),
              "compile_cost_s": first - statistics.median(warm), "cache_files_written": written,
              "import_npsep_s": imports, "load_average": list(os.getloadavg()),
              "python": sys.version.split()[0], "npsep": npsep.__version__}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "startup.json").write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out / 'startup.json'}")


if __name__ == "__main__":
    main()
