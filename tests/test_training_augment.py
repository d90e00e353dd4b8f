"""Each augmentation of training/augment.py does what its docstring says."""

import os
import sys

import numpy as np
import pytest
from scipy.signal import lfilter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "training"))

import augment  # noqa: E402

SR = augment.SR


def vowel(f0=125.0, formant=700.0, seconds=2.0):
    """A pulse train at ``f0`` through one resonance at ``formant`` (80 Hz bandwidth)."""
    e = np.zeros(int(seconds * SR))
    e[::int(round(SR / f0))] = 1.0
    r = np.exp(-np.pi * 80 / SR)
    return lfilter([1.0], [1.0, -2 * r * np.cos(2 * np.pi * formant / SR), r * r], e)


def envelope_peak_hz(x):
    """Frequency of the maximum of the smoothed magnitude spectrum (the formant)."""
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    smooth = np.convolve(spec, np.ones(301) / 301, "same")
    return np.fft.rfftfreq(len(x), 1.0 / SR)[np.argmax(smooth)]


def period_samples(x):
    """Pitch period: the first autocorrelation peak between 30 and 200 samples
    (40-267 Hz) within 10 % of the highest one (not a multiple of the period)."""
    y = x[len(x) // 4: 3 * len(x) // 4]
    c = np.correlate(y, y, "full")[len(y) - 1:][:201]
    peaks = [k for k in range(30, 200) if c[k - 1] < c[k] >= c[k + 1] and c[k] > 0.9 * c[30:200].max()]
    return peaks[0]


@pytest.mark.parametrize("factor", [0.9, 1.0, 1.1])
def test_speed_scales_length_and_frequency(factor):
    t = np.arange(2 * SR) / SR
    y = augment.speed(np.sin(2 * np.pi * 500 * t), factor)
    assert abs(len(y) - 2 * SR / factor) <= 1
    f = np.fft.rfftfreq(len(y), 1.0 / SR)[np.argmax(np.abs(np.fft.rfft(y)))]
    assert abs(f - 500 * factor) < 2


@pytest.mark.parametrize("alpha", [0.85, 1.2])
def test_formant_warp_moves_formants_keeps_pitch_and_length(alpha):
    x = vowel()
    y = augment.formant_warp(x, alpha)
    assert len(y) == len(x)
    # the resonance moves by alpha, within 5 %: order-10 LPC of windowed frames fits the
    # pole a few per cent off the true one (measured 0.81 for 0.85, 1.35 for 1.3)
    assert abs(envelope_peak_hz(y) / envelope_peak_hz(x) - alpha) < 0.05
    assert period_samples(y) == period_samples(x) == 64


def test_warp_poles_moves_complex_pairs_and_leaves_real_poles():
    # A(z) with a real pole at -0.9 (angle pi) and a pair at 0.95 e^(+-1j)
    a = np.convolve([1.0, 0.9], [1.0, -2 * 0.95 * np.cos(1.0), 0.95 ** 2])
    poles = np.roots(augment._warp_poles(a, 0.85))
    real = poles[np.abs(poles.imag) < 1e-9].real
    pair = poles[poles.imag > 1e-9]
    assert np.allclose(real, [-0.9]) and np.allclose(np.abs(pair), [0.95])
    assert np.allclose(np.angle(pair), [0.85])
    assert np.all(np.abs(poles) < 1)


@pytest.mark.parametrize("alpha", [0.8, 0.85, 0.9, 1.2])
def test_formant_warp_of_a_signal_with_a_negative_real_pole_stays_bounded(alpha):
    # noise through the A(z) above: every frame's LPC has a pole near -0.9, the kind
    # that, moved off the real axis alone, made an unstable filter (crest factors of
    # 40-100, or overflow) in a few per cent of the augmented speech
    a = np.convolve([1.0, 0.9], [1.0, -2 * 0.95 * np.cos(1.0), 0.95 ** 2])
    x = lfilter([1.0], a, np.random.default_rng(0).standard_normal(SR))
    x *= 0.1 / np.sqrt(np.mean(x ** 2))
    y = augment.formant_warp(x, alpha)
    rms = np.sqrt(np.mean(y ** 2))
    # a Gaussian signal's peak over 8 000 samples is about 4 times its rms (measured
    # 4.0-4.7 here); the power changes with the resonances' places (measured x1.3-2.3)
    assert np.abs(y).max() / rms < 8
    assert 0.05 < rms < 0.3


@pytest.mark.parametrize("semitones", [-4.0, 4.0])
def test_pitch_shift_moves_pitch_keeps_formants(semitones):
    x = vowel()
    y = augment.pitch_shift(x, semitones)
    factor = 2 ** (semitones / 12)
    assert abs(len(y) - len(x) / factor) <= 1
    assert abs(period_samples(y) - 64 / factor) <= 1
    assert abs(envelope_peak_hz(y) - 700) < 70


@pytest.mark.parametrize("band", [augment.TELEPHONE_BAND, augment.WIDEBAND_BAND])
def test_band_limit_leaves_no_energy_outside_the_band(band):
    x = np.random.default_rng(0).standard_normal(SR)
    y = augment.band_limit(x, *band)
    spec = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(len(y), 1.0 / SR)
    outside = (f < band[0]) | (f > band[1])
    assert spec[outside].sum() < 1e-20 * spec.sum()
    # inside the band the signal is untouched
    assert np.allclose(np.fft.rfft(y)[~outside], np.fft.rfft(x)[~outside])


def test_tilt_eq_response():
    # measure the response with one sinusoid per frequency (steady state: skip the start)
    t = np.arange(2 * SR) / SR

    def response(hz, **kw):
        x = np.sin(2 * np.pi * hz * t)
        y = augment.tilt_eq(x, **kw)
        return 20 * np.log10(np.std(y[SR:]) / np.std(x[SR:]))

    flat = dict(eq_hz=1000.0, eq_db=0.0, eq_q=1.0)
    # tilt 0.7: a first-order high-pass y = x - 0.7 x[n-1]: |1 - 0.7 e^-jw|
    for hz in (200.0, 3500.0):
        want = 20 * np.log10(abs(1 - 0.7 * np.exp(-2j * np.pi * hz / SR)))
        assert abs(response(hz, tilt=0.7, **flat) - want) < 0.1
    assert response(3500.0, tilt=0.7, **flat) - response(200.0, tilt=0.7, **flat) > 10
    # peaking EQ: +6 dB at its centre, about 0 dB far from it
    assert abs(response(1000.0, tilt=0.0, eq_hz=1000.0, eq_db=6.0, eq_q=1.0) - 6.0) < 0.1
    assert abs(response(300.0, tilt=0.0, eq_hz=3000.0, eq_db=6.0, eq_q=2.0)) < 0.5


def test_add_noise_snr():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(4 * SR) * 0.3
    for snr in augment.NOISE_SNR_RANGE:
        y = augment.add_noise(x, snr, np.random.default_rng(1))
        got = 10 * np.log10(np.mean(x ** 2) / np.mean((y - x) ** 2))
        assert abs(got - snr) < 0.2


@pytest.mark.parametrize("codec", augment.CODECS)
def test_codec_round_trip_is_lossy_aligned_and_same_length(codec):
    if codec not in augment.available_codecs():
        pytest.skip("this libsndfile cannot write %s/%s" % codec)
    x = vowel()
    y = augment.codec_round_trip(x, *codec)
    assert len(y) == len(x)
    assert not np.allclose(x, y)
    snr = 10 * np.log10(np.sum(x ** 2) / np.sum((x - y) ** 2))
    assert snr > 10          # aligned in time and level: GSM ~21 dB, Opus ~18 dB, mu-law ~37 dB


def test_room_impulse_response_and_reverberation():
    pytest.importorskip("pyroomacoustics")
    h = augment.room_impulse_response(0.4, np.random.default_rng(0))
    assert np.abs(h).max() == 1.0
    # energy decays: the last tenth of the response holds far less than the first
    e = np.cumsum(h[::-1] ** 2)[::-1]
    assert e[int(0.9 * len(h))] < 1e-2 * e[0]
    # deterministic for a seed
    assert np.array_equal(h, augment.room_impulse_response(0.4, np.random.default_rng(0)))
    x = vowel()
    y = augment.reverberate(x, h)
    assert len(y) == len(x) + len(h) // 4
    assert np.allclose(y[:len(x)], np.convolve(x, h)[:len(x)])
