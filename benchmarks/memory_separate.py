"""Peak memory of ``npsep separate`` as the input grows: it should stay flat with chunking.

For each duration (default 10 s, 10 min, 60 min) the script writes a synthetic
WAV file (block by block), runs ``npsep separate`` on it in a fresh process, and
reads that process's peak resident set size from ``wait4`` (``ru_maxrss``).
With ``--whole-up-to SECONDS`` it also runs ``--chunk-seconds 0`` (whole file
at once) on the shorter inputs, for contrast.

The model defaults to a tiny random improved SuDoRM-RF at 8 kHz: the point is
the streaming pipeline (reading, resampling, chunking, overlap-add, writing),
whose buffers depend on the chunk length and not on the file length; a bigger
model adds a constant (its weights and one chunk's activations). Pass
``--model`` to measure another one.

Run it niced on a shared machine, e.g.::

    nice -n 10 python benchmarks/memory_separate.py --workdir /tmp/npsep-mem

Child processes use one Numba/BLAS thread (the figures are about memory).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import soundfile as sf

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

TINY = dict(out_channels=16, in_channels=32, num_blocks=2, upsampling_depth=3,
            enc_kernel_size=21, enc_num_basis=32, num_sources=2)


def write_input(path, seconds, rate, channels, seed=0):
    """A two-source-like test signal (tones + noise), written in one-second blocks."""
    rng = np.random.default_rng(seed)
    total = int(seconds * rate)
    with sf.SoundFile(path, "w", samplerate=rate, channels=channels, subtype="PCM_16") as f:
        for start in range(0, total, rate):
            n = min(rate, total - start)
            t = (start + np.arange(n))[:, None] / rate
            x = 0.3 * np.sin(2 * np.pi * np.array([220.0, 330.0][:channels]) * t)
            x = x + 0.1 * rng.standard_normal((n, channels))
            f.write(x.astype(np.float32))


def run(cmd, env):
    """Run ``cmd``; return (exit status, wall seconds, peak RSS in MiB, stderr)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, time.monotonic() - t0, usage.ru_maxrss / 1024, stderr.decode()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--durations", default="10,600,3600",
                    help="comma-separated input durations in seconds (default 10,600,3600)")
    ap.add_argument("--rate", type=int, default=44100, help="input sample rate (default 44100)")
    ap.add_argument("--channels", type=int, default=2, help="input channels (default 2)")
    ap.add_argument("--chunk-seconds", type=float, default=8.0)
    ap.add_argument("--whole-up-to", type=float, default=600,
                    help="also run --chunk-seconds 0 for inputs up to this many seconds")
    ap.add_argument("--model", help="weights file (default: a tiny random model)")
    ap.add_argument("--workdir", help="folder for the inputs and outputs (default: a temp dir)")
    args = ap.parse_args(argv)

    work = args.workdir or tempfile.mkdtemp(prefix="npsep-mem-")
    os.makedirs(work, exist_ok=True)
    model = args.model
    if model is None:
        from npsep import weights
        model = os.path.join(work, "tiny.npz")
        weights.save(model, weights.random_tensors("improved", TINY),
                     weights.make_config("improved", TINY))
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
               NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")

    rows = []
    for seconds in [float(s) for s in args.durations.split(",")]:
        src = os.path.join(work, f"in_{int(seconds)}s.wav")
        if not (os.path.exists(src) and sf.info(src).frames == int(seconds * args.rate)
                and sf.info(src).channels == args.channels):
            write_input(src, seconds, args.rate, args.channels)
        modes = [("chunked", args.chunk_seconds)]
        if seconds <= args.whole_up_to:
            modes.append(("whole", 0.0))
        for mode, chunk in modes:
            out = os.path.join(work, f"out_{mode}")
            cmd = [sys.executable, "-m", "npsep.cli", "separate", src, "-o", out, "--model",
                   model, "--overwrite", "--quiet", "--chunk-seconds", str(chunk)]
            code, wall, rss, err = run(cmd, env)
            if code != 0:
                print(f"{mode} {seconds:g} s failed: {err.strip()}", file=sys.stderr)
                return 1
            size = os.path.getsize(src) / 2 ** 20
            rows.append((seconds, mode, size, rss, wall))
            print(f"{seconds:>7g} s  {mode:<8} input {size:8.1f} MiB  peak RSS {rss:7.1f} MiB  "
                  f"wall {wall:7.1f} s  ({seconds / wall:6.1f}x real time)", flush=True)
    chunked = [r[3] for r in rows if r[1] == "chunked"]
    print(f"chunked peak RSS: min {min(chunked):.1f} MiB, max {max(chunked):.1f} MiB "
          f"(spread {max(chunked) - min(chunked):.1f} MiB) over "
          f"{', '.join(f'{r[0]:g} s' for r in rows if r[1] == 'chunked')}; "
          f"input {args.rate} Hz x {args.channels} ch PCM_16, chunks {args.chunk_seconds:g} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
