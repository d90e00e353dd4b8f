"""Compile settings: a second process loads every kernel from Numba's cache, a warm-up readies every
build a forward pass can run; thread control."""
import json
import subprocess
import sys

import pytest

import npsep
import npsep.threads

MODEL = """
import json, sys
import numpy as np
import npsep
from npsep import kernels, weights
from npsep.kernels import conv, gemm, masks, norm, pyramid, tac
hp = dict(out_channels=8, in_channels=16, num_blocks=1, upsampling_depth=3, enc_kernel_size=21,
          enc_num_basis=16, num_sources=2)
model = npsep.Model(weights.make_config("improved", hp), weights.random_tensors("improved", hp))
"""

COMPILED = """
dispatchers = []
for module in (conv, gemm, masks, norm, pyramid, tac):
    for name in dir(module):
        f = getattr(module, name)
        dispatchers += [d for d in (f, getattr(f, "serial", None), getattr(f, "parallel", None))
                        if hasattr(d, "stats")]
print(json.dumps({"hits": sum(len(d.stats.cache_hits) for d in dispatchers),
                  "misses": sum(len(d.stats.cache_misses) for d in dispatchers)}))
"""

RUN_MODEL = MODEL + "model.forward(np.ones(500, np.float32))" + COMPILED

RUN_EVERYTHING = MODEL + """
for threads in (1, 2):  # short inputs run the serial builds; long ones, on 2 threads, also parallel ones
    npsep.set_num_threads(threads)
    for T in (500, 80000):
        model.forward(np.ones(T, np.float32))
""" + COMPILED


def test_second_process_compiles_nothing(tmp_path):
    env = {"NUMBA_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "NUMBA_NUM_THREADS": "1"}
    runs = [json.loads(subprocess.run([sys.executable, "-c", RUN_MODEL], env=env, capture_output=True,
                                      text=True, check=True).stdout) for _ in range(2)]
    assert runs[0]["misses"] > 0  # the first process compiled (and wrote the cache)
    assert runs[1]["misses"] == 0 and runs[1]["hits"] > 0  # the second loaded it all


def test_warmup_on_one_thread_readies_every_build_of_every_kernel(tmp_path):
    env = {"NUMBA_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "NUMBA_NUM_THREADS": "1"}
    warm = subprocess.run([sys.executable, "-c", MODEL + "model.warmup()" + COMPILED], env=env,
                          capture_output=True, text=True, check=True)
    assert json.loads(warm.stdout)["misses"] > 0
    run = subprocess.run([sys.executable, "-c", RUN_EVERYTHING], env=dict(env, NUMBA_NUM_THREADS="2"),
                         capture_output=True, text=True, check=True)
    counts = json.loads(run.stdout)
    assert counts["misses"] == 0 and counts["hits"] > 0, counts


def test_set_num_threads_sets_numba_and_blas():
    before = npsep.get_num_threads()
    try:
        npsep.set_num_threads(1)
        assert npsep.get_num_threads()[0] == 1
        if npsep.threads.blas_threads_settable():
            assert npsep.get_num_threads()[1] == 1
        with pytest.raises(ValueError):
            npsep.set_num_threads(0)
    finally:
        npsep.set_num_threads(before[0])


@pytest.mark.parametrize("asked", [None, "workqueue"])
def test_threading_layer_is_openmp_unless_asked(asked):
    """OpenMP's spinning workers start parallel regions fastest (see npsep._jit); an explicit
    NUMBA_THREADING_LAYER still wins."""
    code = ("import numpy as np, numba, npsep\n"
            "from npsep.kernels.norm import channel_stats\n"
            "y = np.ones((64, 4096), np.float32)\n"
            "channel_stats.parallel(y, np.empty((64, 2)))\n"
            "print(numba.threading_layer())")
    env = {"PATH": "/usr/bin:/bin", "NUMBA_NUM_THREADS": "2"}
    if asked:
        env["NUMBA_THREADING_LAYER"] = asked
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert run.stdout.strip() == (asked or "omp")


@pytest.mark.skipif(not npsep.threads.blas_threads_settable(), reason="no OpenBLAS found")
def test_forward_holds_blas_at_one_thread_and_restores_it():
    before = npsep.get_num_threads()
    seen = []
    try:
        npsep.set_num_threads(2)
        with npsep.threads.blas_pinned():
            seen.append(npsep.get_num_threads()[1])
        assert seen == [1] and npsep.get_num_threads()[1] == 2
    finally:
        npsep.set_num_threads(before[0])
