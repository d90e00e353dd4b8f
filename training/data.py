"""Data access for training: on-the-fly mixing of the training utterances and
loading of the fixed validation / test mixtures written by make_corpus.py."""

import json
import os

import numpy as np
from scipy.io import wavfile

import augment

SR = 8000


class TrainMixer:
    """Draws random two-talker mixtures from single-speaker training shards.

    ``train_dirs`` is one shard folder or a ``{folder: weight}`` dict: each of the
    two talkers comes from a folder drawn with these weights, then a uniformly
    drawn utterance of it.  The two are never the same speaker (the part of the
    index's ``voice`` after "+"), unless augmentation made them two voices: pitch
    at least ``MIN_PITCH_APART`` semitones or formants ``MIN_FORMANT_RATIO`` apart.
    Each talker gets a random crop (or a random placement, for short ones) in a
    segment of ``seg_len`` samples, and a relative level uniform in +-``level_db`` dB.

    With ``augment`` the cheap augmentations of ``augment.py`` are drawn here:
    per talker speed (p 0.5) and tilt + EQ (p 0.5); per mixture a telephone
    (p 0.2) or wideband (p 0.1) band limit of both talkers, and white noise
    under the mixture only (p 0.3), so the targets stay clean.

    ``reshape`` is the probability, per talker and independently, of a pitch shift
    (``augment.PITCH_RANGE``) and of a formant warp (``augment.FORMANT_RANGE``)
    drawn afresh for every example, so that each talker is a new voice every time
    (the corpus holds only three fixed versions of each real utterance).
    """

    MIN_PITCH_APART = 3.0
    MIN_FORMANT_RATIO = 1.15

    def __init__(self, train_dirs, seg_len, level_db=5.0, augment=False, reshape=0.0):
        if isinstance(train_dirs, str):
            train_dirs = {train_dirs: 1.0}
        self.index, self.shards, group = [], [], []
        for g, d in enumerate(train_dirs):
            with open(os.path.join(d, "index.json")) as f:
                index = json.load(f)["utterances"]
            n_shards = max(u["shard"] for u in index) + 1
            base = len(self.shards)
            self.shards += [np.load(os.path.join(d, "shard_%03d.npy" % i), mmap_mode="r")
                            for i in range(n_shards)]
            self.index += [dict(u, shard=u["shard"] + base) for u in index]
            group += [g] * len(index)
        w = np.array(list(train_dirs.values()), dtype=np.float64)
        self.group_p = w / w.sum()
        self.members = [np.nonzero(np.array(group) == g)[0] for g in range(len(w))]
        self.seg_len = int(seg_len)
        self.level_db = float(level_db)
        self.augment = bool(augment)
        self.reshape = float(reshape)
        names = [u["voice"].split("+", 1)[1] for u in self.index]
        self.speaker = np.unique(names, return_inverse=True)[1]
        self.pitch = np.array([u.get("pitch_st") or 0.0 for u in self.index])
        self.formant = np.array([u.get("formant") or 1.0 for u in self.index])
        self.reshaped = np.array([("pitch_st" in u) for u in self.index])

    def __len__(self):
        return len(self.index)

    def distinct_voices(self, i, j):
        """True when utterances i and j may be mixed: other speakers, or one
        speaker made into two voices by pitch / formant augmentation."""
        if self.speaker[i] != self.speaker[j]:
            return True
        if not (self.reshaped[i] and self.reshaped[j]):
            return False
        return (abs(self.pitch[i] - self.pitch[j]) >= self.MIN_PITCH_APART
                or abs(np.log(self.formant[i] / self.formant[j])) >= np.log(self.MIN_FORMANT_RATIO))

    def _utt(self, i):
        u = self.index[i]
        return np.asarray(self.shards[u["shard"]][u["offset"]:u["offset"] + u["length"]],
                          dtype=np.float64)

    def _place(self, x, rng):
        T = self.seg_len
        out = np.zeros(T)
        if len(x) >= T:
            a = rng.integers(0, len(x) - T + 1)
            out[:] = x[a:a + T]
        else:
            a = rng.integers(0, T - len(x) + 1)
            out[a:a + len(x)] = x
        return out

    def _draw(self, rng):
        g = rng.choice(len(self.group_p), p=self.group_p)
        return self.members[g][rng.integers(0, len(self.members[g]))]

    def _talker(self, i, rng):
        x = self._utt(i)
        if self.augment and rng.random() < 0.5:
            x = augment.speed(x, rng.uniform(*augment.SPEED_RANGE))
        # with reshape 0 no random number is drawn, so the examples are those of a mixer without it
        if self.reshape and rng.random() < self.reshape:
            # a pitch shift changes the length by up to its factor: cut a window that much longer first
            n = int(self.seg_len * 2 ** (max(map(abs, augment.PITCH_RANGE)) / 12))
            if len(x) > n:
                a = rng.integers(0, len(x) - n + 1)
                x = x[a:a + n]
            x = augment.pitch_shift(x, rng.uniform(*augment.PITCH_RANGE))
        x = self._place(x, rng)
        if self.reshape and rng.random() < self.reshape:
            x = augment.formant_warp(x, rng.uniform(*augment.FORMANT_RANGE))
        if self.augment and rng.random() < 0.5:
            x = augment.tilt_eq(x, rng.uniform(*augment.TILT_RANGE), rng.uniform(200, 3500),
                                rng.uniform(*augment.EQ_GAIN_RANGE), rng.uniform(0.7, 2.0))
        return x

    def example(self, rng):
        """One training example: sources (2, seg_len) and the noise under their mixture."""
        while True:
            i, j = self._draw(rng), self._draw(rng)
            if not self.distinct_voices(i, j):
                continue
            s1 = self._talker(i, rng)
            s2 = self._talker(j, rng)
            if self.augment:
                band = rng.random()
                if band < 0.3:
                    lo, hi = augment.TELEPHONE_BAND if band < 0.2 else augment.WIDEBAND_BAND
                    s1, s2 = augment.band_limit(s1, lo, hi), augment.band_limit(s2, lo, hi)
            p1 = np.mean(s1 ** 2)
            p2 = np.mean(s2 ** 2)
            # both talkers must actually speak in the segment
            if p1 < 1e-6 or p2 < 1e-6:
                continue
            g = rng.uniform(-self.level_db, self.level_db)
            s1 *= 10 ** (g / 20) * np.sqrt(p2 / p1)
            src = np.stack([s1, s2])
            src *= 10 ** (rng.uniform(-10, 10) / 20) / (np.abs(src.sum(0)).max() + 1e-9)
            noise = np.zeros(self.seg_len)
            if self.augment and rng.random() < 0.3:
                mix = src.sum(0)
                noise = augment.add_noise(mix, rng.uniform(*augment.NOISE_SNR_RANGE), rng) - mix
            return src.astype(np.float32), noise.astype(np.float32)

    def batch(self, batch_size, rng):
        """(mix (B, 1, T), sources (B, 2, T)); mix = s1 + s2 (+ noise with ``augment``)."""
        examples = [self.example(rng) for _ in range(batch_size)]
        src = np.stack([e[0] for e in examples])
        noise = np.stack([e[1] for e in examples])
        return src.sum(axis=1, keepdims=True) + noise[:, None], src


def _read(path):
    rate, x = wavfile.read(path)
    if rate != SR:
        raise ValueError("%s: %d Hz, expected %d" % (path, rate, SR))
    if x.dtype == np.int16:
        return x.astype(np.float32) / 32768.0
    return x.astype(np.float32)


def load_fixed_split(split_dir, limit=None):
    """List of (id, mix (T,), sources (2, T)) from a fixed split directory."""
    with open(os.path.join(split_dir, "manifest.json")) as f:
        mixtures = json.load(f)["mixtures"]
    if limit:
        mixtures = mixtures[:limit]
    out = []
    for m in mixtures:
        d = os.path.join(split_dir, m["id"])
        mix = _read(os.path.join(d, "mix.wav"))
        src = np.stack([_read(os.path.join(d, "s1.wav")), _read(os.path.join(d, "s2.wav"))])
        out.append((m["id"], mix, src))
    return out
