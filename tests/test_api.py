"""The Python API: ``Model.separate`` with rates and layouts, streamed with the command line's
chunker, and ``npsep.separate`` on files and arrays.

A tiny random improved SuDoRM-RF (8 kHz) stands in for a trained model: these tests check the
plumbing (shapes, rates, chunking, alignment), not separation quality.
"""
import warnings

import numpy as np
import pytest
import soundfile as sf

import npsep
from npsep import weights
from npsep.chunking import chunk_lengths
from npsep.files import separate_file

HP = dict(out_channels=16, in_channels=32, num_blocks=2, upsampling_depth=3,
          enc_kernel_size=21, enc_num_basis=32, num_sources=2)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.npz"
    weights.save(path, weights.random_tensors("improved", HP, seed=1),
                 weights.make_config("improved", HP))
    return path


@pytest.fixture(scope="module")
def model(model_path):
    import numba
    before = numba.get_num_threads()
    numba.set_num_threads(1)  # the test machine is shared
    yield npsep.load(model_path)
    numba.set_num_threads(before)


def noise(frames, channels=None, seed=0):
    rng = np.random.default_rng(seed)
    shape = (frames,) if channels is None else (frames, channels)
    return (0.2 * rng.standard_normal(shape)).astype(np.float32)


def test_stereo_as_soundfile_returns_it_is_refused_unless_the_layout_is_said(model):
    x = noise(3000, 2)                                  # (T, 2): soundfile's layout
    with pytest.raises(ValueError, match="ambiguous shape.*channels_last"):
        model.separate(x)
    y = model.separate(x, channels_last=True)
    assert y.shape == (2, 3000, 2)                      # (S, T, C), not (3000, 2, 2)
    batch = model.separate(x.T, channels_last=False)    # (2, T): two mono mixtures
    assert batch.shape == (2, 2, 3000)
    assert model.separate(x[:, 0]).shape == (1, 2, 3000)


def test_multichannel_is_separated_per_channel_with_sources_aligned(model):
    mono = noise(4000, seed=1)
    y = model.separate(np.stack([mono, mono], axis=1), channels_last=True)
    np.testing.assert_array_equal(y[:, :, 0], y[:, :, 1])  # same sound, same source order
    alone = model.separate(mono)[0]
    np.testing.assert_allclose(y[:, :, 0], alone, rtol=0, atol=1e-6)


@pytest.mark.filterwarnings("ignore:the input is at")
def test_a_rate_is_resampled_in_and_out_like_the_command_line(model, tmp_path):
    """The array path and the file path run the same pipeline: 16 kHz stereo, 20 s, chunked
    (8 s chunks at 8 kHz), equal to float rounding (the file is written as 32-bit float)."""
    rate = 16000
    x = noise(20 * rate, 2, seed=2)
    sf.write(tmp_path / "mix.wav", x, rate, subtype="FLOAT")
    y = model.separate(x, rate, channels_last=True)
    assert y.shape == (2, len(x), 2)
    paths = separate_file(tmp_path / "mix.wav", tmp_path / "out", model)
    for k, p in enumerate(paths):
        np.testing.assert_allclose(sf.read(p, dtype="float32")[0], y[k], rtol=0, atol=1e-6)


def test_long_inputs_are_chunked_and_whole_mode_is_the_recipe(model):
    x = noise(20 * 8000, seed=3)
    chunked = model.separate(x)
    whole = model.separate(x, chunk_seconds=0)
    np.testing.assert_array_equal(whole, model.separate_mixtures(x))
    assert chunked.shape == whole.shape == (1, 2, len(x))
    assert not np.array_equal(chunked, whole)  # 8 s chunks: the normalisations differ a little
    short = noise(3 * 8000, seed=4)            # one chunk: exactly the recipe
    np.testing.assert_array_equal(model.separate(short), model.separate_mixtures(short))


def test_a_rate_above_the_models_warns_that_the_band_is_lost(model):
    with pytest.warns(UserWarning, match="above 4000 Hz is not separated"):
        y = model.separate(noise(4410), 44100)
    assert y.shape == (1, 2, 4410)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.separate(noise(800), 8000)
    with pytest.raises(ValueError, match="sample_rate"):
        model.separate(noise(800), 2 ** 31 - 1)


@pytest.mark.filterwarnings("ignore:the input is at")
def test_npsep_separate_takes_a_path_or_an_array(model_path, tmp_path):
    x = noise(12000, 2, seed=5)
    sf.write(tmp_path / "mix.flac", x, 12000)
    sources, rate = npsep.separate(tmp_path / "mix.flac", model=model_path)
    assert rate == 12000 and sources.shape == (2, 12000, 2)
    sources, rate = npsep.separate(x[:, 0], 12000, model=model_path)
    assert rate == 12000 and sources.shape == (1, 2, 12000)
    sources, rate = npsep.separate(x[:, 0], model=model_path)
    assert rate == 8000  # no rate given: the model's


def test_chunk_length_is_validated_once_and_capped_at_the_signal():
    assert chunk_lengths(8000, 20000, total=16000) == (None, 0)  # not 160 M samples
    assert chunk_lengths(8000, 8, total=10 ** 6) == (64000, 32000)
    for bad in (1e300, float("nan"), -1, 0.1, "8"):
        with pytest.raises(npsep.NpsepError, match="chunk length"):
            chunk_lengths(8000, bad)


def test_the_input_is_never_copied_whole_whatever_its_dtype(model):
    """Python's allocation tracer (NumPy reports its buffers to it): besides the returned
    sources, ``separate`` allocates a constant (one chunk's buffers), not a copy of the input;
    a float64 input costs one float32 block more, not a float32 copy of the whole signal."""
    import tracemalloc

    def extra(x):
        tracemalloc.start()
        try:
            y = model.separate(x)
            return tracemalloc.get_traced_memory()[1] - y.nbytes
        finally:
            tracemalloc.stop()

    x = noise(8000 * 120)                                   # 2 minutes: 3.84 MB in float32
    x64 = x.astype(np.float64)
    model.separate(x), model.separate(x64[:1000])           # the workspace at its full size
    assert extra(x) - extra(x[:len(x) // 2]) < x.nbytes / 4  # grows with the output only
    assert extra(x64) - extra(x) < x.nbytes / 4              # the float32 copy would be x.nbytes


def test_the_sources_are_float32_in_the_inputs_units_whatever_its_dtype(model):
    """The documented dtype rule: float32 sources for any input dtype, and a float64 input
    gives exactly the float32 input's result (it is converted block by block; 20 s spans
    several blocks and chunks). Integer samples are not rescaled: the sources come in the
    input's units, so they scale with it (the recipe standardises each chunk)."""
    x = noise(20 * 8000, seed=6)
    y = model.separate(x)
    assert y.dtype == np.float32
    y64 = model.separate(x.astype(np.float64))
    assert y64.dtype == np.float32
    np.testing.assert_array_equal(y64, y)
    pcm = np.round(x * 2 ** 15).astype(np.int16)
    y16 = model.separate(pcm)
    assert y16.dtype == np.float32
    # the same waveform in float32 units: equal to float32 rounding (the random model's
    # sources reach about 14 here; 1e-5 is a few ulps of that, 3e-6 measured)
    np.testing.assert_allclose(y16 / 2 ** 15, model.separate(pcm.astype(np.float32) / 2 ** 15),
                               rtol=0, atol=1e-5)
