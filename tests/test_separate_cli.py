"""``npsep separate`` driven as a user would: a subprocess on files the test writes.

A tiny random improved SuDoRM-RF (8 kHz) stands in for a trained model: these tests check
the tool (rates, channels, formats, lengths, errors, atomicity), not separation quality.
"""
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from npsep import weights

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HP = dict(out_channels=16, in_channels=32, num_blocks=2, upsampling_depth=3,
          enc_kernel_size=21, enc_num_basis=32, num_sources=2)

# name: (sample rate, channels, frames, format, subtype in, subtype expected out)
CASES = {
    "r8k_mono_pcm16.wav": (8000, 1, 12000, "WAV", "PCM_16", "PCM_16"),
    "r16k_stereo_pcm24.wav": (16000, 2, 20001, "WAV", "PCM_24", "PCM_24"),
    "r22k_mono_float.wav": (22050, 1, 33075, "WAV", "FLOAT", "FLOAT"),
    "r44k_stereo.flac": (44100, 2, 66150, "FLAC", "PCM_16", "PCM_16"),
    "r48k_6ch_pcm16.wav": (48000, 6, 48000, "WAV", "PCM_16", "PCM_16"),
    "r96k_mono_pcm24.flac": (96000, 1, 96001, "FLAC", "PCM_24", "PCM_24"),
    "r32k_stereo_double.wav": (32000, 2, 16000, "WAV", "DOUBLE", "DOUBLE"),
    "r11k_mono_u8.wav": (11025, 1, 11025, "WAV", "PCM_U8", "PCM_16"),
    "r44k_stereo_vorbis.ogg": (44100, 2, 44100, "OGG", "VORBIS", "VORBIS"),
    "one_sample.wav": (44100, 1, 1, "WAV", "PCM_16", "PCM_16"),
    "one_sample_stereo_8k.wav": (8000, 2, 1, "WAV", "FLOAT", "FLOAT"),
    "silent.wav": (16000, 2, 16000, "WAV", "PCM_16", "PCM_16"),
}


def npsep(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
               NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "npsep.cli", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=300, cwd=cwd)


def signal_for(name, rate, channels, frames):
    rng = np.random.default_rng(sum(map(ord, name)))
    if name.startswith("silent"):
        return np.zeros((frames, channels), dtype=np.float32)
    t = np.arange(frames)[:, None] / rate
    f = rng.uniform(150, 1500, channels)
    x = 0.3 * np.sin(2 * np.pi * f * t) + 0.1 * rng.standard_normal((frames, channels))
    return (x * 0.8).astype(np.float32)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.npz"
    weights.save(path, weights.random_tensors("improved", HP, seed=1),
                 weights.make_config("improved", HP))
    p = npsep("warmup", "--model", path)  # compile once: no first-run notice in the tests below
    assert p.returncode == 0 and "kernels ready" in p.stdout, p.stderr
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    for name, (rate, ch, frames, fmt, sub, _) in CASES.items():
        sf.write(folder / name, signal_for(name, rate, ch, frames), rate, format=fmt, subtype=sub)
        info = sf.info(folder / name)
        assert (info.samplerate, info.channels, info.frames, info.subtype) == (rate, ch, frames, sub)
    return folder


def listing(folder):
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def one_error_line(p, command="separate"):
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith(f"npsep {command}: error: "), p.stderr
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout
    return lines[0]


# --- what a user gets -------------------------------------------------------------------

def test_every_rate_channel_count_and_format(model, inputs, tmp_path):
    out = tmp_path / "out"
    p = npsep("separate", inputs, "-o", out, "--model", model, "--chunk-seconds", "1")
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""  # not a terminal: no progress bar
    expected = []
    for name, (rate, ch, frames, fmt, _, sub_out) in CASES.items():
        stem, ext = os.path.splitext(name)
        for k in (1, 2):
            path = out / f"{stem}_s{k}{ext}"
            expected.append(path.name)
            info = sf.info(path)
            assert (info.samplerate, info.channels, info.frames) == (rate, ch, frames), name
            assert (info.format, info.subtype) == (fmt, sub_out), name
            y = sf.read(path, always_2d=True)[0]
            assert np.isfinite(y).all(), name
            if name.startswith("silent"):
                assert not y.any(), "silence in, silence out"
            elif frames > 1000:
                assert np.abs(y).max() > 1e-3, name  # something came out
        assert f"{name} -> " in p.stdout
    assert listing(out) == sorted(expected)  # and nothing else: no temporary files left


def test_whole_file_mode_is_the_model_on_the_file(model, inputs, tmp_path):
    """Whole-file mode reproduces the model applied to the file; 8 kHz mono needs no resampling."""
    src = inputs / "r8k_mono_pcm16.wav"
    p = npsep("separate", src, "-o", tmp_path, "--model", model, "--chunk-seconds", "0", "-q")
    assert p.returncode == 0 and p.stdout == "" and p.stderr == "", p.stderr
    import npsep as api
    x = sf.read(src, dtype="float32")[0]
    direct = api.load(model).separate(x[None])[0]
    for k in (1, 2):
        y = sf.read(tmp_path / f"r8k_mono_pcm16_s{k}.wav", dtype="float32")[0]
        ref = np.clip(direct[k - 1], -1, 1)
        # PCM_16 rounding only (libsndfile writes with scale 32767, reads with 32768)
        assert np.abs(y - ref).max() <= 2.0 / 32768


def test_jobs_glob_and_folder_structure(model, inputs, tmp_path):
    root = tmp_path / "in"
    (root / "a" / "deep").mkdir(parents=True)
    (root / "b").mkdir()
    for dst, name in [("a/x.wav", "r8k_mono_pcm16.wav"), ("b/x.wav", "r16k_stereo_pcm24.wav"),
                      ("a/deep/y.flac", "r44k_stereo.flac"), ("a/skip.flac", "r96k_mono_pcm24.flac")]:
        (root / dst).write_bytes((inputs / name).read_bytes())
    (root / "notes.txt").write_text("not audio")
    out = tmp_path / "out"
    p = npsep("separate", root, "-o", out, "--model", model, "--jobs", "2",
              "--glob", "*.wav", "--glob", "deep/*", "--chunk-seconds", "1")
    assert p.returncode == 0, p.stderr
    got = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs)
    assert got == ["a/deep/y_s1.flac", "a/deep/y_s2.flac", "a/x_s1.wav", "a/x_s2.wav",
                   "b/x_s1.wav", "b/x_s2.wav"]
    # the worker processes give the same result as one process
    p = npsep("separate", root / "b" / "x.wav", "-o", tmp_path / "single", "--model", model,
              "--chunk-seconds", "1", "-q")
    assert p.returncode == 0, p.stderr
    for k in (1, 2):
        a = sf.read(out / "b" / f"x_s{k}.wav")[0]
        b = sf.read(tmp_path / "single" / f"x_s{k}.wav")[0]
        np.testing.assert_array_equal(a, b)


def test_overwrite_replaces_outputs(model, inputs, tmp_path):
    src = inputs / "r8k_mono_pcm16.wav"
    for k in (1, 2):
        (tmp_path / f"r8k_mono_pcm16_s{k}.wav").write_bytes(b"old")
    p = npsep("separate", src, "-o", tmp_path, "--model", model, "--overwrite", "-q")
    assert p.returncode == 0, p.stderr
    assert sf.info(tmp_path / "r8k_mono_pcm16_s1.wav").frames == 12000
    assert listing(tmp_path) == ["r8k_mono_pcm16_s1.wav", "r8k_mono_pcm16_s2.wav"]


# --- bad input --------------------------------------------------------------------------

def make_bad(kind, folder, inputs):
    """Create the bad input ``kind`` in ``folder``; return the path to pass."""
    p = folder / f"{kind}.wav"
    if kind == "missing":
        return p
    if kind == "not_audio":
        p.write_text("hello, I am a text file\n" * 20)
    elif kind == "zero_bytes":
        p.write_bytes(b"")
    elif kind == "no_samples":
        sf.write(p, np.zeros((0, 2), dtype=np.float32), 16000)
    elif kind == "corrupt":
        good = (inputs / "r8k_mono_pcm16.wav").read_bytes()
        p.write_bytes(good[:12] + bytes(range(256)) * 4)  # RIFF header, then garbage
    elif kind in ("nan", "inf"):
        x = np.full((30000, 2), 0.1, dtype=np.float32)
        x[25000, 1] = np.nan if kind == "nan" else -np.inf  # late: after writing has begun
        sf.write(p, x, 16000, subtype="FLOAT")
    elif kind == "unreadable":
        p.write_bytes((inputs / "r8k_mono_pcm16.wav").read_bytes())
        os.chmod(p, 0)
    return p


BAD = {"missing": "no such file", "not_audio": "not a readable audio file",
       "zero_bytes": "not a readable audio file", "no_samples": "no audio samples",
       "corrupt": "", "nan": "NaN or Inf sample at frame 25000",
       "inf": "NaN or Inf sample at frame 25000", "unreadable": "permission denied"}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_input_one_line_no_output(model, inputs, tmp_path, kind):
    if kind == "unreadable" and os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    src = make_bad(kind, tmp_path, inputs)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    p = npsep("separate", src, "-o", out, "--model", model, "--chunk-seconds", "0.5")
    assert p.returncode == 1
    line = one_error_line(p)
    assert str(src) in line and BAD[kind] in line
    assert listing(out) == ["keep.txt"] and (out / "keep.txt").read_text() == "precious"


def test_existing_outputs_untouched_without_overwrite(model, inputs, tmp_path):
    src = inputs / "r16k_stereo_pcm24.wav"
    (tmp_path / "r16k_stereo_pcm24_s2.wav").write_bytes(b"precious")
    before = os.stat(tmp_path / "r16k_stereo_pcm24_s2.wav")
    p = npsep("separate", src, "-o", tmp_path, "--model", model)
    assert p.returncode == 1
    assert "already exists" in one_error_line(p) and "--overwrite" in p.stderr
    assert listing(tmp_path) == ["r16k_stereo_pcm24_s2.wav"]  # s1 not written either
    assert (tmp_path / "r16k_stereo_pcm24_s2.wav").read_bytes() == b"precious"
    assert os.stat(tmp_path / "r16k_stereo_pcm24_s2.wav").st_mtime_ns == before.st_mtime_ns


def test_unwritable_output_folder(model, inputs, tmp_path):
    src = inputs / "r8k_mono_pcm16.wav"
    blocker = tmp_path / "file"
    blocker.write_text("I am a file")
    for out in (blocker, blocker / "sub"):
        p = npsep("separate", src, "-o", out, "--model", model)
        assert p.returncode == 1
        assert str(blocker) in one_error_line(p)
    assert listing(tmp_path) == ["file"] and blocker.read_text() == "I am a file"
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        p = npsep("separate", src, "-o", ro, "--model", model)
        assert p.returncode == 1 and "not writable" in one_error_line(p)
        assert listing(ro) == []


def test_bad_model_and_missing_default_model(inputs, tmp_path):
    src = inputs / "r8k_mono_pcm16.wav"
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    for m in (tmp_path / "bad.npz", tmp_path / "missing.npz"):
        p = npsep("separate", src, "-o", tmp_path / "out", "--model", m)
        assert p.returncode == 1 and str(m) in one_error_line(p)
    assert listing(tmp_path / "out") == []
    from npsep.weights import default_model_path
    if default_model_path() is None:
        p = npsep("separate", src, "-o", tmp_path / "out")
        assert p.returncode == 1 and "--model" in one_error_line(p)


def test_one_failure_does_not_stop_the_others(model, inputs, tmp_path):
    bad1 = make_bad("not_audio", tmp_path, inputs)
    bad2 = make_bad("nan", tmp_path, inputs)
    good = inputs / "r16k_stereo_pcm24.wav"
    out = tmp_path / "out"
    p = npsep("separate", bad1, good, tmp_path / "nowhere.wav", bad2, "-o", out, "--model", model)
    assert p.returncode == 1
    errors = [l for l in p.stderr.splitlines() if l.startswith("npsep separate: error: ")]
    assert len(errors) == 3 and "Traceback" not in p.stderr
    assert "3 of 4 inputs failed" in p.stderr
    assert listing(out) == ["r16k_stereo_pcm24_s1.wav", "r16k_stereo_pcm24_s2.wav"]


def test_same_output_names_are_refused(model, inputs, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for d in "ab":
        (tmp_path / d / "x.wav").write_bytes((inputs / "r8k_mono_pcm16.wav").read_bytes())
    p = npsep("separate", tmp_path / "a" / "x.wav", tmp_path / "b" / "x.wav", "-o",
              tmp_path / "out", "--model", model, "-q")
    assert p.returncode == 1 and "would overwrite those of" in p.stderr
    assert listing(tmp_path / "out") == ["x_s1.wav", "x_s2.wav"]


def test_debug_shows_the_traceback(model, inputs, tmp_path):
    src = make_bad("not_audio", tmp_path, inputs)
    p = npsep("--debug", "separate", src, "-o", tmp_path / "out", "--model", model)
    assert p.returncode == 1 and "Traceback" in p.stderr


# --- npsep info -------------------------------------------------------------------------

def test_info_cli(model):
    import json
    p = npsep("info", model, "--json")
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    with np.load(model) as z:
        n = sum(z[k].size for k in z.files if k != "__config__")
    assert s["parameters"] == n and s["variant"] == "improved" and s["sample_rate"] == 8000
    assert s["hparams"] == HP and s["receptive_field_samples"] > HP["enc_kernel_size"]
    p = npsep("info", model)
    assert p.returncode == 0 and f"{n:,}" in p.stdout and "receptive field" in p.stdout
    p = npsep("info", model.parent / "missing.npz")
    assert p.returncode == 1 and "missing.npz" in one_error_line(p, "info")


# --- progress bar -----------------------------------------------------------------------

class FakeTerminal:
    def __init__(self, tty=True):
        self.tty, self.text = tty, ""

    def isatty(self):
        return self.tty

    def write(self, s):
        self.text += s

    def flush(self):
        pass


def test_progress_bar_only_on_a_terminal_and_after_a_delay():
    from npsep.progress import Progress
    now = [0.0]
    term = FakeTerminal()
    bar = Progress(100.0, label="separating", stream=term, delay=2.0, clock=lambda: now[0])
    now[0] = 1.0
    bar.update(10)
    assert term.text == ""  # short work stays silent
    now[0] = 4.0
    bar.update(25)
    line = term.text.split("\r")[-1]
    assert "25%" in line and "0:04 elapsed" in line and "ETA 0:12" in line and "[" in line
    bar.close()
    assert term.text.endswith("\r") and term.text.split("\r")[-2].strip() == ""  # erased

    pipe = FakeTerminal(tty=False)
    bar = Progress(100.0, stream=pipe, delay=0.0, clock=lambda: now[0])
    now[0] = 100.0
    bar.update(50)
    bar.close()
    assert pipe.text == ""
    bar = Progress(100.0, stream=term, enabled=False, delay=0.0)  # --quiet
    before = term.text
    bar.update(50)
    assert term.text == before


# --- finding inputs ---------------------------------------------------------------------

def test_collect_inputs_skips_hidden_files_and_the_output_folder(tmp_path):
    from npsep.batch import collect_inputs
    for rel in ("a.wav", "B.FLAC", "notes.txt", ".hidden.wav", ".git/x.wav", "sub/c.ogg",
                "sub/deeper/d.wav", "out/a_s1.wav", "sub/.x.wav.part"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    items, errors = collect_inputs([tmp_path], None, tmp_path / "out")
    assert errors == []
    assert [(os.path.relpath(p, tmp_path), sub) for p, sub in items] == [
        ("B.FLAC", ""), ("a.wav", ""), ("sub/c.ogg", "sub"), ("sub/deeper/d.wav", "sub/deeper")]
    items, _ = collect_inputs([tmp_path], ["*.wav"], tmp_path / "out")
    assert [os.path.relpath(p, tmp_path) for p, _ in items] == ["a.wav", "sub/deeper/d.wav"]
    items, _ = collect_inputs([tmp_path], ["deeper/*"], tmp_path / "out")
    assert [os.path.relpath(p, tmp_path) for p, _ in items] == ["sub/deeper/d.wav"]
    items, errors = collect_inputs([tmp_path / "sub", tmp_path / "nope"], ["*.mp3"])
    assert items == [] and len(errors) == 2 and "no files matching *.mp3" in errors[0][1]
    assert "no such file or folder" in errors[1][1]


def test_python_twin_is_exported():
    import npsep
    from npsep.files import separate_file
    assert npsep.separate_file is separate_file
