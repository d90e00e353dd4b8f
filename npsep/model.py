"""``npsep.load`` and :class:`Model`: a SuDoRM-RF model ready to separate audio."""
import numpy as np

from . import fast, threads, weights
from .fast import Workspace
from .errors import WeightsError
from .weights import default_model_path


def load(path=None):
    """Load an npsep weights file (see :mod:`npsep.weights`) or a model by name (``npsep
    models`` lists them; downloaded once); ``None`` loads the bundled model.

    Raises :class:`npsep.WeightsError` with one line naming the problem if the file is
    missing or damaged.
    """
    if path is None:
        path = default_model_path()
        if path is None:
            raise WeightsError("no default model is bundled with this npsep; pass a weights file "
                               "(convert a PyTorch checkpoint with 'npsep convert')")
    from .models import resolve
    return Model(*weights.load(resolve(path)))


class Model:
    """A SuDoRM-RF separation model: ``forward`` (the network) and ``separate`` (the recipe).

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

    def separate(self, x):
        """Separate mixtures with the authors' inference recipe (SPEC section 4).

        Each mixture is standardised, ``(x - mean) / (std + 1e-9)`` with the unbiased std
        (0 for a single sample), passed through :meth:`forward`, and the sources are scaled
        back by ``std`` and shifted by ``mean``. Group-communication checkpoints then get
        mixture consistency: ``s_i += (x - sum_j s_j) / S``, so the sources add up to the mixture.

        ``x``: float32 ``(B, T)`` or ``(T,)`` (or ``(B, 1, T)``). Returns float32 ``(B, S, T)``.
        """
        x = _as_batch(x)
        mean = x.mean(axis=1, keepdims=True, dtype=np.float64)
        std = x.std(axis=1, ddof=1, keepdims=True, dtype=np.float64) if x.shape[1] > 1 else np.zeros_like(mean)
        x_n = ((x - mean) / (std + 1e-9)).astype(np.float32)
        s = self.forward(x_n) * std[:, None].astype(np.float32) + mean[:, None].astype(np.float32)
        if self.mixture_consistency:
            s += (x[:, None, :] - s.sum(axis=1, keepdims=True)) / self.num_sources
        return s.astype(np.float32, copy=False)


def _as_batch(x):
    """``(B, 1, T)``, ``(B, T)`` or ``(T,)`` -> contiguous float32 ``(B, T)``, checked."""
    x = np.asarray(x)
    if x.ndim == 3 and x.shape[1] == 1:
        x = x[:, 0]
    elif x.ndim == 1:
        x = x[None]
    if x.ndim != 2:
        raise ValueError(f"expected a waveform of shape (B, 1, T), (B, T) or (T,), got {x.shape}")
    if x.shape[1] < 1 or x.shape[0] < 1:
        raise ValueError(f"expected at least one sample in each of at least one waveform, got {x.shape}")
    if not np.issubdtype(x.dtype, np.floating) and not np.issubdtype(x.dtype, np.integer):
        raise ValueError(f"expected real-valued samples, got dtype {x.dtype}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        raise ValueError("the waveform contains NaN or Inf samples")
    return x
