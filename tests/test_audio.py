"""npsep.audio: streaming resampling, format mapping, checked block reading, atomic writes."""
import os
import stat

import numpy as np
import pytest
import soundfile as sf
from scipy import signal

from npsep import audio
from npsep.errors import AudioError


# --- streaming resampling ---------------------------------------------------------------

RATES = [(44100, 8000), (8000, 44100), (96000, 8000), (8000, 96000), (22050, 8000),
         (8000, 22050), (16000, 8000), (11025, 8000), (48000, 8000), (8000, 8000), (7, 5)]


@pytest.mark.parametrize("rate_from,rate_to", RATES)
def test_stream_resampler_equals_whole_resample_poly(rate_from, rate_to):
    rng = np.random.default_rng(rate_from + 7 * rate_to)
    up, down = audio.rate_ratio(rate_from, rate_to)
    for T in (1, 2, 3, 17, 999, 20011):
        x = rng.standard_normal((T, 2))
        ref = signal.resample_poly(x, up, down, axis=0)  # scipy's own default filter
        r = audio.StreamResampler(rate_from, rate_to, 2)
        outs, i = [], 0
        while i < T:
            n = int(rng.integers(1, 3000))
            outs.append(r.push(x[i:i + n]))
            i += n
        outs.append(r.flush())
        y = np.concatenate(outs)
        assert y.shape == ref.shape == (audio.resampled_length(T, rate_from, rate_to), 2)
        np.testing.assert_allclose(y, ref, atol=2e-5, rtol=0)


def test_stream_resampler_keeps_bounded_history():
    r = audio.StreamResampler(44100, 8000, 1)
    rng = np.random.default_rng(0)
    sizes = []
    for _ in range(200):
        r.push(rng.standard_normal((4410, 1)))
        sizes.append(len(r._buf))
    # one block plus the filter's reach, not the whole history (200 * 4410)
    assert max(sizes) < 4410 + 2 * r.half_len // r.up + 2 * r.down + 10


def test_round_trip_resampling_preserves_band_limited_signal():
    fs = 44100
    t = np.arange(fs) / fs
    x = (np.sin(2 * np.pi * 440 * t) + 0.5 * np.sin(2 * np.pi * 1234 * t))[:, None]
    y = audio.resample(audio.resample(x, fs, 8000), 8000, fs)[:fs]
    inner = slice(2000, -2000)
    err = np.abs(y[inner] - x[inner]).max()
    assert err < 1e-2, err  # Kaiser(5) design: about -50 dB passband error


# --- formats ----------------------------------------------------------------------------

FORMAT_CASES = [
    # (extension, format, subtype in, subtype out)
    (".wav", "WAV", "PCM_16", "PCM_16"),
    (".wav", "WAV", "PCM_24", "PCM_24"),
    (".wav", "WAV", "PCM_32", "PCM_32"),
    (".wav", "WAV", "FLOAT", "FLOAT"),
    (".wav", "WAV", "DOUBLE", "DOUBLE"),
    (".wav", "WAV", "PCM_U8", "PCM_16"),
    (".wav", "WAV", "ULAW", "PCM_16"),
    (".flac", "FLAC", "PCM_16", "PCM_16"),
    (".flac", "FLAC", "PCM_24", "PCM_24"),
    (".flac", "FLAC", "PCM_S8", "PCM_16"),
    (".ogg", "OGG", "VORBIS", "VORBIS"),
    (".aiff", "AIFF", "PCM_16", "PCM_16"),
]


@pytest.mark.parametrize("ext,fmt,sub_in,sub_out", FORMAT_CASES)
def test_output_format_mapping(tmp_path, ext, fmt, sub_in, sub_out):
    p = tmp_path / f"x{ext}"
    sf.write(p, np.zeros((100, 2), dtype=np.float32), 16000, format=fmt, subtype=sub_in)
    info = audio.probe(p)
    assert info.subtype == sub_in
    assert audio.output_format(info) == (fmt, sub_out, None)


def test_output_format_falls_back_for_unwritable_subtype():
    class Info:  # a format libsndfile reads but cannot write with this subtype
        format, subtype, samplerate = "OGG", "OPUS", 44100
    assert audio.output_format(Info) == ("OGG", "VORBIS", None)


# --- reading ----------------------------------------------------------------------------

def test_read_blocks_gives_all_samples_in_bounded_blocks(tmp_path):
    x = np.random.default_rng(0).uniform(-1, 1, (10001, 3)).astype(np.float32)
    sf.write(tmp_path / "a.wav", x, 8000, subtype="FLOAT")
    blocks = list(audio.read_blocks(tmp_path / "a.wav", block_frames=1000))
    assert max(len(b) for b in blocks) == 1000 and len(blocks) == 11
    np.testing.assert_array_equal(np.concatenate(blocks), x)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_read_blocks_rejects_non_finite_samples_naming_the_frame(tmp_path, bad):
    x = np.zeros((5000, 2), dtype=np.float32)
    x[3210, 1] = bad
    sf.write(tmp_path / "a.wav", x, 8000, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN or Inf sample at frame 3210"):
        list(audio.read_blocks(tmp_path / "a.wav", block_frames=1000))


def test_probe_errors_are_one_line(tmp_path):
    (tmp_path / "text.wav").write_text("this is not audio\n" * 10)
    (tmp_path / "zero.wav").write_bytes(b"")
    sf.write(tmp_path / "empty.wav", np.zeros((0, 1)), 8000)
    cases = {tmp_path / "missing.wav": "no such file",
             tmp_path / "text.wav": "not a readable audio file",
             tmp_path / "zero.wav": "not a readable audio file",
             tmp_path / "empty.wav": "no audio samples",
             tmp_path: "is a folder"}
    for path, msg in cases.items():
        with pytest.raises(AudioError) as e:
            audio.probe(path)
        assert msg in str(e.value) and "\n" not in str(e.value) and str(path) in str(e.value)


# --- writing ----------------------------------------------------------------------------

def test_atomic_writer_commit_and_abort(tmp_path):
    dst = tmp_path / "out.wav"
    w = audio.AtomicWriter(dst, 8000, 2, "WAV", "PCM_16")
    w.write(np.full((100, 2), 0.5, dtype=np.float32))
    assert not dst.exists()
    assert len(list(tmp_path.iterdir())) == 1  # the temporary file
    w.commit()
    assert sorted(os.listdir(tmp_path)) == ["out.wav"]
    y, rate = sf.read(dst)
    assert rate == 8000 and y.shape == (100, 2) and np.allclose(y, 0.5, atol=1e-4)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(dst).st_mode) == 0o666 & ~umask

    before = dst.read_bytes()
    w = audio.AtomicWriter(dst, 8000, 2, "WAV", "PCM_16", overwrite=True)
    w.write(np.zeros((10, 2), dtype=np.float32))
    w.abort()
    assert sorted(os.listdir(tmp_path)) == ["out.wav"] and dst.read_bytes() == before

    with pytest.raises(AudioError, match="already exists"):
        with audio.AtomicWriter(dst, 8000, 2, "WAV", "PCM_16") as w:
            w.write(np.zeros((10, 2), dtype=np.float32))
            w.commit()
    assert sorted(os.listdir(tmp_path)) == ["out.wav"] and dst.read_bytes() == before


def test_atomic_writer_clips_pcm_but_not_float(tmp_path):
    x = np.array([[1.7], [-2.0], [0.25]], dtype=np.float32)
    for sub in ("PCM_16", "FLOAT"):
        with audio.AtomicWriter(tmp_path / f"{sub}.wav", 8000, 1, "WAV", sub) as w:
            w.write(x)
            w.commit()
        y = sf.read(tmp_path / f"{sub}.wav", dtype="float32", always_2d=True)[0][:, 0]
        if sub == "FLOAT":
            np.testing.assert_array_equal(y, x[:, 0])
        else:
            assert y[0] == pytest.approx(1.0, abs=1e-4) and y[1] == pytest.approx(-1.0, abs=1e-4)
            assert y[2] == pytest.approx(0.25, abs=1e-4)


def test_atomic_writer_in_missing_folder_fails_cleanly(tmp_path):
    with pytest.raises(AudioError, match="cannot write"):
        audio.AtomicWriter(tmp_path / "nope" / "x.wav", 8000, 1, "WAV", "PCM_16")
