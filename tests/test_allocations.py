"""A forward pass in steady state allocates no memory in Numba: every buffer comes from the workspace.

Numba counts its allocations when ``NUMBA_NRT_STATS=1`` is set before it is imported, so the
forward passes run in a child process. The counter also counts the small record Numba makes
for each NumPy array handed to a compiled kernel from Python (one per array argument per
call, a fixed number per forward pass): those are not memory for data. So the test asserts
that the count does not change when the input gets longer or the model gets wider. Any
scratch row, column block or statistic allocated inside a kernel would be allocated once per
channel, per block or per call of a kernel that runs per channel, and would change it.
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
from numba.core.runtime import rtsys

npsep.set_num_threads(int(sys.argv[1]))
counts = {}
for path in sys.argv[3:]:
    model = npsep.load(path)
    for T in json.loads(sys.argv[2]):
        x = np.random.default_rng(T).standard_normal((1, 1, T)).astype(np.float32)
        model.forward(x)  # warm-up: compiles, and sizes the workspace for this length
        model.forward(x)
        before = rtsys.get_allocation_stats()
        model.forward(x)
        after = rtsys.get_allocation_stats()
        counts[f"{os.path.basename(path)} T={T}"] = [after.alloc - before.alloc, after.free - before.free]
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
def test_forward_allocations_do_not_grow_with_input_or_channels(variant, threads, tmp_path):
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
    allocs = {name: alloc for name, (alloc, free) in counts.items()}
    assert len(set(allocs.values())) == 1, allocs
    assert all(alloc == free for alloc, free in counts.values()), counts
