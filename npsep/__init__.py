"""npsep: SuDoRM-RF audio source separation in pure NumPy and Numba."""
from .errors import AudioError, ConvertError, NpsepError, WeightsError

__version__ = "0.1.0"
