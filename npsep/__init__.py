"""npsep: SuDoRM-RF audio source separation in pure NumPy and Numba."""
from .errors import AudioError, ConvertError, NpsepError, WeightsError
from .model import Model, default_model_path, load
from .separate import separate_file
from .threads import get_num_threads, set_num_threads

__version__ = "0.1.0"
