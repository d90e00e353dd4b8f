"""``npsep.load``, ``npsep.separate`` and :class:`Model`: a SuDoRM-RF model ready to separate audio."""
import os
import warnings

import numpy as np

from . import fast, threads, weights
from .audio import BLOCK_FRAMES
from .chunking import DEFAULT_CHUNK_SECONDS, DEFAULT_OVERLAP, chunk_lengths, stream_separate
from .errors import NoModelError
from .fast import Workspace
from .weights import default_model_path


def load(path=None):
    """Load an npsep weights file (see :mod:`npsep.weights`) or a model by name (``npsep
    models`` lists them; downloaded once); ``None`` loads the bundled model.

    Raises :class:`npsep.WeightsError` with one line naming the problem if the file is
    missing or damaged, and :class:`npsep.errors.NoModelError` if ``path`` is ``None`` and
    this installation has no bundled model.
    """
    if path is None:
        path = default_model_path()
        if path is None:
            raise NoModelError("no bundled model in this installation (npsep/data/default_model.npz "
                               "is missing); give a weights file or a model name (--model), or "
                               "convert a PyTorch checkpoint with 'npsep convert'")
    from .models import resolve
    return Model(*weights.load(resolve(path)))


def resolve_model(model=None):
    """A loaded model from ``None`` (the bundled one), a path, or a model object.

    A model object is anything with ``sample_rate``, ``num_sources`` and
    ``separate(x)`` (``(B, T) -> (B, S, T)`` float32), like :class:`Model`.
    """
    if model is None or isinstance(model, (str, os.PathLike)):
        return load(None if model is None else os.fspath(model))
    for attr in ("sample_rate", "num_sources", "separate"):
        if not hasattr(model, attr):
            raise TypeError(f"model must be a path or have a {attr!r} attribute")
    return model


def separate(source, sample_rate=None, model=None, **options):
    """Separate an audio file or an array: ``(sources, rate)``.

    ``source``: a path (read whole, any format libsndfile reads; ``sources`` is then
    ``(S, frames, channels)`` at the file's rate), or an array passed to
    :meth:`Model.separate` with ``sample_rate`` (``None``: the model's rate).
    ``model``: ``None`` (the bundled model), a weights file path, or a :class:`Model`.
    ``options`` go to :meth:`Model.separate` (``channels_last``, ``chunk_seconds``, ``overlap``).
    """
    model = resolve_model(model)
    if isinstance(source, (str, os.PathLike)):
        from . import audio
        x, rate = audio.read(source)
        return model.separate(x, rate, channels_last=True, **options), rate
    rate = model.sample_rate if sample_rate is None else sample_rate
    return model.separate(source, rate, **options), rate


class Model:
    """A SuDoRM-RF separation model: ``forward`` (the network), ``separate_mixtures`` (the
    authors' recipe on whole mixtures) and ``separate`` (audio of any rate, channel count
    and length, in chunks).

    Attributes: ``config`` (the weights file's config: variant, hyper-parameters, sample
    rate...), ``variant``, ``num_sources``, ``sample_rate`` (Hz).
    """

    def __init__(self, config, tensors):
        weights.validate(config, tensors)
        self.config = config
        self.variant = config["variant"]
        self.hparams = dict(config["hparams"])
        self.num_sources = self.hparams["num_sources"]
        self.sample_rate = config["sample_rate"]
        self.mixture_consistency = config.get("mixture_consistency", False)
        self.tensors = tensors
        self._plan = fast.prepare(self.variant, self.hparams, tensors)
        self._workspace = Workspace()
        threads.follow_environment()

    def __repr__(self):
        hp = ", ".join(f"{k}={v}" for k, v in self.hparams.items())
        return f"Model({self.variant}, {hp}, sample_rate={self.sample_rate})"

    def forward(self, x):
        """The network itself, equal to the PyTorch module's ``forward``.

        ``x``: float32 waveforms at ``sample_rate``, shape ``(B, 1, T)``, ``(B, T)`` or ``(T,)``,
        any ``T >= 1``. Returns the estimated sources, float32 ``(B, S, T)``.
        """
        x = _as_batch(x)
        with threads.blas_pinned():
            return np.stack([fast.forward_item(self._plan, item, self._workspace) for item in x])

    def separate_mixtures(self, x):
        """Separate whole mixtures with the authors' inference recipe.

        Each mixture is standardised, ``(x - mean) / (std + 1e-9)`` with the unbiased std
        (0 for a single sample), passed through :meth:`forward`, and the sources are scaled
        back by ``std`` and shifted by ``mean``. Group-communication checkpoints then get
        mixture consistency: ``s_i += (x - sum_j s_j) / S``, so the sources add up to the mixture.

        ``x``: float32 ``(B, T)`` or ``(T,)`` (or ``(B, 1, T)``) at ``sample_rate``.
        Returns float32 ``(B, S, T)``. Memory grows with ``T``: see :meth:`separate`.
        """
        x = _as_batch(x)
        mean = x.mean(axis=1, keepdims=True, dtype=np.float64)
        std = x.std(axis=1, ddof=1, keepdims=True, dtype=np.float64) if x.shape[1] > 1 else np.zeros_like(mean)
        x_n = ((x - mean) / (std + 1e-9)).astype(np.float32)
        s = self.forward(x_n) * std[:, None].astype(np.float32) + mean[:, None].astype(np.float32)
        if self.mixture_consistency:
            s += (x[:, None, :] - s.sum(axis=1, keepdims=True)) / self.num_sources
        return s.astype(np.float32, copy=False)

    def separate(self, x, sample_rate=None, *, channels_last=None,
                 chunk_seconds=DEFAULT_CHUNK_SECONDS, overlap=DEFAULT_OVERLAP):
        """Separate audio: mixtures of any rate, channel count and length.

        Layouts (``T`` samples, ``C`` channels, ``B`` independent mixtures):

        * ``(T,)``: one mono mixture -> ``(1, S, T)``;
        * ``(B, T)`` or ``(B, 1, T)``: a batch -> ``(B, S, T)`` (``channels_last=False``);
        * ``(T, C)`` with ``channels_last=True``, as ``soundfile.read`` returns audio: one
          multichannel mixture -> ``(S, T, C)``. Each channel is separated on its own and
          the sources are put in the same order on every channel, as ``npsep separate`` does.

        A 2-D array with more rows than columns is refused unless ``channels_last`` says
        which it is (a ``(T, 2)`` stereo array read as ``T`` two-sample mixtures would be
        silently wrong).

        ``sample_rate``: the rate of ``x`` in Hz; ``None`` means the model's. Another rate
        is resampled to the model's and the sources back to ``sample_rate`` (content above
        half the model's rate is not separated; a :class:`UserWarning` says so).

        The sources are float32 whatever the dtype of ``x`` (the network computes in
        float32: float64 sources would take twice the memory for no extra precision), in
        the units of ``x`` (integer samples are not rescaled).

        Inputs longer than ``chunk_seconds`` (default 8 s at the model's rate) are
        separated in overlapping chunks, with the chunker of ``npsep separate``: ``x`` is
        read block by block (converted to float32 a block at a time, never copied whole)
        and each chunk's sources are written straight into the returned array, so memory
        does not grow with the length beyond the input and output arrays; ``0`` separates
        each mixture whole (:meth:`separate_mixtures`, exact, memory grows with ``T``).
        """
        x, layout = _as_audio(x, channels_last)
        rate = self.sample_rate if sample_rate is None else sample_rate
        if not isinstance(rate, (int, np.integer)) or isinstance(rate, bool) or not 0 < rate <= 768000:
            raise ValueError(f"sample_rate must be a whole number of Hz in 1..768000, got {sample_rate!r}")
        if rate > self.sample_rate:
            warnings.warn(f"the input is at {rate} Hz and the model at {self.sample_rate} Hz: "
                          f"content above {self.sample_rate / 2:g} Hz is not separated", stacklevel=2)
        model_frames = -(-x.shape[1] * self.sample_rate // rate)
        chunk_len, overlap_len = chunk_lengths(self.sample_rate, chunk_seconds, overlap, total=model_frames)
        S, (B, T, C) = self.num_sources, x.shape
        out = np.empty((B, S, T, C), dtype=np.float32)
        for b in range(B):
            # float32 blocks of the caller's array: no whole-array copy for any input dtype
            blocks = (x[b, i:i + BLOCK_FRAMES].astype(np.float32, copy=False) for i in range(0, T, BLOCK_FRAMES))
            done = 0
            for y in stream_separate(self.separate_mixtures, S, blocks, rate, self.sample_rate, C,
                                     chunk_len, overlap_len):
                out[b, :, done:done + len(y)] = y.transpose(1, 0, 2)
                done += len(y)
        return out[0] if layout == "channels_last" else out[..., 0]  # (S, T, C) or (B, S, T)

    def warmup(self):
        """Compile (or load from the cache) every kernel this model runs, both the single- and the
        multi-threaded builds, by one forward pass on 0.1 s of silence. Returns seconds."""
        import time

        from . import _jit
        t0 = time.perf_counter()
        with _jit.every_build():
            self.forward(np.zeros((1, max(1, self.sample_rate // 10)), dtype=np.float32))
        return time.perf_counter() - t0


def _as_audio(x, channels_last):
    """``x`` as ``(B, T, C)`` (a view, in the caller's dtype; checked) and its layout:
    ``"batch"`` or ``"channels_last"``."""
    x = np.asarray(x)
    if channels_last:
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2:
            raise ValueError(f"with channels_last=True, expected (T,) or (T, C) audio, got {x.shape}")
        return _validated(x)[None], "channels_last"
    if channels_last is None and x.ndim == 2 and x.shape[0] > x.shape[1]:
        raise ValueError(f"ambiguous shape {x.shape}: is it {x.shape[0]} mixtures of {x.shape[1]} "
                         f"samples, or {x.shape[0]} frames of {x.shape[1]}-channel audio (as "
                         "soundfile.read returns it)? Pass channels_last=True or False")
    return _validated(_batch_view(x))[:, :, None], "batch"


def _as_batch(x):
    """``(B, 1, T)``, ``(B, T)`` or ``(T,)`` -> contiguous float32 ``(B, T)``, checked."""
    return np.ascontiguousarray(_validated(_batch_view(np.asarray(x))), dtype=np.float32)


def _batch_view(x):
    """``(B, 1, T)``, ``(B, T)`` or ``(T,)`` -> a ``(B, T)`` view."""
    if x.ndim == 3 and x.shape[1] == 1:
        x = x[:, 0]
    elif x.ndim == 1:
        x = x[None]
    if x.ndim != 2:
        raise ValueError(f"expected a waveform of shape (B, 1, T), (B, T) or (T,), got {x.shape}")
    return x


def _validated(x):
    """``x`` (2-D) itself, after checking that it has at least one sample, real values, and
    only values float32 holds: finite, at most about 3.4e38 in magnitude. The range is
    checked on the minimum and maximum (NaN and Inf reach them), so nothing is copied."""
    if x.shape[1] < 1 or x.shape[0] < 1:
        raise ValueError(f"expected at least one sample in each of at least one waveform, got {x.shape}")
    if not np.issubdtype(x.dtype, np.floating) and not np.issubdtype(x.dtype, np.integer):
        raise ValueError(f"expected real-valued samples, got dtype {x.dtype}")
    limit = np.finfo(np.float32).max
    if np.issubdtype(x.dtype, np.floating) and not -limit <= x.min() <= x.max() <= limit:
        raise ValueError("the waveform contains NaN or Inf samples (or values beyond float32's range)")
    return x
