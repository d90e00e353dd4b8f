"""Installation: compiled kernels live in npsep's cache folder (never in the package), a damaged
or unwritable cache degrades to recompiling with at most one line said, the first compilation is
announced once, and a namespace-package shadow of npsep is named in one line."""
import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

RUN_MODEL = """
import numpy as np, npsep
from npsep import weights
hp = dict(out_channels=8, in_channels=16, num_blocks=1, upsampling_depth=3, enc_kernel_size=21,
          enc_num_basis=16, num_sources=2)
m = npsep.Model(weights.make_config("improved", hp), weights.random_tensors("improved", hp, seed=0))
print(float(np.abs(m.separate(np.sin(np.arange(800, dtype=np.float32))).sum())))
"""


def run(code, **env):
    base = {"PATH": "/usr/bin:/bin", "NUMBA_NUM_THREADS": "1", "PYTHONPATH": REPO,
            "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run([sys.executable, "-c", code], env={**base, **env}, capture_output=True,
                          text=True, timeout=600)


def kernel_cache_files(folder):
    return sorted(os.path.join(r, f) for r, _, fs in os.walk(folder) for f in fs
                  if f.endswith((".nbi", ".nbc")))


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """A first run with an empty cache folder: ``(NPSEP_HOME, the process)``."""
    home = tmp_path_factory.mktemp("home")
    return home, run(RUN_MODEL, NPSEP_HOME=str(home))


def test_kernels_are_cached_under_npsep_home_and_compiled_once_with_one_notice(first_run):
    home, first = first_run
    assert first.returncode == 0, first.stderr
    assert first.stderr.count("compiling the kernels") == 1 and len(first.stderr.splitlines()) == 1
    assert kernel_cache_files(home / "numba")
    second = run(RUN_MODEL, NPSEP_HOME=str(home))
    assert second.returncode == 0 and second.stderr == "" and second.stdout == first.stdout


def test_damaged_cache_entries_are_discarded_and_recompiled(first_run, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(first_run[0], home)
    index = [p for p in kernel_cache_files(home / "numba") if p.endswith(".nbi")]
    data = [p for p in kernel_cache_files(home / "numba") if p.endswith(".nbc")]
    for path, damage in ((index[0], "truncate"), (index[1], "random"), (data[0], "random")):
        content = open(path, "rb").read()
        with open(path, "wb") as f:
            f.write(content[:len(content) // 3] if damage == "truncate" else os.urandom(len(content)))
    again = run(RUN_MODEL, NPSEP_HOME=str(home))
    assert again.returncode == 0, again.stderr
    assert "Error" not in again.stderr and len(again.stderr.splitlines()) <= 1
    assert again.stdout == first_run[1].stdout
    healed = run(RUN_MODEL, NPSEP_HOME=str(home))  # the damaged entries were rewritten
    assert healed.returncode == 0 and healed.stderr == "" and healed.stdout == again.stdout


def test_no_writable_cache_compiles_in_memory_after_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    p = run(RUN_MODEL, NPSEP_HOME=str(blocker))
    assert p.returncode == 0, p.stderr
    assert p.stderr.count("\n") == 1 and "compiling them in memory" in p.stderr, p.stderr
    assert float(p.stdout) > 0


def test_a_namespace_package_shadow_is_named_in_one_line(tmp_path):
    """A leftover ``npsep/`` without ``__init__.py`` (e.g. caches an old install wrote) found
    first on ``sys.path``, while the real modules are still found (as an editable install's
    finder does): the command line says what is wrong instead of failing obscurely."""
    shadow = tmp_path / "site" / "npsep" / "kernels" / "__pycache__"
    shadow.mkdir(parents=True)
    code = ("import sys\n"
            f"sys.path.insert(0, {str(tmp_path / 'site')!r})\n"
            "import npsep\n"
            "assert npsep.__file__ is None\n"
            f"npsep.__path__.append({os.path.join(REPO, 'npsep')!r})\n"
            "import npsep.cli\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={"PATH": "/usr/bin:/bin"}, cwd=tmp_path, timeout=120)
    assert p.returncode == 1
    assert p.stderr.strip().splitlines() == [p.stderr.strip()]
    assert "namespace package" in p.stderr and str(tmp_path / "site" / "npsep") in p.stderr
