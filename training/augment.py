"""Augmentations that turn a few voices into many (8 kHz mono float signals).

Each function is one transformation with the range the corpus draws it from in
``*_RANGE`` beside it.  Cheap ones (speed, tilt/EQ, band-limiting, noise) are
applied on the fly when training mixtures are drawn (``data.TrainMixer``);
expensive ones (formant warping, pitch shifting, codec round trips, simulated
rooms) once, when the corpus is generated (``make_voices_corpus.py``).
"""

import io
from fractions import Fraction

import numpy as np
import soundfile
from scipy.linalg import solve_toeplitz
from scipy.signal import fftconvolve, lfilter, resample_poly

SR = 8000

SPEED_RANGE = (0.9, 1.1)          # tempo, pitch and formants all scale by the factor
FORMANT_RANGE = (0.85, 1.2)       # vocal-tract-length warp of the formant frequencies
PITCH_RANGE = (-4.0, 4.0)         # semitones, formants kept
TILT_RANGE = (-0.7, 0.7)          # first-order tilt coefficient: about -10..+10 dB at 3.5 kHz
EQ_GAIN_RANGE = (-6.0, 6.0)       # dB of one peaking band, centre 200-3500 Hz, Q 0.7-2
TELEPHONE_BAND = (300.0, 3400.0)  # Hz
WIDEBAND_BAND = (60.0, 3900.0)    # Hz: a microphone's roll-off at both ends
NOISE_SNR_RANGE = (25.0, 45.0)    # dB below the mixture
RT60_RANGE = (0.15, 0.5)          # s, simulated shoebox rooms
CODECS = (("WAV", "GSM610"), ("WAV", "ULAW"), ("MP3", "MPEG_LAYER_III"), ("OGG", "OPUS"))


def speed(x, factor):
    """Play ``x`` ``factor`` times faster: length / factor, every frequency * factor."""
    ratio = Fraction(1.0 / factor).limit_denominator(400)
    return resample_poly(x, ratio.numerator, ratio.denominator)


def _lpc(frame, order):
    """Autocorrelation-method LPC: a (order + 1,), a[0] = 1, with A(z) minimum phase."""
    r = np.correlate(frame, frame, "full")[len(frame) - 1:len(frame) + order]
    r[0] *= 1 + 1e-9
    r[0] += 1e-12
    return np.concatenate([[1.0], -solve_toeplitz(r[:-1], r[1:])])


def _warp_poles(a, alpha):
    """All-pole filter with every complex pole's angle multiplied by ``alpha`` (kept below pi).

    Real poles stay where they are: moving one off the real axis (a pole at angle pi)
    would leave it without a conjugate, and the real part of that polynomial can have
    roots outside the unit circle (an unstable filter).  Complex poles move in conjugate
    pairs at their own radius, so the filter stays real and stable."""
    poles = np.roots(a)
    ang = np.angle(poles)
    moved = np.sign(ang) * np.minimum(np.abs(ang) * alpha, np.pi - 0.05)
    warped = np.where(poles.imag != 0, np.abs(poles) * np.exp(1j * moved), poles)
    return np.real(np.poly(warped))


def formant_warp(x, alpha, order=10, frame=256):
    """Vocal-tract-length warp: every formant frequency * ``alpha``, pitch and length kept.

    Per Hann-windowed frame (hop frame/2, windows summing to one): y = (1/A'(z)) A(z) x,
    with A the frame's LPC polynomial and A' the same poles at ``alpha`` times their angle."""
    hop = frame // 2
    win = np.hanning(frame + 1)[:frame]
    n = len(x)
    xp = np.concatenate([np.zeros(hop), x, np.zeros(frame)])
    y = np.zeros(len(xp))
    for s in range(0, len(xp) - frame + 1, hop):
        seg = xp[s:s + frame] * win
        if not np.any(seg):
            continue
        a = _lpc(seg, order)
        y[s:s + frame] += lfilter([1.0], _warp_poles(a, alpha), lfilter(a, [1.0], seg))
    return y[hop:hop + n]


def pitch_shift(x, semitones):
    """Pitch * 2^(semitones/12) with formants kept: ``speed`` then the inverse ``formant_warp``.
    The length changes like the pitch (length / factor), as with a faster talker."""
    factor = 2.0 ** (semitones / 12.0)
    return formant_warp(speed(x, factor), 1.0 / factor)


def tilt_eq(x, tilt, eq_hz, eq_db, eq_q):
    """Spectral tilt y[n] = x[n] - tilt x[n-1], then one peaking-EQ biquad (RBJ cookbook)."""
    y = lfilter([1.0, -tilt], [1.0], x)
    amp = 10 ** (eq_db / 40)
    w = 2 * np.pi * eq_hz / SR
    al = np.sin(w) / (2 * eq_q)
    b = [1 + al * amp, -2 * np.cos(w), 1 - al * amp]
    a = [1 + al / amp, -2 * np.cos(w), 1 - al / amp]
    return lfilter(b, a, y)


def band_limit(x, lo_hz, hi_hz):
    """Zero every DFT bin outside [lo_hz, hi_hz]: no energy is left outside the band."""
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1.0 / SR)
    spec[(f < lo_hz) | (f > hi_hz)] = 0
    return np.fft.irfft(spec, len(x))


def add_noise(x, snr_db, rng):
    """``x`` plus white Gaussian noise ``snr_db`` below its power."""
    p = np.mean(x ** 2)
    return x + rng.standard_normal(x.shape) * np.sqrt(p * 10 ** (-snr_db / 10))


def available_codecs():
    """The (format, subtype) pairs of ``CODECS`` that this libsndfile can write."""
    return [c for c in CODECS if c[1] in soundfile.available_subtypes(c[0])]


def codec_round_trip(x, fmt, subtype):
    """Encode ``x`` with a lossy codec through soundfile and decode it (same length)."""
    peak = np.abs(x).max() + 1e-12
    buf = io.BytesIO()
    soundfile.write(buf, x / peak * 0.9, SR, format=fmt, subtype=subtype)
    buf.seek(0)
    y, _ = soundfile.read(buf, dtype="float64")
    y = np.concatenate([y, np.zeros(max(0, len(x) - len(y)))])[:len(x)]
    return y * peak / 0.9


def room_impulse_response(rt60, rng):
    """A shoebox room's impulse response (pyroomacoustics image method), random room,
    talker and microphone; normalised to a unit direct-path peak."""
    import pyroomacoustics as pra   # training-only dependency
    dims = rng.uniform([3.0, 3.0, 2.4], [8.0, 6.0, 3.2])
    absorption, max_order = pra.inverse_sabine(rt60, dims)
    room = pra.ShoeBox(dims, fs=SR, materials=pra.Material(absorption), max_order=min(max_order, 12))
    room.add_source(rng.uniform(0.5, dims - 0.5))
    room.add_microphone(rng.uniform(0.5, dims - 0.5))
    room.compute_rir()
    h = np.asarray(room.rir[0][0], dtype=np.float64)
    return h / np.abs(h).max()


def reverberate(x, h):
    """``x`` convolved with impulse response ``h``, cut to the length of ``x`` plus the tail."""
    return fftconvolve(x, h)[:len(x) + len(h) // 4]
