"""``npsep`` options beyond the basics, driven as a user would (subprocesses on files the test
writes): resume, formats, standard input/output, globs, hostile inputs, strict JSON, and
all-or-nothing outputs under concurrency and termination."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from npsep import weights
from npsep.batch import collect_inputs

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HP = dict(out_channels=16, in_channels=32, num_blocks=2, upsampling_depth=3,
          enc_kernel_size=21, enc_num_basis=32, num_sources=2)


ENV = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
           NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")


def npsep(*args, stdin=None, text=True, module="npsep.cli"):
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], input=stdin,
                          capture_output=True, text=text, env=ENV, timeout=300)


def error_line(p, command="separate"):
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"npsep {command}: error: "), p.stderr
    return lines[0]


def read(path):
    """The samples (float WAV files also hold a time stamp, so their bytes differ run to run)."""
    return sf.read(path, dtype="float32")[0]


def make_model(path, seed):
    weights.save(path, weights.random_tensors("improved", HP, seed=seed),
                 weights.make_config("improved", HP))
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = make_model(tmp_path_factory.mktemp("model") / "tiny.npz", seed=1)
    p = npsep("warmup", "--model", path)
    assert p.returncode == 0, p.stderr
    return path


@pytest.fixture(scope="module")
def wav(tmp_path_factory):
    path = tmp_path_factory.mktemp("in") / "mix.wav"
    rng = np.random.default_rng(0)
    sf.write(path, (0.2 * rng.standard_normal((16000, 2))).astype(np.float32), 16000, subtype="FLOAT")
    return path


# --- the command line itself ------------------------------------------------------------

def test_version_module_entry_debug_after_the_command_and_info_default(tmp_path):
    from npsep import __version__
    for module in ("npsep", "npsep.cli"):
        p = npsep("--version", module=module)
        assert p.returncode == 0 and p.stdout.strip() == f"npsep {__version__}"
    (tmp_path / "text.wav").write_text("not audio\n" * 10)
    p = npsep("separate", tmp_path / "text.wav", "-o", tmp_path / "out", "--debug")
    assert p.returncode == 1 and "Traceback" in p.stderr
    p = npsep("info", "--json")  # no model named: the bundled one
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["sample_rate"] == 8000


def test_a_reader_that_went_away_ends_the_command_quietly():
    """``npsep models --json | head -0``: stdout's pipe is closed before anything is written."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        p = subprocess.run([sys.executable, "-m", "npsep.cli", "models", "--json"], stdout=write_end,
                           stderr=subprocess.PIPE, text=True, env=ENV, timeout=300)
    finally:
        os.close(write_end)
    assert p.returncode == 141 and p.stderr == "", p.stderr


def test_model_error_is_exported():
    import npsep
    from npsep.models import ModelError
    assert npsep.ModelError is ModelError and "ModelError" in npsep.__all__
    assert issubclass(npsep.ModelError, npsep.NpsepError)


def test_eval_refuses_references_that_swallowed_the_estimates_and_prints_strict_json(tmp_path):
    x = np.random.default_rng(1).standard_normal((800, 1)).astype(np.float32)
    sf.write(tmp_path / "e.wav", x, 8000, subtype="FLOAT")
    sf.write(tmp_path / "silent.wav", np.zeros_like(x), 8000, subtype="FLOAT")
    p = npsep("eval", "--ref", tmp_path / "e.wav", tmp_path / "silent.wav")
    assert p.returncode == 1 and "--ref took all 2 files" in error_line(p, "eval")
    p = npsep("eval", tmp_path / "e.wav", "--ref", tmp_path / "silent.wav", "--json")
    assert p.returncode == 0, p.stderr

    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")
    r = json.loads(p.stdout, parse_constant=refuse)  # a silent reference: SI-SDR undefined
    assert r["si_sdr"] == [None] and r["mean_si_sdr"] is None


# --- batches: resume, folders, globs ----------------------------------------------------

def test_skip_existing_resumes_and_the_readme_command_can_run_twice(model, wav, tmp_path):
    out = tmp_path / "out"
    p = npsep("separate", wav, "-o", out, "--model", model, "--skip-existing")
    assert p.returncode == 0, p.stderr
    assert "s of audio" in p.stdout and "real time" in p.stdout
    stamps = {f: os.stat(out / f).st_mtime_ns for f in os.listdir(out)}
    p = npsep("separate", wav, "-o", out, "--model", model, "--skip-existing")
    assert p.returncode == 0 and "skipped" in p.stdout, p.stderr
    assert {f: os.stat(out / f).st_mtime_ns for f in os.listdir(out)} == stamps
    p = npsep("separate", wav, "-o", out, "--model", model)
    assert p.returncode == 1 and "--skip-existing" in error_line(p)


def test_globs_reach_every_depth_and_earlier_outputs_are_not_inputs(tmp_path):
    for rel in ("a.wav", "x/b.wav", "x/y/c.wav", "old/a_s1.wav", "old/a_s2.wav", "song_s1.wav"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    items, _ = collect_inputs([tmp_path], ["**/*.wav"])
    assert sorted(os.path.relpath(p, tmp_path) for p, _ in items) == [
        "a.wav", "song_s1.wav", "x/b.wav", "x/y/c.wav"]  # a_s1/a_s2: an earlier separation
    items, _ = collect_inputs([tmp_path], ["x/**/*.wav"])
    assert sorted(os.path.relpath(p, tmp_path) for p, _ in items) == ["x/b.wav", "x/y/c.wav"]
    items, _ = collect_inputs([tmp_path], ["[ab].wav"])
    assert [os.path.relpath(p, tmp_path) for p, _ in items] == ["a.wav", "x/b.wav"]


# --- formats, standard streams, output folder -------------------------------------------

def test_format_subtype_and_compression_choose_the_output(model, wav, tmp_path):
    p = npsep("separate", wav, "-o", tmp_path, "--model", model, "--format", "flac", "-q")
    assert p.returncode == 0, p.stderr
    info = sf.info(tmp_path / "mix_s1.flac")
    assert (info.format, info.subtype, info.frames, info.samplerate) == ("FLAC", "PCM_16", 16000, 16000)
    p = npsep("separate", wav, "-o", tmp_path / "ogg", "--model", model, "--format", "OGG",
              "--subtype", "VORBIS", "--compression", "0.9", "-q")
    assert p.returncode == 0, p.stderr
    assert sf.info(tmp_path / "ogg" / "mix_s2.ogg").subtype == "VORBIS"
    p = npsep("separate", wav, "-o", tmp_path / "bad", "--model", model, "--format", "FLAC",
              "--subtype", "FLOAT")
    assert p.returncode == 1 and "cannot write format FLAC with encoding FLOAT" in p.stderr
    assert not (tmp_path / "bad").exists()


def test_standard_input_to_standard_output_is_one_wav_stream(model, wav, tmp_path):
    p = npsep("separate", "-", "-o", "-", "--model", model, stdin=wav.read_bytes(), text=False)
    assert p.returncode == 0, p.stderr
    (tmp_path / "out.wav").write_bytes(p.stdout)
    y, rate = sf.read(tmp_path / "out.wav", dtype="float32")
    assert rate == 16000 and y.shape == (16000, 4)  # source 1's two channels, then source 2's
    assert npsep("separate", wav, "-o", tmp_path / "files", "--model", model, "-q").returncode == 0
    for k in (1, 2):
        np.testing.assert_array_equal(sf.read(tmp_path / "files" / f"mix_s{k}.wav",
                                              dtype="float32")[0], y[:, 2 * k - 2:2 * k])


def test_o_naming_a_file_is_an_error_and_a_refused_input_creates_no_folder(model, wav, tmp_path):
    p = npsep("separate", wav, "-o", tmp_path / "out.wav", "--model", model)
    assert p.returncode == 1 and "-o takes a folder" in error_line(p)
    p = npsep("separate", tmp_path / "missing.wav", "-o", tmp_path / "new" / "out", "--model", model)
    assert p.returncode == 1 and "no such file" in error_line(p)
    assert sorted(os.listdir(tmp_path)) == []


# --- inputs a user should not have given ------------------------------------------------

def test_hostile_inputs_are_refused_in_one_line(model, wav, tmp_path):
    fifo = tmp_path / "fifo.wav"
    os.mkfifo(fifo)
    for args, command in ((("separate", fifo, "-o", tmp_path / "o", "--model", model), "separate"),
                          (("eval", fifo, "--ref", wav), "eval")):
        p = npsep(*args)  # a hang would hit the timeout
        assert p.returncode == 1 and "not a regular file" in error_line(p, command)
    huge = tmp_path / "huge.wav"
    x = np.zeros((100, 1))
    x[10] = 1e300
    sf.write(huge, x, 8000, subtype="DOUBLE")
    p = npsep("separate", huge, "-o", tmp_path / "o", "--model", model)
    assert p.returncode == 1 and "beyond the float32 range" in error_line(p)
    assert "NaN" not in p.stderr
    fast = tmp_path / "fast.wav"
    data = bytearray(wav.read_bytes())
    data[24:28] = (2 ** 31 - 1).to_bytes(4, "little")  # the WAV header's sample rate
    fast.write_bytes(bytes(data))
    p = npsep("separate", fast, "-o", tmp_path / "o", "--model", model)
    assert p.returncode == 1 and "unsupported sample rate 2147483647 Hz" in error_line(p)
    p = npsep("separate", wav, "-o", tmp_path / "o", "--model", model, "--chunk-seconds", "1e300")
    assert p.returncode == 1 and "chunk length" in error_line(p)
    assert not (tmp_path / "o").exists()


def test_a_truncated_mp3_is_separated_to_its_decodable_end_with_a_warning(model, tmp_path):
    rng = np.random.default_rng(3)
    sf.write(tmp_path / "full.mp3", (0.2 * rng.standard_normal(8000 * 6)).astype(np.float32), 8000)
    data = (tmp_path / "full.mp3").read_bytes()
    (tmp_path / "cut.mp3").write_bytes(data[:len(data) // 2])
    p = npsep("separate", tmp_path / "cut.mp3", "-o", tmp_path / "out", "--model", model, "-q")
    assert p.returncode == 0, p.stderr
    assert "npsep: warning:" in p.stderr and "truncated" in p.stderr
    assert sorted(os.listdir(tmp_path / "out")) == ["cut_s1.mp3", "cut_s2.mp3"]


# --- all-or-nothing outputs -------------------------------------------------------------

def test_long_stems_fit_because_temporary_names_are_short(model, wav, tmp_path):
    stem = "x" * 245  # + "_s1.wav" = 252 bytes, under the 255 of most file systems
    src = tmp_path / f"{stem}.wav"
    src.write_bytes(wav.read_bytes())
    p = npsep("separate", src, "-o", tmp_path / "out", "--model", model, "-q")
    assert p.returncode == 0, p.stderr
    assert sorted(os.listdir(tmp_path / "out")) == [f"{stem}_s1.wav", f"{stem}_s2.wav"]


def test_concurrent_runs_into_one_folder_each_stem_from_one_run(wav, tmp_path):
    """Three runs with three different models write the same six stems at once: every stem's
    two sources come from one model, and the other runs report that they exist."""
    names = [f"f{k}.wav" for k in range(6)]
    for n in names:
        (tmp_path / n).write_bytes(wav.read_bytes())
    models = [make_model(tmp_path / f"m{k}.npz", seed=10 + k) for k in range(3)]
    expected = []
    for k, m in enumerate(models):  # what each model alone writes
        p = npsep("separate", tmp_path / names[0], "-o", tmp_path / f"alone{k}", "--model", m, "-q")
        assert p.returncode == 0, p.stderr
        expected.append(np.stack([read(tmp_path / f"alone{k}" / f"f0_s{s}.wav") for s in (1, 2)]))
    runs = [subprocess.Popen([sys.executable, "-m", "npsep.cli", "separate",
                              *[str(tmp_path / n) for n in (names if k % 2 == 0 else names[::-1])],
                              "-o", str(tmp_path / "out"), "--model", str(m), "-q"],
                             env=ENV, stderr=subprocess.PIPE, text=True)
            for k, m in enumerate(models)]
    errors = [r.communicate(timeout=600)[1] for r in runs]
    assert sorted(os.listdir(tmp_path / "out")) == sorted(f"f{k}_s{s}.wav" for k in range(6) for s in (1, 2))
    for k in range(6):
        got = np.stack([read(tmp_path / "out" / f"f{k}_s{s}.wav") for s in (1, 2)])
        assert sum(np.array_equal(got, e) for e in expected) == 1, f"f{k}: sources from different runs"
    lines = [line for e in errors for line in e.splitlines() if ": error: " in line]
    assert len(lines) == 2 * 6 and all("already exists" in line for line in lines), errors


def test_termination_deletes_temporaries_and_a_later_run_removes_dead_ones(model, tmp_path):
    rng = np.random.default_rng(4)
    sf.write(tmp_path / "long.wav", (0.2 * rng.standard_normal((44100 * 120, 1))).astype(np.float32), 44100)
    out = tmp_path / "out"
    for sig in (signal.SIGTERM, signal.SIGHUP):
        run = subprocess.Popen([sys.executable, "-m", "npsep.cli", "separate", str(tmp_path / "long.wav"),
                                "-o", str(out), "--model", str(model), "--chunk-seconds", "1", "-q"],
                               env=ENV, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while not (out.is_dir() and os.listdir(out)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert os.listdir(out), "no temporary file appeared"
        run.send_signal(sig)
        _, err = run.communicate(timeout=60)
        assert run.returncode == 128 + sig and "terminated" in err
        assert os.listdir(out) == []
    dead = subprocess.Popen(["true"])
    dead.wait()
    (out / f".npsep-{dead.pid}-abc123.part").write_bytes(b"left by a killed run")
    (out / f".npsep-{os.getpid()}-abc123.part").write_bytes(b"a live run's")
    sf.write(tmp_path / "short.wav", np.zeros((800, 1), np.float32), 8000)
    p = npsep("separate", tmp_path / "short.wav", "-o", out, "--model", model, "-q")
    assert p.returncode == 0, p.stderr
    assert sorted(os.listdir(out)) == [f".npsep-{os.getpid()}-abc123.part", "short_s1.wav", "short_s2.wav"]


# --- progress off a terminal, BLAS threads ----------------------------------------------

def test_progress_off_a_terminal_is_a_plain_line_every_interval():
    import io
    from npsep.progress import Progress
    now = [0.0]
    log = io.StringIO()  # not a terminal
    bar = Progress(600.0, label="separating", stream=log, clock=lambda: now[0], log_interval=30.0)
    for t in range(0, 100, 5):
        now[0] = float(t)
        bar.update(3.0 * t)  # 3x real time
    bar.close()
    lines = log.getvalue().splitlines()
    assert len(lines) == 3 and "\r" not in log.getvalue()  # at 30, 60 and 90 s
    assert lines[0] == "separating: 15%, 0:30 elapsed, ETA 2:50, 3.0x real time"


def test_blas_threads_are_set_and_pinned_through_threadpoolctl():
    from threadpoolctl import threadpool_info

    import npsep
    from npsep import threads
    blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
    if not blas:
        pytest.skip("no BLAS found")
    import numba
    n = min(2, numba.config.NUMBA_NUM_THREADS)
    before = npsep.get_num_threads()
    try:
        npsep.set_num_threads(n)
        with threads.blas_pinned():
            assert {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"} == {1}
        assert {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"} == {n}
    finally:
        npsep.set_num_threads(before[0])
