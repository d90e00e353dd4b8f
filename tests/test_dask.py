"""``npsep separate --dask`` and ``separate_files(client=...)`` on local Dask clusters (127.0.0.1).

A tiny random improved SuDoRM-RF (8 kHz) stands in for a trained model: these tests check
the distribution (equal outputs, worker loss, resuming, the manifest), not separation
quality. Every cluster is a ``LocalCluster`` of worker processes bound to 127.0.0.1.
"""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from npsep import manifest, weights

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HP = dict(out_channels=16, in_channels=32, num_blocks=2, upsampling_depth=3,
          enc_kernel_size=21, enc_num_basis=32, num_sources=2)
RATE = 8000
WORKERS = 2
THREADS = str(max(1, (os.cpu_count() or 1) // WORKERS))  # what each local-cluster worker gets


def dask_available():
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


needs_dask = pytest.mark.skipif(not dask_available(),
                                reason="Dask is not installed (pip install 'npsep[dask]')")


def npsep(*args, wait=True):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
               NUMBA_NUM_THREADS=THREADS, OMP_NUM_THREADS=THREADS, OPENBLAS_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "npsep.cli", *map(str, args)]
    if not wait:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env, cwd=REPO)
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=REPO)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.npz"
    weights.save(path, weights.random_tensors("improved", HP, seed=3),
                 weights.make_config("improved", HP))
    p = npsep("warmup", "--model", path)
    assert p.returncode == 0, p.stderr
    return path


def write_corpus(folder, count, seconds):
    """``count`` distinct noisy tones of ``seconds`` each, as 32-bit float WAV files."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(count)
    t = np.arange(int(seconds * RATE)) / RATE
    for i in range(count):
        x = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 1500) * t)
        x = x + 0.05 * rng.standard_normal(len(t))
        sf.write(folder / f"f{i:02d}.wav", x.astype(np.float32), RATE, subtype="FLOAT")
    return sorted(folder.iterdir())


def expected_outputs(inputs, out):
    return sorted(str(out / f"{p.stem}_s{k}.wav") for p in inputs for k in (1, 2))


def final_files(out):
    """Every file in ``out`` except the manifest (temporary files included)."""
    return sorted(str(out / n) for n in os.listdir(out) if n != manifest.MANIFEST_NAME)


def assert_complete(paths, frames):
    for p in paths:
        info = sf.info(p)
        assert (info.frames, info.samplerate, info.subtype) == (frames, RATE, "FLOAT"), p


# --- without Dask ------------------------------------------------------------------------

BLOCK_DASK = """
import sys
class NoDask:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("dask", "distributed"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, NoDask())
from npsep.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_without_dask_one_line_saying_how_to_install(model, tmp_path):
    write_corpus(tmp_path / "in", 2, 0.5)
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([sys.executable, "-c", BLOCK_DASK, "separate", tmp_path / "in", "-o",
                        tmp_path / "out", "--model", model, "--dask"],
                       capture_output=True, text=True, env=env, timeout=120, cwd=REPO)
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in p.stderr, p.stderr
    assert lines[0].startswith("npsep separate: error: --dask needs"), p.stderr
    assert "pip install 'npsep[dask]'" in lines[0]
    assert not (tmp_path / "out").exists()


def test_address_and_jobs_exclude_each_other(model, tmp_path):
    write_corpus(tmp_path / "in", 1, 0.5)
    p = npsep("separate", tmp_path / "in", "-o", tmp_path / "out", "--model", model,
              "--dask=tcp://127.0.0.1:1", "--jobs", "2")
    assert p.returncode == 1 and p.stderr.count("\n") == 1, p.stderr
    assert "--jobs sets the workers of a local cluster" in p.stderr


def test_dask_refuses_standard_output(model, tmp_path):
    write_corpus(tmp_path / "in", 1, 0.5)
    p = npsep("separate", tmp_path / "in" / "f00.wav", "-o", "-", "--model", model, "--dask")
    assert p.returncode == 1 and p.stdout == "" and p.stderr.count("\n") == 1, p.stderr
    assert "--dask writes the sources to a folder" in p.stderr


def test_dask_taking_an_input_as_its_address_is_explained(model, tmp_path):
    write_corpus(tmp_path / "in", 1, 0.5)
    p = npsep("separate", "--dask", tmp_path / "in", "-o", tmp_path / "out", "--model", model)
    assert p.returncode != 0 and "Traceback" not in p.stderr
    # argparse took the folder as ADDRESS and then misses INPUT, or npsep refuses the address
    assert "INPUT" in p.stderr or "write --dask after the inputs" in p.stderr, p.stderr


def test_temporaries_of_other_hosts_are_left_alone(tmp_path):
    """Process ids are per machine: in a folder the cluster's hosts share, a dead-looking
    pid of another host may be a live worker there, so only this host's dead ones go."""
    from npsep import audio
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pid = int(dead.stdout)
    other = "%08x" % (int(audio.host_tag(), 16) ^ 1)
    names = {"mine": f".npsep-{pid}@{audio.host_tag()}-ab1.part",
             "other": f".npsep-{pid}@{other}-ab2.part", "legacy": f".npsep-{pid}-ab3.part"}
    for n in names.values():
        (tmp_path / n).write_bytes(b"x")
    audio.remove_dead_temporaries(tmp_path)
    assert os.listdir(tmp_path) == [names["other"]]
    w = audio.AtomicWriter(tmp_path / "a.wav", RATE, 1, "WAV", "FLOAT")
    assert audio.TEMP_PATTERN.match(os.path.basename(w.tmp)).group(2) == audio.host_tag()
    w.abort()


# --- on a local cluster -------------------------------------------------------------------

@needs_dask
def test_cluster_equals_serial_sample_for_sample(model, tmp_path):
    inputs = write_corpus(tmp_path / "in", 40, 0.25)
    serial, dask = tmp_path / "serial", tmp_path / "dask"
    p = npsep("separate", tmp_path / "in", "-o", serial, "--model", model, "-q")
    assert p.returncode == 0, p.stderr
    p = npsep("separate", tmp_path / "in", "-o", dask, "--model", model, "-q",
              "--jobs", WORKERS, "--dask")
    assert p.returncode == 0, p.stderr
    assert final_files(dask) == expected_outputs(inputs, dask)
    for name in os.listdir(serial):
        a, b = sf.read(serial / name)[0], sf.read(dask / name)[0]
        assert a.shape == b.shape and np.array_equal(a, b), name
    lines = manifest.read(dask)
    assert sorted(e["input"] for e in lines) == sorted(map(str, inputs))
    assert {e["status"] for e in lines} == {"done"}
    assert all(e["duration"] == 0.25 and e["error"] is None for e in lines)


@needs_dask
def test_worker_killed_mid_run_every_file_completes(model, tmp_path):
    from npsep.batch import separate_files
    from npsep.cluster import connect
    inputs = write_corpus(tmp_path / "in", 40, 0.5)
    (tmp_path / "in" / "bad.wav").write_text("not audio")
    out = tmp_path / "out"
    killed = []

    with connect(None, WORKERS) as client:
        def kill_a_busy_worker(result):
            if killed or not result.ok:  # bad.wav is refused before any task starts
                return
            busy = [addr for addr, keys in client.processing().items() if keys]
            pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

        results = separate_files([tmp_path / "in"], out, model, client=client,
                                 on_result=kill_a_busy_worker)
    assert killed
    failed = [r for r in results if not r.ok]
    assert [os.path.basename(r.input) for r in failed] == ["bad.wav"]
    assert sum(r.ok for r in results) == 40
    assert final_files(out) == expected_outputs(inputs, out)  # nothing partial, no temporaries
    assert_complete(final_files(out), int(0.5 * RATE))
    lines = manifest.read(out)
    assert len(lines) == 41  # each input once: the bad file is not retried
    assert sorted(e["input"] for e in lines if e["status"] == "done") == sorted(map(str, inputs))
    [bad] = [e for e in lines if e["status"] == "failed"]
    assert bad["input"].endswith("bad.wav") and bad["error"]


@needs_dask
def test_interrupted_client_rerun_does_only_the_rest(model, tmp_path):
    inputs = write_corpus(tmp_path / "in", 40, 2.0)
    out = tmp_path / "out"
    command = ("separate", tmp_path / "in", "-o", out, "--model", model, "--skip-existing",
               "-q", "--jobs", WORKERS, "--dask")
    run = npsep(*command, wait=False)
    deadline = time.monotonic() + 240
    while len(manifest.read(out)) < 4 and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 130 and "interrupted" in stderr, stderr
    first = manifest.read(out)
    assert 4 <= len(first) < 40 and {e["status"] for e in first} == {"done"}

    # what the interrupted run left under final names is whole sets of complete files
    names = [n for n in os.listdir(out) if n.endswith(".wav") and not n.startswith(".")]
    stems = {n.rsplit("_s", 1)[0] for n in names}
    assert sorted(names) == sorted(f"{s}_s{k}.wav" for s in stems for k in (1, 2))
    assert_complete([out / n for n in names], 2 * RATE)
    assert {os.path.basename(e["input"])[:-4] for e in first} <= stems
    mtimes = {n: os.stat(out / n).st_mtime_ns for n in names}

    p = npsep(*command)
    assert p.returncode == 0, p.stderr
    second = manifest.read(out)[len(first):]
    assert sorted(e["input"] for e in second) == sorted(map(str, inputs))
    skipped = {os.path.basename(e["input"])[:-4] for e in second if e["status"] == "skipped"}
    done = {os.path.basename(e["input"])[:-4] for e in second if e["status"] == "done"}
    assert skipped == stems and done == {p.stem for p in inputs} - stems
    assert {n: os.stat(out / n).st_mtime_ns for n in names} == mtimes  # not written again
    assert final_files(out) == expected_outputs(inputs, out)
    assert_complete(final_files(out), 2 * RATE)
