"""npsep: SuDoRM-RF audio source separation in pure NumPy and Numba."""
from .weights import WeightsError

__version__ = "0.1.0"
