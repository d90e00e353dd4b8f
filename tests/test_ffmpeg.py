"""ffmpeg as the optional reader of formats libsndfile lacks (.m4a, .mp4, .aac, .wma, ...).

A fake ``ffmpeg``/``ffprobe`` pair (a Python script put first on ``PATH``) stands in for the
real one, so these tests need no ffmpeg: its "m4a" files are WAV files whose first four
bytes are changed (libsndfile cannot read them), which it restores and decodes with
soundfile. One test uses the real ffmpeg and is skipped when it is not installed.
"""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from npsep import audio
from npsep.batch import separate_files
from npsep.errors import AudioError
from test_api import model_path  # noqa: F401  (a tiny random model's file, a fixture)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FAKE = """#!{python}
import io, json, os, sys
import soundfile as sf
args = sys.argv[1:]
def wav(name):
    data = bytearray(open(name, "rb").read())
    if data[:4] != b"NPSF":
        sys.exit(name + ": Invalid data found when processing input")
    data[:4] = b"RIFF"
    return io.BytesIO(bytes(data))
if os.path.basename(sys.argv[0]) == "ffprobe":
    info = sf.info(wav(args[-1]))
    print(json.dumps({{"streams": [{{"sample_rate": str(info.samplerate), "channels": info.channels,
                                    "duration": "%.6f" % info.duration}}], "format": {{}}}}))
else:
    x, _ = sf.read(wav(args[args.index("-i") + 1]), dtype="float32", always_2d=True)
    assert args[args.index("-ac") + 1] == str(x.shape[1]) and args[-1] == "-"
    sys.stdout.buffer.write(x.astype("<f4").tobytes())
"""


@pytest.fixture
def fake_ffmpeg(tmp_path, monkeypatch):
    """A folder holding the fake ``ffmpeg`` and ``ffprobe``, put first on ``PATH``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("ffmpeg", "ffprobe"):
        (bin_dir / name).write_text(FAKE.format(python=sys.executable))
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir) + os.pathsep + os.environ.get("PATH", ""))
    return bin_dir


def write_pair(folder, frames=20000, channels=2, rate=16000):
    """``mix.wav`` and ``song.m4a``: the same samples, the second one unreadable by libsndfile."""
    rng = np.random.default_rng(0)
    x = (0.2 * rng.standard_normal((frames, channels))).astype(np.float32)
    os.makedirs(folder, exist_ok=True)
    wav = os.path.join(folder, "mix.wav")
    sf.write(wav, x, rate, subtype="FLOAT")
    data = bytearray(open(wav, "rb").read())
    data[:4] = b"NPSF"
    m4a = os.path.join(folder, "song.m4a")
    with open(m4a, "wb") as f:
        f.write(bytes(data))
    return x, wav, m4a


def test_the_fake_input_is_unreadable_without_ffmpeg_and_the_error_names_the_remedy(tmp_path, monkeypatch):
    _, _, m4a = write_pair(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    with pytest.raises(AudioError, match="install ffmpeg, or convert the file"):
        audio.probe(m4a)


def test_ffmpeg_decodes_in_blocks_what_libsndfile_cannot_read(fake_ffmpeg, tmp_path):
    x, _, m4a = write_pair(tmp_path, frames=5000)
    info = audio.probe(m4a)
    assert (info.samplerate, info.channels, info.frames) == (16000, 2, 5000)
    blocks = list(audio.read_blocks(m4a, block_frames=1024))
    assert [len(b) for b in blocks] == [1024] * 4 + [904]
    np.testing.assert_array_equal(np.concatenate(blocks), x)


def test_a_folder_with_ffmpeg_separates_m4a_like_the_same_wav(fake_ffmpeg, model_path, tmp_path):
    write_pair(tmp_path / "in")
    results = separate_files([tmp_path / "in"], tmp_path / "out", model_path, show_progress=False)
    assert all(r.ok for r in results) and len(results) == 2, results
    for k in (1, 2):  # outputs of an ffmpeg input are float WAV files
        song, _ = sf.read(tmp_path / "out" / f"song_s{k}.wav", dtype="float32")
        mix, _ = sf.read(tmp_path / "out" / f"mix_s{k}.wav", dtype="float32")
        np.testing.assert_array_equal(song, mix)


def test_a_folder_without_ffmpeg_says_which_files_were_not_read_and_why(model_path, tmp_path):
    write_pair(tmp_path / "in")
    env = dict(os.environ, PATH=str(tmp_path / "no-ffmpeg"), NUMBA_NUM_THREADS="1",
               PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([sys.executable, "-m", "npsep.cli", "separate", str(tmp_path / "in"),
                        "-o", str(tmp_path / "out"), "--model", str(model_path), "--quiet"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 2 and "song.m4a: not a readable audio file" in lines[0], p.stderr
    assert "install ffmpeg, or convert the file" in lines[0] and "1 of 2 inputs failed" in lines[1]
    assert sorted(os.listdir(tmp_path / "out")) == ["mix_s1.wav", "mix_s2.wav"]


def test_an_ffmpeg_failure_is_one_line_naming_the_file(fake_ffmpeg, tmp_path):
    bad = tmp_path / "bad.m4a"
    bad.write_bytes(b"not audio at all")
    with pytest.raises(AudioError, match=r"bad\.m4a: ffmpeg cannot read it \(.*Invalid data"):
        audio.probe(bad)


@pytest.mark.skipif(shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
                    reason="ffmpeg is not installed")
def test_the_real_ffmpeg_decodes_an_m4a(model_path, tmp_path):
    _, wav, _ = write_pair(tmp_path, frames=16000, channels=1, rate=8000)
    m4a = tmp_path / "real.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", wav, "-c:a", "aac", str(m4a)],
                   check=True)
    import npsep
    sources, rate = npsep.separate(m4a, model=model_path)
    assert rate == 8000 and sources.shape[0] == 2 and sources.shape[2] == 1
    assert abs(sources.shape[1] - 16000) <= 2048  # AAC frames: ffmpeg trims the priming samples
    assert np.isfinite(sources).all() and np.abs(sources).max() > 0
