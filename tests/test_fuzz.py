"""Fuzz the checkpoint reader and the weights reader with damaged copies of valid files.

Random bit flips (anywhere, or in the zip directory), runs of random bytes,
truncations, and damage inside an entry of an otherwise intact zip (the pickle,
the config, ``.npy`` headers) (``hostile.mutate``, seeded, so a failing seed can
be replayed) of the golden checkpoints and of weights files converted from them
must each give a result or one :class:`npsep.errors.NpsepError` line: no other
exception, no hang, no running out of memory. The cases run in a few child processes limited to 1 GiB of address space,
each case stopped after 10 s (``hostile.run_batch``).
"""
from concurrent.futures import ThreadPoolExecutor

import pytest

import weights_convert
from hostile import run_batch
from torch_reference import FIXTURES

FIXTURE_NAMES = ("original_tiny", "improved_tiny", "groupcomm_tiny")
CASES_PER_FILE = 170  # 510 checkpoints and 510 weights files


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("converted")
    paths = []
    for name in FIXTURE_NAMES:
        weights_convert.convert(FIXTURES / f"{name}.pt", folder / f"{name}.npz")
        paths.append(folder / f"{name}.npz")
    return paths


def fuzz(reader, sources):
    """Run every source's cases, two children at a time; return all outcomes."""
    seeds = range(CASES_PER_FILE)
    with ThreadPoolExecutor(2) as pool:
        batches = pool.map(lambda source: run_batch(reader, source, seeds), sources)
        return [outcome for batch in batches for outcome in batch]


def assert_contained(outcomes):
    """Only results and one-line NpsepErrors; and the damage reaches past the first check."""
    bad = [o for o in outcomes if o["outcome"] not in ("ok", "error") or "\n" in o["message"]
           or "out of memory" in o["message"]]  # a MemoryError under 1 GiB: unbounded work
    assert not bad, bad[:3]
    assert len(outcomes) == CASES_PER_FILE * len(FIXTURE_NAMES)
    kinds = {o["message"].split(":")[1].split("(")[0].strip() for o in outcomes
             if o["outcome"] == "error" and ":" in o["message"]}
    assert len(kinds) >= 3, kinds  # not all refused for one reason


def test_damaged_checkpoints(tmp_path):
    assert_contained(fuzz("convert", [FIXTURES / f"{name}.pt" for name in FIXTURE_NAMES]))


def test_damaged_weights_files(converted):
    assert_contained(fuzz("weights", converted))
