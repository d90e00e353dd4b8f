"""Data access for training: on-the-fly mixing of the training utterances and
loading of the fixed validation / test mixtures written by make_corpus.py."""

import json
import os

import numpy as np
from scipy.io import wavfile

SR = 8000


class TrainMixer:
    """Draws random two-talker mixtures from the single-speaker training shards.

    Every call picks two utterances with different voice variants, a random
    crop (or a random placement, for short ones) in a segment of ``seg_len``
    samples, and a relative level uniform in +-``level_db`` dB.
    """

    def __init__(self, train_dir, seg_len, level_db=5.0):
        with open(os.path.join(train_dir, "index.json")) as f:
            self.index = json.load(f)["utterances"]
        n_shards = max(u["shard"] for u in self.index) + 1
        self.shards = [np.load(os.path.join(train_dir, "shard_%03d.npy" % i), mmap_mode="r")
                       for i in range(n_shards)]
        self.seg_len = int(seg_len)
        self.level_db = float(level_db)
        names = [u["voice"].split("+", 1)[1] for u in self.index]
        self.variant = np.unique(names, return_inverse=True)[1]

    def __len__(self):
        return len(self.index)

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

    def example(self, rng):
        n = len(self.index)
        while True:
            i, j = rng.integers(0, n, size=2)
            if self.variant[i] == self.variant[j]:
                continue
            s1 = self._place(self._utt(i), rng)
            s2 = self._place(self._utt(j), rng)
            p1 = np.mean(s1 ** 2)
            p2 = np.mean(s2 ** 2)
            # both talkers must actually speak in the segment
            if p1 < 1e-6 or p2 < 1e-6:
                continue
            g = rng.uniform(-self.level_db, self.level_db)
            s1 *= 10 ** (g / 20) * np.sqrt(p2 / p1)
            src = np.stack([s1, s2])
            src *= 10 ** (rng.uniform(-10, 10) / 20) / (np.abs(src.sum(0)).max() + 1e-9)
            return src.astype(np.float32)

    def batch(self, batch_size, rng):
        src = np.stack([self.example(rng) for _ in range(batch_size)])  # (B, 2, T)
        return src.sum(axis=1, keepdims=True), src


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
