"""npsep: SuDoRM-RF audio source separation in pure NumPy and Numba."""
from .errors import AudioError, ConvertError, NpsepError, WeightsError
from .model import Model, default_model_path, load

__version__ = "0.1.0"
