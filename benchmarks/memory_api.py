"""Peak memory of ``Model.separate`` on an array against ``npsep separate`` on the same file.

The script writes a synthetic mono WAV file (default 10 minutes at 8 kHz, 16-bit), then,
each in a fresh process with one Numba/BLAS thread, measures the peak resident set size
(``ru_maxrss`` from ``wait4``) of

* ``npsep separate FILE -o OUT`` (the command line, streaming file to file), and
* ``soundfile.read(FILE, dtype=D)`` then ``npsep.load(MODEL).separate(x)`` for each
  ``D`` of ``--dtypes`` (default ``float32,float64``): the Python API, which holds the
  input array and the returned sources besides what the command line holds.

and prints each figure with its ratio to the command line's, and what the API holds beyond
"the command line's peak + the input array + the returned sources" (its *excess*; near 0
when it streams like the command line), with the *floor*: the ratio the API has when its
excess is 0, ``(CLI + input + sources) / CLI``. No streaming makes the ratio lower than the
floor: both arrays are the caller's. It also prints the peak less the input array, which
exists before the call: what the call itself holds. With ``--steps`` (Linux), one more process runs the
API's steps one by one and prints what each adds to the peak (``VmHWM``): the libraries,
the model, the kernels, SciPy's assignment solver, one chunk's workspace, the input, the
sources. The model is the bundled one unless ``--model`` names another. Run it niced on a
shared machine::

    nice -n 10 python benchmarks/memory_api.py --workdir /tmp/npsep-mem-api
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import soundfile as sf

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

import npsep  # noqa: E402
from memory_separate import run, write_input  # noqa: E402  (benchmarks/ is on sys.path)

API_CHILD = """
import sys
import numpy as np
import soundfile as sf
import npsep
path, dtype, model = sys.argv[1], sys.argv[2], sys.argv[3] or None
x, rate = sf.read(path, dtype=dtype)
model = npsep.load(model)
sources = model.separate(x, rate)
assert sources.shape == (1, model.num_sources, len(x))
assert np.isfinite([sources.min(), sources.max()]).all()  # no temporary the size of sources
"""

STEPS_CHILD = """
import sys
def step(what, hwm=[0.0]):
    now = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024
    print(f"  {now - hwm[0]:+7.1f} MiB -> {now:7.1f}  {what}", flush=True)
    hwm[0] = now
import numpy as np
import soundfile as sf
step("Python, NumPy, soundfile")
import npsep
from npsep.chunking import DEFAULT_CHUNK_SECONDS
path, dtype, model = sys.argv[1], sys.argv[2], sys.argv[3] or None
model = npsep.load(model)
step("npsep.load: Numba, llvmlite, threadpoolctl, the weights")
model.forward(np.zeros((1, model.sample_rate // 10), np.float32))
step("the kernels, loaded from Numba's cache (a 0.1 s forward pass)")
from scipy.optimize import linear_sum_assignment
step("scipy.optimize (linear_sum_assignment aligns the chunks' sources)")
noise = np.random.default_rng(0).standard_normal(int(2.5 * DEFAULT_CHUNK_SECONDS * model.sample_rate))
model.separate(noise.astype(np.float32))
step(f"separating {len(noise) / model.sample_rate:g} s: one chunk's workspace, the chunker's buffers")
x, rate = sf.read(path, dtype=dtype)
step(f"the input array, {dtype}")
sources = model.separate(x, rate)
step("Model.separate on it: the sources and anything else")
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=600.0, help="input length (default 600)")
    ap.add_argument("--rate", type=int, default=8000, help="input sample rate (default 8000)")
    ap.add_argument("--dtypes", default="float32,float64",
                    help="dtypes of the API's input array (default float32,float64)")
    ap.add_argument("--model", default="", help="weights file or model name (default: bundled)")
    ap.add_argument("--workdir", help="folder for the input and outputs (default: a temp dir)")
    ap.add_argument("--steps", action="store_true",
                    help="also print what each step of the API adds to its peak (Linux)")
    args = ap.parse_args(argv)

    work = args.workdir or tempfile.mkdtemp(prefix="npsep-mem-api-")
    os.makedirs(work, exist_ok=True)
    src = os.path.join(work, f"in_{int(args.seconds)}s_{args.rate}.wav")
    if not os.path.exists(src):
        write_input(src, args.seconds, args.rate, 1)
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
               NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    model = ["--model", args.model] if args.model else []
    cmd = [sys.executable, "-m", "npsep.cli", "separate", src, "-o", os.path.join(work, "out"),
           "--overwrite", "--quiet", *model]
    subprocess.run([sys.executable, "-m", "npsep.cli", "warmup", *model], env=env, check=True,
                   stdout=subprocess.DEVNULL)  # compile once, outside the measured runs
    code, wall, cli_rss, err = run(cmd, env)
    if code != 0:
        print(f"npsep separate failed: {err.strip()}", file=sys.stderr)
        return 1
    print(f"{args.seconds:g} s at {args.rate} Hz mono ({os.path.getsize(src) / 2 ** 20:.1f} MiB "
          "PCM_16 file)")
    print(f"npsep separate          peak RSS {cli_rss:7.1f} MiB  wall {wall:6.1f} s")
    frames = sf.info(src).frames
    sources_mib = npsep.load(args.model or None).num_sources * frames * 4 / 2 ** 20  # float32
    for dtype in args.dtypes.split(","):
        code, wall, rss, err = run([sys.executable, "-c", API_CHILD, src, dtype, args.model], env)
        if code != 0:
            print(f"Model.separate ({dtype}) failed: {err.strip()}", file=sys.stderr)
            return 1
        input_mib = frames * np.dtype(dtype).itemsize / 2 ** 20
        held = cli_rss + input_mib + sources_mib
        print(f"Model.separate {dtype:<8} peak RSS {rss:7.1f} MiB  wall {wall:6.1f} s  "
              f"ratio to the CLI {rss / cli_rss:.2f}  (input {input_mib:.1f} + sources "
              f"{sources_mib:.1f} MiB: excess {rss - held:+.1f} MiB, floor {held / cli_rss:.2f})")
        # The caller's array exists before the call; what the call itself holds is the rest.
        own = rss - input_mib
        print(f"  without the caller's input array: {own:7.1f} MiB, ratio to the CLI {own / cli_rss:.2f}")
    if args.steps:
        dtype = args.dtypes.split(",")[-1]
        print(f"Model.separate {dtype}, step by step (peak RSS added by each):", flush=True)
        subprocess.run([sys.executable, "-c", STEPS_CHILD, src, dtype, args.model], env=env,
                       check=True)
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
