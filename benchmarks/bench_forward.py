#!/usr/bin/env python
"""npsep vs PyTorch vs ONNX Runtime: one SuDoRM-RF forward pass, side by side, in one process.

The model is the published improved configuration (``npsep info --preset improved-u16-b512``):
Improved SuDoRM-RF, ``C_out=256, C_in=512,
N=16, Q=5, K=21, E=512, S=2`` at 8 kHz, with random weights. It is built as our PyTorch
test module (``tests/torch_reference.py``), its parameters perturbed so that no norm is
the identity, saved as a state dict, converted with ``weights_convert.convert`` and loaded
with ``npsep.load``; the same module is exported to ONNX and run by ONNX Runtime.

For every thread count, input length and batch size the three contenders run interleaved
(the order rotates each round) after a warm-up; the median of ``--runs`` runs is reported
with the ratios between them and to the *GEMM floor*: the configuration's matrix-product
FLOPs divided by the SGEMM rate NumPy reaches on the same shapes, at the same thread count,
measured in the same run. Peak memory is measured per contender in a fresh subprocess.

OpenBLAS's core-type overrides (``OPENBLAS_CORETYPE``, ``OPENBLAS_L2_SIZE``) make it pick other
kernels than a user's machine would; if either is set, the script runs itself again in a child
process without them (``--keep-blas-env`` keeps them). It records the kernels OpenBLAS chose
(threadpoolctl's ``architecture``) and Numba's allocations per npsep forward pass
(``NUMBA_NRT_STATS``)::

    python benchmarks/bench_forward.py
    python benchmarks/bench_forward.py --quick          # smoke test: 1 s and 4 s, batch 1, 3 runs

Results: a table on stdout, ``forward.json`` and ``forward.png`` in ``--out``.
"""
import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from npsep import architectures, info  # noqa: E402  (plain Python: neither loads Numba)
TESTS = ROOT / "tests"

VARIANT = "improved"
HPARAMS = dict(out_channels=256, in_channels=512, num_blocks=16, upsampling_depth=5,
               enc_kernel_size=21, enc_num_basis=512, num_sources=2)
SAMPLE_RATE = 8000
PARITY_RTOL = 1e-4
ORT_RTOL = 1e-3  # ONNX Runtime fuses and reorders more than npsep does; reported, never fatal
TINY_SAMPLES = 3200  # the warm-up input of the memory subprocesses: 0.4 s, a multiple of 320
BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
            "MKL_NUM_THREADS", "NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER")
CORETYPE_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
"""Unset for the benchmark's own runs: they override OpenBLAS's CPU detection."""
UNSET_NOTE = "NPSEP_BENCH_UNSET"
"""Set in the re-executed child: what was unset, for the report."""
CONTENDERS = ("npsep", "torch", "ort")
LABELS = {"npsep": "npsep", "torch": "PyTorch", "ort": "ONNX Runtime"}


# --- the cost of the configuration ------------------------------------------------------------

def frames(hp, num_samples):
    """Encoder frames ``L`` for one input of ``num_samples`` samples, the model's padding included."""
    return info.num_frames(hp, architectures.padded_length(VARIANT, hp, num_samples))


def count_flops(hp, num_samples):
    """FLOPs of one forward pass of one input (2 FLOPs per multiply-add, the multiply-adds of
    :func:`npsep.info.macs`), with the part in matrix products.

    Returns ``{"gemm": ..., "depthwise": ..., "total": ..., "frames": L, "gemms": [...]}``
    where ``gemms`` lists the matrix products ``(name, M, K, N, count)`` of ``[M, K] @ [K, N]``
    that the layers amount to (and that npsep issues):

    * encoder: Conv1d(1 -> E, kernel K, stride K//2) = ``[E, K] @ [K, L]`` on framed input;
    * bottleneck: 1x1 ``[C_out, E] @ [E, L]``;
    * per block (N of them): proj 1x1 ``[C_in, C_out] @ [C_out, L]``, the depthwise pyramid
      (kernel 5 on C_in channels at ``ceil(L / 2**k)`` frames for k = 0..Q-1; not a GEMM) and
      res 1x1 ``[C_out, C_in] @ [C_in, L]``;
    * mask: 1x1 ``[S*E, C_out] @ [C_out, L]``;
    * decoder: ConvTranspose1d(S*E -> S, kernel K, groups 1) = ``[S*K, S*E] @ [S*E, L]``
      followed by an overlap-add (no multiplies).
    """
    E, K, S = hp["enc_num_basis"], hp["enc_kernel_size"], hp["num_sources"]
    C_out, C_in, N = hp["out_channels"], hp["in_channels"], hp["num_blocks"]
    L = frames(hp, num_samples)
    gemms = [("encoder", E, K, L, 1), ("bottleneck", C_out, E, L, 1),
             ("block proj 1x1", C_in, C_out, L, N), ("block res 1x1", C_out, C_in, L, N),
             ("mask 1x1", S * E, C_out, L, 1), ("decoder", S * K, S * E, L, 1)]
    gemm = sum(2 * M * Kd * Nd * c for _, M, Kd, Nd, c in gemms)
    total = 2 * info.macs(VARIANT, hp, num_samples)
    return {"frames": L, "gemm": gemm, "depthwise": total - gemm, "total": total, "gemms": gemms}


def measure_sgemm(gemms, reps):
    """Seconds NumPy's SGEMM takes for one pass over ``gemms`` (median of ``reps`` per shape)."""
    rng = np.random.default_rng(0)
    total = 0.0
    per_shape = {}
    for name, M, K, N, count in gemms:
        key = (M, K, N)
        if key not in per_shape:
            a = rng.standard_normal((M, K), dtype=np.float32)
            b = rng.standard_normal((K, N), dtype=np.float32)
            out = np.empty((M, N), dtype=np.float32)
            np.matmul(a, b, out=out)
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                np.matmul(a, b, out=out)
                times.append(time.perf_counter() - t0)
            per_shape[key] = statistics.median(times)
            del a, b, out
        total += count * per_shape[key]
    return total


# --- environment ------------------------------------------------------------------------------

def blas_info():
    """threadpoolctl's view of the loaded BLAS / OpenMP libraries (or a note if it is missing)."""
    try:
        import threadpoolctl
    except ImportError:
        return [{"note": "threadpoolctl is not installed (pip install threadpoolctl)"}]
    keep = ("user_api", "internal_api", "prefix", "version", "architecture", "num_threads",
            "threading_layer", "filepath")
    return [{k: lib.get(k) for k in keep if k in lib} for lib in threadpoolctl.threadpool_info()]


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                return [f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile") if f in flags]
    except OSError:
        pass
    return []


def load_average():
    try:
        return list(os.getloadavg())
    except OSError:
        return None


def versions():
    out = {"python": platform.python_version(), "numpy": np.__version__}
    for name in ("numba", "torch", "onnxruntime", "onnx", "npsep", "threadpoolctl"):
        try:
            out[name] = __import__(name).__version__
        except Exception:  # noqa: BLE001  missing or broken: just not reported
            out[name] = None
    return out


def set_threads(n):
    """The same number of threads for every contender's pools (ORT gets it per session)."""
    import torch
    import npsep
    npsep.set_num_threads(n)
    torch.set_num_threads(n)


def rel_err(actual, expected):
    expected = np.asarray(expected, dtype=np.float64)
    return float(np.abs(np.asarray(actual, dtype=np.float64) - expected).max() / np.abs(expected).max())


# --- the contenders ---------------------------------------------------------------------------

def build_models(workdir, seed):
    """The torch module (perturbed random weights), its state dict and the npsep model."""
    import torch
    sys.path.insert(0, str(TESTS))
    from torch_reference import build, save_state_dict
    from weights_convert import convert
    import npsep

    torch.manual_seed(seed)
    module = build(VARIANT, HPARAMS).eval()
    with torch.no_grad():  # random init leaves the norms at identity: perturb every parameter
        for p in module.parameters():
            p.add_(0.1 * torch.randn_like(p))
    state_dict = workdir / "state_dict.pt"
    save_state_dict(module, state_dict)
    npz = workdir / "model.npz"
    convert(state_dict, npz, variant=VARIANT, sample_rate=SAMPLE_RATE)
    return module, state_dict, npz, npsep.load(npz)


def export_onnx(module, path):
    """Export with the TorchScript-based exporter (no onnxscript needed), batch and time dynamic.

    The model pads its input to a multiple of ``npsep.info.pad_multiple`` samples with ``-(-T // n)``; the
    exporter lowers that floor division of a negative number to ONNX's truncating ``Div``, so the
    exported graph pads wrongly (it crops) unless ``T`` is already a multiple. :func:`runners`
    therefore pads the input for ONNX Runtime itself (zeros at the end, exactly the model's own
    padding, then a no-op inside the graph) and trims the output.
    """
    import torch
    axes = {0: "batch", 2: "time"}
    x = torch.zeros(1, 1, TINY_SAMPLES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (x,), str(path), dynamo=False, opset_version=17,
                          input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": axes, "y": axes})


def ort_session(path, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # idle intra-op workers otherwise spin and steal the CPU from whatever runs next
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def ort_forward(sess):
    """``f(x)`` for a ``(B, 1, T)`` array: padded here to a multiple of the model's unit (see
    :func:`export_onnx`), trimmed back to ``T``."""
    def forward(x):
        T = x.shape[-1]
        padded = architectures.padded_length(VARIANT, HPARAMS, T)
        if padded != T:
            x = np.concatenate([x, np.zeros(x.shape[:-1] + (padded - T,), np.float32)], axis=-1)
            return sess.run(None, {"x": x})[0][..., :T]
        return sess.run(None, {"x": x})[0]

    return forward


def runners(module, model, sess):
    """``name -> f(x)``: one forward pass of a ``(B, 1, T)`` float32 array, output as NumPy."""
    import torch

    def run_torch(x):
        with torch.inference_mode():
            return module(torch.from_numpy(x)).numpy()

    out = {"npsep": model.forward, "torch": run_torch}
    if sess is not None:
        out["ort"] = ort_forward(sess)
    return out


# --- peak memory in a fresh process -----------------------------------------------------------

MEMORY_CHILD = r"""
import json, sys
import numpy as np
kind, path, threads, T, B, tiny, tests, hp, variant = sys.argv[1:10]
threads, T, B, tiny, hp = int(threads), int(T), int(B), int(tiny), json.loads(hp)
if kind == "torch":  # torch_reference imports torch at the top: only the torch child may load it
    sys.path.insert(0, tests)

def status():
    out = {}
    for line in open("/proc/self/status"):
        if line.startswith(("VmRSS", "VmHWM")):
            k, v = line.split(":")
            out[k] = int(v.split()[0]) * 1024
    return out

if kind == "npsep":
    import npsep
    if hasattr(npsep, "set_num_threads"):
        npsep.set_num_threads(threads)
    else:
        import numba, threadpoolctl
        numba.set_num_threads(threads)
        threadpoolctl.threadpool_limits(threads, user_api="blas")
    model = npsep.load(path)
    forward = model.forward
elif kind == "torch":
    import torch
    from torch_reference import build
    torch.set_num_threads(threads)
    module = build("improved", hp).eval()
    module.load_state_dict(torch.load(path, weights_only=True))
    def forward(x):
        with torch.inference_mode():
            return module(torch.from_numpy(x)).numpy()
else:
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    from npsep.architectures import padded_length
    def forward(x):  # padded to the model's unit outside the graph, as in the parent
        T = x.shape[-1]
        padded = padded_length(variant, hp, T)
        if padded != T:
            x = np.concatenate([x, np.zeros(x.shape[:-1] + (padded - T,), np.float32)], axis=-1)
        return sess.run(None, {"x": x})[0][..., :T]

forward(np.zeros((1, 1, tiny), np.float32))  # JIT / kernels / thread pools, on a tiny input
x = np.random.default_rng(0).standard_normal((B, 1, T)).astype(np.float32)
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM (peak RSS) to the current RSS
    reset = True
except OSError:
    reset = False
before = status()
y = forward(x)
after = status()
print(json.dumps({"baseline_bytes": before["VmRSS"], "peak_bytes": after["VmHWM"],
                  "increase_bytes": after["VmHWM"] - before["VmRSS"], "hwm_reset": reset,
                  "output_shape": list(y.shape)}))
"""


def measure_memory(kind, path, threads, num_samples, batch, tiny):
    """Peak RSS increase of one forward pass (after a warm-up on a tiny input), fresh process."""
    args = [sys.executable, "-c", MEMORY_CHILD, kind, str(path), str(threads), str(num_samples),
            str(batch), str(tiny), str(TESTS), json.dumps(HPARAMS), VARIANT]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    run = subprocess.run(args, capture_output=True, text=True, env=env)
    if run.returncode != 0:
        return {"error": (run.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(run.stdout.strip().splitlines()[-1])


# --- the benchmark ----------------------------------------------------------------------------

def time_case(fns, x, runs, warmup, reference_name="torch"):
    """Warm up each contender (PyTorch first: its output is the reference for the others' parity),
    then ``runs`` rounds, the order of the contenders rotating each round."""
    names = list(fns)
    parity, reference = {}, None
    for name in [reference_name] + [n for n in names if n != reference_name]:
        for _ in range(max(1, warmup)):
            y = fns[name](x)
        if name == reference_name:
            reference = y
        else:
            parity[name] = rel_err(y, reference)
        del y
    del reference
    times = {name: [] for name in names}
    gc.collect()
    gc.disable()
    try:
        for r in range(runs):
            order = names[r % len(names):] + names[:r % len(names)]
            for name in order:
                t0 = time.perf_counter()
                y = fns[name](x)
                times[name].append(time.perf_counter() - t0)
                del y
    finally:
        gc.enable()
    return times, parity


def fmt_mb(b):
    return "-" if b is None else f"{b / 2**20:.0f}"


def print_table(results, contenders):
    has_ort = "ort" in contenders
    head = (f"{'thr':>3} {'audio':>6} {'B':>2} {'GFLOP':>7} | {'npsep':>8} {'PyTorch':>8}"
            + (f" {'ORT':>8}" if has_ort else "")
            + f" | {'np/pt':>6}" + (f" {'np/ort':>6}" if has_ort else "")
            + f" | {'floor':>7} {'GF/s':>5} {'np/fl':>6} {'pt/fl':>6}" + (f" {'ort/fl':>6}" if has_ort else ""))
    print(head)
    print("-" * len(head))
    for r in results:
        m = r["median_s"]
        line = (f"{r['threads']:>3} {r['seconds']:>5g}s {r['batch']:>2} {r['gflop']:>7.1f} | "
                f"{m['npsep']:>8.3f} {m['torch']:>8.3f}" + (f" {m['ort']:>8.3f}" if has_ort else "")
                + f" | {r['ratio']['npsep/torch']:>6.2f}" + (f" {r['ratio']['npsep/ort']:>6.2f}" if has_ort else "")
                + f" | {r['gemm_floor_s']:>7.3f} {r['sgemm_gflops']:>5.0f} {r['ratio']['npsep/floor']:>6.2f}"
                + f" {r['ratio']['torch/floor']:>6.2f}" + (f" {r['ratio']['ort/floor']:>6.2f}" if has_ort else ""))
        print(line)


def print_memory(memory, contenders):
    if not memory:
        return
    print("\npeak RSS increase of one forward pass, fresh process per contender "
          "(MiB; total peak RSS in parentheses):")
    head = f"{'thr':>3} {'audio':>6} {'B':>2} | " + " | ".join(f"{LABELS[c]:>18}" for c in contenders)
    print(head)
    print("-" * len(head))
    for m in memory:
        cells = []
        for c in contenders:
            v = m[c]
            cells.append(f"{'error':>18}" if "error" in v else
                         f"{fmt_mb(v['increase_bytes']):>8} ({fmt_mb(v['peak_bytes']):>6})   ")
        print(f"{m['threads']:>3} {m['seconds']:>5g}s {m['batch']:>2} | " + " | ".join(cells))


def plot(report, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no chart (pip install matplotlib)")
        return None
    results, contenders = report["results"], report["contenders"]
    thread_counts = sorted({r["threads"] for r in results})
    fig, axes = plt.subplots(1, len(thread_counts), figsize=(6 * len(thread_counts), 4.5),
                             squeeze=False, sharey=True)
    colors = {"npsep": "#1b9e77", "torch": "#d95f02", "ort": "#7570b3"}
    width = 0.8 / len(contenders)
    for ax, n in zip(axes[0], thread_counts):
        rows = [r for r in results if r["threads"] == n]
        xs = np.arange(len(rows))
        for i, c in enumerate(contenders):
            # time per second of audio, so that 1 s and 60 s inputs share one axis
            ax.bar(xs + (i - (len(contenders) - 1) / 2) * width,
                   [r["median_s"][c] / (r["seconds"] * r["batch"]) for r in rows], width,
                   label=LABELS[c], color=colors[c])
        ax.scatter(xs, [r["gemm_floor_s"] / (r["seconds"] * r["batch"]) for r in rows], marker="_",
                   s=900, color="black", zorder=3, label="GEMM floor")
        ax.set_xticks(xs, [f"{r['seconds']:g} s x {r['batch']}" for r in rows])
        ax.set_title(f"{n} thread{'s' if n > 1 else ''}")
        ax.set_xlabel("input length x batch")
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("seconds per second of audio (median)")
    axes[0][0].legend(loc="upper right", fontsize="small")
    fig.suptitle("Improved SuDoRM-RF (C_out=256, C_in=512, N=16, Q=5, K=21, E=512, S=2), 8 kHz, CPU",
                 fontsize="medium")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def save_json(report, folder):
    """``forward.json`` (``memory.json`` with ``--memory-only``), replaced atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ("memory.json" if report["args"]["memory_only"] else "forward.json")
    tmp = path.with_suffix(".json.part")
    tmp.write_text(json.dumps(report, indent=1, default=str) + "\n")
    os.replace(tmp, path)
    return path


def merge_reports(paths):
    """One report from the ``forward.json`` of several runs (say the long inputs run apart):
    the rows and memory entries of all, the machine and versions of the first. Each row keeps
    its own ``load_average``; ``merged_from`` records every run's arguments and machine."""
    reports = [json.loads(Path(p).read_text()) for p in paths]
    merged = dict(reports[0], args={"merge": [str(p) for p in paths], "memory_only": False})
    key = lambda r: (-r["threads"], r["seconds"], r["batch"])  # noqa: E731
    merged["results"] = sorted((r for rep in reports for r in rep["results"]), key=key)
    merged["memory"] = sorted((m for rep in reports for m in rep["memory"]), key=key)
    merged["merged_from"] = [{"path": str(p), "args": rep["args"], "machine": rep["machine"]}
                             for p, rep in zip(paths, reports)]
    return merged


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 1 s and 4 s inputs, batch 1, 3 runs (unless given explicitly)")
    p.add_argument("--threads", type=int, nargs="+", default=None, metavar="N", help="default: 1 2")
    p.add_argument("--seconds", type=float, nargs="+", default=None, metavar="S",
                   help="input lengths in seconds at 8 kHz; default: 1 4 60")
    p.add_argument("--batch", type=int, nargs="+", default=None, metavar="B", help="default: 1 4")
    p.add_argument("--batch-max-seconds", type=float, default=None, metavar="S",
                   help="run batches above 1 only for inputs of at most S seconds (default: every input)")
    p.add_argument("--runs", type=int, default=None, help="timed runs per contender (default 5, quick 3)")
    p.add_argument("--warmup", type=int, default=1, help="untimed runs per contender first (default and minimum 1)")
    p.add_argument("--no-ort", action="store_true", help="leave ONNX Runtime out")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    p.add_argument("--memory-only", action="store_true", help="only the peak-memory subprocesses, no timing")
    p.add_argument("--memory-threads", type=int, default=None,
                   help="thread count for the memory subprocesses (default: the largest of --threads)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep-blas-env", action="store_true",
                   help="keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE if set (default: rerun without them)")
    p.add_argument("--merge", type=Path, nargs="+", default=None, metavar="JSON",
                   help="only combine the forward.json of earlier runs into one (in --out) and print it")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results",
                   help="folder for forward.json and forward.png (default benchmarks/results/)")
    args = p.parse_args(argv)
    args.threads = args.threads or [1, 2]
    args.seconds = args.seconds or ([1, 4] if args.quick else [1, 4, 60])
    args.batch = args.batch or ([1] if args.quick else [1, 4])
    args.runs = args.runs or (3 if args.quick else 5)
    if min(args.threads) < 1 or min(args.batch) < 1 or min(args.seconds) <= 0 or args.runs < 1:
        p.error("threads, batch, seconds and runs must be positive")
    return args


def without_coretype_overrides(args):
    """If OpenBLAS's core-type overrides are set (and not kept), run this script again without them
    (OpenBLAS reads them when NumPy loads it, so they must be gone before the process starts)."""
    found = {k: os.environ[k] for k in CORETYPE_ENV if k in os.environ}
    if not found or args.keep_blas_env or args.merge:
        return
    env = {k: v for k, v in os.environ.items() if k not in CORETYPE_ENV}
    env[UNSET_NOTE] = json.dumps(found)
    print("unset for this benchmark: " + ", ".join(f"{k}={v}" for k, v in found.items()) + " (--keep-blas-env keeps them)",
          flush=True)
    sys.exit(subprocess.run([sys.executable, str(Path(__file__).resolve()), *sys.argv[1:]], env=env).returncode)


def numba_allocations(forward, x):
    """Numba's allocations in one npsep forward pass (``None`` unless ``NUMBA_NRT_STATS`` was set
    before Numba was imported). They include a small record per NumPy array passed into a kernel."""
    from numba.core import config
    from numba.core.runtime import rtsys
    if not config.NRT_STATS:
        return None
    before = rtsys.get_allocation_stats()
    forward(x)
    return rtsys.get_allocation_stats().alloc - before.alloc


def main(argv=None):
    args = parse_args(argv)
    without_coretype_overrides(args)
    os.environ.setdefault("NUMBA_NRT_STATS", "1")  # read when Numba is imported, below
    if args.merge:
        report = merge_reports(args.merge)
        print_table(report["results"], report["contenders"])
        print_memory(report["memory"], report["contenders"])
        print(f"wrote {save_json(report, args.out)}")
        return
    import torch

    try:
        import onnxruntime  # noqa: F401
        have_ort = not args.no_ort
    except ImportError:
        print("onnxruntime is not installed: ONNX Runtime left out (pip install onnxruntime onnx)")
        have_ort = False
    contenders = [c for c in CONTENDERS if c != "ort" or have_ort]

    env = {k: os.environ.get(k) for k in BLAS_ENV}
    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical CPUs; {', '.join(cpu_flags()) or 'no AVX2'}); "
          f"load average {load_average()}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions().items() if v))
    print("environment: " + (", ".join(f"{k}={v}" for k, v in env.items() if v is not None) or "none of "
                             + ", ".join(BLAS_ENV) + " set"))
    unset = json.loads(os.environ.get(UNSET_NOTE, "{}"))
    if unset:
        print("unset for this run: " + ", ".join(f"{k}={v}" for k, v in unset.items()))
    if env["OPENBLAS_CORETYPE"] or env["OPENBLAS_L2_SIZE"]:
        print("WARNING: OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set (--keep-blas-env): they override "
              "OpenBLAS's CPU detection and can slow NumPy's SGEMM (and so npsep).")

    report = {"config": {"variant": VARIANT, "hparams": HPARAMS, "sample_rate": SAMPLE_RATE},
              "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
              "machine": {"cpu": cpu_name(), "logical_cpus": os.cpu_count(), "cpu_flags": cpu_flags(),
                          "load_average_start": load_average(), "platform": platform.platform()},
              "versions": versions(), "environment": env, "unset_for_the_run": unset, "contenders": contenders,
              "results": [], "memory": []}

    with tempfile.TemporaryDirectory(prefix="npsep-bench-") as tmp:
        workdir = Path(tmp)
        f4 = count_flops(HPARAMS, 4 * SAMPLE_RATE)
        line = (f"\nFLOPs of one 4 s input: {f4['total'] / 1e9:.1f} G, {100 * f4['gemm'] / f4['total']:.1f} % "
                f"in matrix products")
        print(line)
        print("building the model (random weights, perturbed norms) and converting it ...", flush=True)
        module, state_dict, npz, model = build_models(workdir, args.seed)
        set_threads(max(args.threads))
        report["blas_start"] = blas_info()
        print("OpenBLAS kernels: " + ", ".join(f"{Path(lib.get('filepath', '?')).name}: {lib.get('architecture')}"
                                               for lib in report["blas_start"] if lib.get("internal_api") == "openblas"))

        # parity, once, before any timing
        x = np.random.default_rng(args.seed + 1).standard_normal((2, 1, SAMPLE_RATE)).astype(np.float32)
        with torch.inference_mode():
            expected = module(torch.from_numpy(x)).numpy()
        err = rel_err(model.forward(x), expected)
        print(f"parity npsep vs PyTorch (1 s, batch 2): relative max error {err:.2e} (limit {PARITY_RTOL:g})")
        report["parity"] = {"npsep_vs_torch": err, "limit": PARITY_RTOL}
        if not err <= PARITY_RTOL:
            sys.exit(f"npsep does not match PyTorch (relative max error {err:.3e}): not timing it")

        onnx = workdir / "model.onnx" if have_ort else None
        if onnx is not None:
            t0 = time.perf_counter()
            export_onnx(module, onnx)
            print(f"exported ONNX (dynamic batch and time) in {time.perf_counter() - t0:.1f} s")
            err_ort = rel_err(ort_forward(ort_session(onnx, max(args.threads)))(x), expected)
            print(f"parity ONNX Runtime vs PyTorch (1 s, batch 2): relative max error {err_ort:.2e}")
            report["parity"]["ort_vs_torch"] = err_ort

        print()
        for n in ([] if args.memory_only else args.threads):
            set_threads(n)
            sess = ort_session(onnx, n) if onnx is not None else None
            for seconds in args.seconds:
                num_samples = int(round(seconds * SAMPLE_RATE))
                flops = count_flops(HPARAMS, num_samples)
                for batch in args.batch:
                    if batch > 1 and args.batch_max_seconds is not None and seconds > args.batch_max_seconds:
                        continue
                    x = np.random.default_rng(args.seed + 2).standard_normal((batch, 1, num_samples)).astype(np.float32)
                    fns = runners(module, model, sess)
                    sgemm_s = batch * measure_sgemm(flops["gemms"], reps=max(3, args.runs))
                    times, parity = time_case(fns, x, args.runs, args.warmup)
                    allocations = numba_allocations(model.forward, x)
                    med = {c: statistics.median(times[c]) for c in contenders}
                    gemm_flops, total_flops = batch * flops["gemm"], batch * flops["total"]
                    ratio = {"npsep/torch": med["npsep"] / med["torch"]}
                    if "ort" in med:
                        ratio["npsep/ort"] = med["npsep"] / med["ort"]
                    for c in contenders:
                        ratio[f"{c}/floor"] = med[c] / sgemm_s
                    row = {"threads": n, "seconds": seconds, "batch": batch, "samples": num_samples,
                           "frames": flops["frames"], "gflop": total_flops / 1e9, "gemm_gflop": gemm_flops / 1e9,
                           "gemm_share": gemm_flops / total_flops, "times_s": times, "median_s": med,
                           "min_s": {c: min(times[c]) for c in contenders},
                           "gemm_floor_s": sgemm_s, "sgemm_gflops": gemm_flops / sgemm_s / 1e9,
                           "ratio": ratio, "parity_vs_torch": parity, "numba_allocations": allocations,
                           "gflops_achieved": {c: total_flops / med[c] / 1e9 for c in contenders},
                           "load_average": load_average()}
                    report["results"].append(row)
                    save_json(report, args.out)  # after every case: a long run interrupted keeps its results
                    print(f"  {n} thread(s), {seconds:g} s x {batch}: "
                          + ", ".join(f"{LABELS[c]} {med[c]:.3f} s" for c in contenders)
                          + f", GEMM floor {sgemm_s:.3f} s ({row['sgemm_gflops']:.0f} GFLOP/s); "
                          + f"npsep / floor {ratio['npsep/floor']:.2f}; Numba allocations {allocations}; parity "
                          + ", ".join(f"{LABELS[c]} {e:.1e}" for c, e in parity.items()), flush=True)
                    for c, e in parity.items():
                        if e > (PARITY_RTOL if c == "npsep" else ORT_RTOL):
                            print(f"  WARNING: {LABELS[c]} differs from PyTorch by {e:.2e} here")
                    del x
            del sess
        report["blas"] = blas_info()  # after the runs: the thread counts show the last setting
        import numba
        try:
            report["numba_threading_layer"] = numba.threading_layer()
        except ValueError:  # no parallel kernel has run in this process
            report["numba_threading_layer"] = None

        if not args.no_memory:
            n = args.memory_threads or max(args.threads)
            print(f"\npeak memory, one fresh process per contender and case ({n} thread(s)) ...", flush=True)
            for seconds in args.seconds:
                num_samples = int(round(seconds * SAMPLE_RATE))
                for batch in args.batch:
                    if batch > 1 and args.batch_max_seconds is not None and seconds > args.batch_max_seconds:
                        continue
                    paths = {"npsep": npz, "torch": state_dict}
                    if onnx is not None:
                        paths["ort"] = onnx
                    row = {"threads": n, "seconds": seconds, "batch": batch}
                    for c in contenders:
                        row[c] = measure_memory(c, paths[c], n, num_samples, batch, TINY_SAMPLES)
                    report["memory"].append(row)
                    save_json(report, args.out)

    report["machine"]["load_average_end"] = load_average()
    print("\nmedian seconds of one forward pass; ratios of medians; floor = GEMM FLOPs / NumPy SGEMM rate "
          "on the same shapes (GF/s)")
    print_table(report["results"], contenders)
    print_memory(report["memory"], contenders)
    print("\nBLAS / OpenMP (threadpoolctl):")
    for lib in report["blas"]:
        print("  " + ", ".join(f"{k}={os.path.basename(v) if k == 'filepath' else v}"
                               for k, v in lib.items()))
    print(f"Numba threading layer: {report['numba_threading_layer']}")
    la = report["machine"]
    print(f"load average: start {la['load_average_start']}, end {la['load_average_end']} "
          f"on {la['logical_cpus']} CPUs")

    json_path = save_json(report, args.out)
    png = plot(report, args.out / "forward.png") if report["results"] else None
    print(f"\nwrote {json_path}" + (f" and {png}" if png else ""))


if __name__ == "__main__":
    main()
