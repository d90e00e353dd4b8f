"""Errors a user can cause. The CLI prints each as one line on stderr, never a traceback."""


class NpsepError(Exception):
    """Base of every error caused by input a user gave (files, options, weights)."""


class WeightsError(NpsepError, ValueError):
    """A weights file is missing, damaged or does not describe a valid model."""


class ConvertError(NpsepError, ValueError):
    """A checkpoint cannot be converted (unreadable, unsafe, or not a SuDoRM-RF model)."""


class AudioError(NpsepError, ValueError):
    """An audio file cannot be read, is empty, or holds non-finite samples; or cannot be written."""
