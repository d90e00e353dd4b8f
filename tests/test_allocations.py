"""A forward pass in steady state allocates no memory in Numba: every buffer comes from the workspace.

Numba counts its allocations when ``NUMBA_NRT_STATS=1`` is set before it is imported, so the
forward passes run in a child process. The counter also counts the small record (a "MemInfo")
Numba makes for each NumPy array handed to a compiled kernel from Python, one per array
argument per call, freed when the call returns: those are not memory for data. So the child
counts those arrays too (every call into a compiled kernel from Python goes through the
dispatcher's ``__call__``, which it wraps; arrays inside tuples count one each) and the test
asserts that a forward pass allocates exactly one record per array argument and frees
everything it allocates: zero allocations for data. Any scratch row, column block or
statistic allocated inside a kernel would break the equality (and, allocated per channel or
per block, make the count grow with the input's length or the model's width, which is
checked as well).
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from torch_reference import build, save_state_dict
from weights_convert.convert import convert

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, os, sys
os.environ["NUMBA_NRT_STATS"] = "1"
import numpy as np
import npsep
from numba.core import dispatcher
from numba.core.runtime import rtsys

arrays = [0]  # NumPy arrays handed to compiled kernels from Python so far


def count(value):
    if isinstance(value, np.ndarray):
        return 1
    return sum(map(count, value)) if isinstance(value, tuple) else 0


compiled_call = dispatcher.Dispatcher.__call__


def counting_call(self, *args, **kwargs):
    arrays[0] += count(args) + count(tuple(kwargs.values()))
    return compiled_call(self, *args, **kwargs)


dispatcher.Dispatcher.__call__ = counting_call  # every call of a kernel from Python, serial or parallel

npsep.set_num_threads(int(sys.argv[1]))
counts = {}
for path in sys.argv[3:]:
    model = npsep.load(path)
    for T in json.loads(sys.argv[2]):
        x = np.random.default_rng(T).standard_normal((1, 1, T)).astype(np.float32)
        model.forward(x)  # warm-up: compiles, and sizes the workspace for this length
        model.forward(x)
        before, arrays_before = rtsys.get_allocation_stats(), arrays[0]
        model.forward(x)
        after = rtsys.get_allocation_stats()
        counts[f"{os.path.basename(path)} T={T}"] = dict(alloc=after.alloc - before.alloc, free=after.free - before.free,
                                                         arrays=arrays[0] - arrays_before)
print(json.dumps(counts))
"""


def random_model(variant, hp, path):
    torch.manual_seed(0)
    module = build(variant, hp).eval()
    save_state_dict(module, path.with_suffix(".pt"))
    convert(path.with_suffix(".pt"), path, variant=variant, group_size=hp.get("group_size"))
    return path


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("variant", ["improved", "original", "groupcomm"])
def test_forward_allocates_nothing_but_a_record_per_array_argument(variant, threads, tmp_path):
    narrow = dict(out_channels=8, in_channels=16, num_blocks=2, upsampling_depth=4, enc_kernel_size=21,
                  enc_num_basis=16, num_sources=2)
    if variant == "groupcomm":
        narrow["group_size"] = 2
    wide = dict(narrow, out_channels=16, in_channels=48, enc_num_basis=40)
    paths = [random_model(variant, hp, tmp_path / f"{name}.npz") for name, hp in (("narrow", narrow), ("wide", wide))]
    lengths = [1600, 10 * 1600 + 323]  # the second: more frames, more column blocks, odd level lengths
    run = subprocess.run([sys.executable, "-c", CHILD, str(threads), json.dumps(lengths), *map(str, paths)],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    counts = json.loads(run.stdout.strip().splitlines()[-1])
    assert len(counts) == 4
    assert all(c["arrays"] > 0 and c["alloc"] == c["arrays"] for c in counts.values()), counts
    assert all(c["free"] == c["alloc"] for c in counts.values()), counts
    allocs = {name: c["alloc"] for name, c in counts.items()}
    assert len(set(allocs.values())) == 1, allocs
