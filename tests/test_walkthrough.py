"""examples/walkthrough.py: it runs, its numbers are the page's, and its step-by-step forward pass
is the model's.

Tolerances: the script computes in float64 with the oracle's operations one by one, so against
:func:`npsep.reference.forward` in float64 the two differ only by summation order (1e-12 absolute
on outputs of size ~1). The fast path and PyTorch run in float32: relative error 1e-4 on the whole
output, the tolerance of the model-level parity tests.
"""
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from npsep import reference, weights
from npsep.model import Model

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "walkthrough.py"
PAGE = ROOT / "docs" / "walkthrough.md"
RTOL_FLOAT32 = 1e-4


@pytest.fixture(scope="module")
def walkthrough():
    spec = importlib.util.spec_from_file_location("walkthrough", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rel_err(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def test_script_runs_and_prints_every_section(walkthrough):
    run = subprocess.run([sys.executable, str(SCRIPT)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    names = [name for name, _ in walkthrough.sections()]
    assert [line[3:] for line in run.stdout.splitlines() if line.startswith("## ")] == names
    assert {"frames", "encoder", "globln", "pyramid", "merge", "masks", "decoder", "exercises"} <= set(names)


def test_every_section_of_the_page_is_the_scripts_output(walkthrough):
    text = PAGE.read_text()
    for name, body in walkthrough.sections():
        block = f"<!-- generated:wt-{name} -->\n{body}\n<!-- /generated:wt-{name} -->"
        assert block in text, f"docs/walkthrough.md section {name!r} differs: run python scripts/docs_tables.py"


def test_step_by_step_equals_the_oracles_forward(walkthrough):
    p, x = walkthrough.tiny_weights(), walkthrough.mixture()
    _, sources = walkthrough.run(p, x)
    expected = reference.forward(walkthrough.VARIANT, walkthrough.HP, p, x)
    assert sources.shape == (walkthrough.HP["num_sources"], walkthrough.T)
    np.testing.assert_allclose(sources, expected, rtol=0, atol=1e-12)


def test_step_by_step_equals_the_fast_path(walkthrough):
    p, x = walkthrough.tiny_weights(), walkthrough.mixture()
    _, sources = walkthrough.run(p, x)
    tensors = {k: v.astype(np.float32) for k, v in p.items()}
    model = Model(weights.make_config(walkthrough.VARIANT, walkthrough.HP), tensors)
    fast = model.forward(x.astype(np.float32))[0]
    assert rel_err(fast, sources) <= RTOL_FLOAT32


def test_step_by_step_equals_pytorch(walkthrough):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install -e '.[test]')")
    from torch_reference import build
    p, x = walkthrough.tiny_weights(), walkthrough.mixture()
    _, sources = walkthrough.run(p, x)
    module = build(walkthrough.VARIANT, walkthrough.HP).eval()
    state = module.state_dict()
    module.load_state_dict({k: torch.from_numpy(p[k].astype(np.float32)).reshape(state[k].shape) for k in state})
    with torch.no_grad():
        out = module(torch.from_numpy(x.astype(np.float32)).reshape(1, 1, -1)).numpy()[0]
    assert rel_err(out, sources) <= RTOL_FLOAT32


def test_a_changed_weight_changes_the_numbers(walkthrough):
    """The checks above can fail: one weight more gives other sources (and another page)."""
    p = walkthrough.tiny_weights()
    _, before = walkthrough.run(p)
    p["encoder.weight"] = p["encoder.weight"] + 0.1
    _, after = walkthrough.run(p)
    assert np.abs(after - before).max() > 1e-3
