"""Audio files in and out: block-wise reading, atomic writing, streaming resampling, checks.

Everything here works in bounded memory: files are read block by block
(:func:`read_blocks`), resampled block by block (:class:`StreamResampler`) and
written block by block to a temporary file that is renamed into place only when
it is complete (:class:`AtomicWriter`). Problems a user can cause raise
:class:`npsep.errors.AudioError` with one line naming the file.

Decisions:

* **What can be read**: whatever libsndfile (through ``soundfile``) reads:
  WAV/WAVEX/RF64/W64 in 8/16/24/32-bit PCM, float and double, FLAC, OGG
  (Vorbis, Opus), AIFF, CAF, MP3, ...; and, when ffmpeg is installed, the formats
  of :data:`npsep.ffmpeg.EXTENSIONS` (AAC in .m4a/.mp4, WMA, ...: see :mod:`npsep.ffmpeg`).
* **Output format** (:func:`output_format`): the container of the input (WAV to
  WAV, FLAC to FLAC, OGG to OGG, ...) and, within it, the input's sample
  encoding where that is PCM of 16 bits or more, float or double. 8-bit PCM
  (``PCM_U8``/``PCM_S8``) is written as ``PCM_16``: 8-bit quantisation noise
  (about -48 dB) would be louder than the separation residue on quiet sources.
  Companded and ADPCM encodings (u-law, A-law, IMA/MS ADPCM, GSM, ...) are
  decoded on input and written as ``PCM_16``. Lossy codecs are re-encoded with
  the same codec: OGG Vorbis as Vorbis, OGG Opus as Opus, MP3 as MP3. Anything
  libsndfile cannot write back falls back to the container's default encoding,
  and failing that to 32-bit float WAV (``.wav``), as do inputs decoded by ffmpeg.
* **Clipping**: separated sources may exceed full scale; PCM outputs are
  clipped to [-1, 1] (libsndfile would clip too), float outputs are not.
* **Resampling**: scipy's polyphase ``resample_poly`` with its default
  Kaiser (beta 5) low-pass design, applied in a streaming way that reproduces
  the whole-signal ``resample_poly`` result (see :class:`StreamResampler`).
"""
import math
import os
import re
import stat
import tempfile
import warnings

import numpy as np
import soundfile as sf

from . import ffmpeg
from .errors import AudioError

BLOCK_FRAMES = 1 << 16
"""Frames per read block (65536: 1.5 s at 44.1 kHz; 1.5 MiB for 6 float32 channels)."""

_PCM_KEPT = ("PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE")
_LOSSY_KEPT = ("VORBIS", "OPUS", "MPEG_LAYER_III")
_FLOAT_SUBTYPES = ("FLOAT", "DOUBLE", "VORBIS", "OPUS", "MPEG_LAYER_I", "MPEG_LAYER_II",
                   "MPEG_LAYER_III")


# --- reading ----------------------------------------------------------------------------

MAX_SAMPLE_RATE = 768000
"""Highest sample rate read (Hz); higher header values are refused before any work."""



class AudioWarning(UserWarning):
    """A file was processed, but not all of it as its header announced (e.g. truncated)."""


def label(source):
    """How a path or an in-memory file (standard input) is named in messages."""
    return os.fspath(source) if isinstance(source, (str, os.PathLike)) else "<stdin>"


def probe(source):
    """Open ``source`` (a path, or a seekable binary file object) as audio; return its
    :class:`soundfile._SoundFileInfo`.

    Raises :class:`AudioError` (one line) if the file is missing, not a regular file
    (checked before it is opened: a FIFO or a device is refused, not read), unreadable,
    not audio, holds no samples, or declares a rate above :data:`MAX_SAMPLE_RATE`.
    """
    name = label(source)
    if isinstance(source, (str, os.PathLike)):
        try:
            st = os.stat(source)
        except FileNotFoundError:
            raise AudioError(f"{name}: no such file") from None
        except OSError as e:
            raise AudioError(f"{name}: cannot open ({e.strerror or e})") from None
        if stat.S_ISDIR(st.st_mode):
            raise AudioError(f"{name}: is a folder, not an audio file")
        if not stat.S_ISREG(st.st_mode):
            raise AudioError(f"{name}: not a regular file (a pipe or a device); give a file")
        if not os.access(source, os.R_OK):
            raise AudioError(f"{name}: permission denied")
    try:
        info = sf.info(_rewound(source))
    except (sf.SoundFileError, RuntimeError, OSError, ValueError) as e:
        if ffmpeg.handles(source):
            info = ffmpeg.probe(source)
        else:
                raise AudioError(f"{name}: not a readable audio file ({_libsndfile_reason(e)}"
                             f"{_convert_hint(name)})") from None
    if info.frames <= 0:
        raise AudioError(f"{name}: contains no audio samples")
    if info.samplerate <= 0 or info.channels <= 0:
        raise AudioError(f"{name}: invalid header ({info.samplerate} Hz, {info.channels} channels)")
    if info.samplerate > MAX_SAMPLE_RATE:
        raise AudioError(f"{name}: unsupported sample rate {info.samplerate} Hz in its header "
                         f"(npsep reads up to {MAX_SAMPLE_RATE} Hz)")
    return info


_STDIN = []


def stdin_file():
    """Standard input read whole into memory (once), as a seekable file: libsndfile must
    seek in what it reads, and a pipe cannot."""
    if not _STDIN:
        import io
        import sys
        _STDIN.append(io.BytesIO(sys.stdin.buffer.read()))
    return _STDIN[0]


def _rewound(source):
    if not isinstance(source, (str, os.PathLike)):
        source.seek(0)
    return source


def _convert_hint(name):
    if os.path.splitext(name)[1].lower() in ffmpeg.EXTENSIONS:
        return "; libsndfile cannot decode this format: install ffmpeg, or convert the file to WAV or FLAC"
    return ""


def read_blocks(source, block_frames=BLOCK_FRAMES):
    """Yield the samples of ``source`` as float32 arrays of shape ``(frames, channels)``.

    At most ``block_frames`` frames are held at a time. Every block is checked: a NaN or
    Inf sample, or one beyond float32's range (possible in a 64-bit float file), raises
    :class:`AudioError` naming the first bad frame, and so does a read error part-way
    through (a corrupt file). A file that ends before the frame count of its header (a
    truncated MP3 or OGG) is read to its decodable end with an :class:`AudioWarning`.
    An empty file raises.
    """
    name = label(source)
    pos = 0
    try:
        f = sf.SoundFile(_rewound(source))
    except (sf.SoundFileError, RuntimeError, OSError, ValueError) as e:
        if not ffmpeg.handles(source):
            raise AudioError(f"{name}: not a readable audio file ({_libsndfile_reason(e)})") from None
        f = None
    if f is None:
        yield from _checked_blocks(ffmpeg.read_blocks(ffmpeg.probe(source), block_frames), name)
        return
    with f:
        dtype = "float64" if f.subtype == "DOUBLE" else "float32"
        while True:
            try:
                block = f.read(block_frames, dtype=dtype, always_2d=True)
            except (sf.SoundFileError, RuntimeError, OSError, ValueError) as e:
                raise AudioError(f"{name}: read error after frame {pos} "
                                 f"({_libsndfile_reason(e)})") from None
            if len(block) == 0:
                break
            check_finite(block, name, pos)
            pos += len(block)
            yield block.astype(np.float32, copy=False)
            if len(block) < block_frames:
                break
        expected = f.frames
    if pos == 0:
        raise AudioError(f"{name}: contains no audio samples")
    if pos < expected:
        warnings.warn(f"{name}: only {pos} of the {expected} frames its header announces could "
                      "be decoded (truncated?); separated those", AudioWarning, stacklevel=2)


def _checked_blocks(blocks, name):
    """``blocks`` (float32), each checked with :func:`check_finite`; at least one sample."""
    pos = 0
    for block in blocks:
        check_finite(block, name, pos)
        pos += len(block)
        yield block
    if pos == 0:
        raise AudioError(f"{name}: contains no audio samples")


def read(source):
    """Read a whole file: ``(samples (frames, channels) float32, sample_rate)``, checked."""
    info = probe(source)
    blocks = list(read_blocks(source))
    return np.concatenate(blocks, axis=0), info.samplerate


def check_finite(block, path, offset=0):
    """Raise :class:`AudioError` if ``block`` (frames first) holds a NaN or an Inf, or a
    finite value that float32 cannot hold (beyond about 3.4e38)."""
    finite = np.isfinite(block)
    if not finite.all():
        bad = int(np.argmin(finite.all(axis=tuple(range(1, block.ndim)))))
        raise AudioError(f"{path}: NaN or Inf sample at frame {offset + bad}")
    big = np.abs(block) > np.finfo(np.float32).max
    if big.any():
        bad = int(np.argmax(big.any(axis=tuple(range(1, block.ndim)))))
        value = float(np.abs(block[bad]).max())
        raise AudioError(f"{path}: sample of magnitude {value:.3g} at frame {offset + bad}, "
                         "beyond the float32 range npsep computes in (about 3.4e38)")


# --- writing ----------------------------------------------------------------------------

def output_format(info, fmt=None, subtype=None):
    """``(format, subtype, extension)`` to write a result derived from the file ``info``.

    With no ``fmt``/``subtype``, see the module docstring for the mapping; ``extension`` is
    then ``None`` when the input's own extension should be kept, else a replacement such
    as ``".wav"``. A ``fmt`` chosen by the user (a libsndfile major format such as ``WAV``,
    ``FLAC``, ``OGG``, ``MP3``) gives the extension ``.<fmt>`` and, without ``subtype``, its
    default encoding; a combination libsndfile cannot write raises :class:`AudioError`.
    """
    if fmt is not None or subtype is not None:
        fmt = (fmt or info.format).upper()
        subtype = (subtype or sf.default_subtype(fmt) or "").upper()
        if not subtype or not sf.check_format(fmt, subtype):
            raise AudioError(f"cannot write format {fmt} with encoding {subtype or '(none)'} "
                             f"(valid encodings: {', '.join(sorted(sf.available_subtypes(fmt))) or 'none'})")
        if not _rate_ok(fmt, subtype, info.samplerate):
            raise AudioError(f"{fmt}/{subtype} cannot store {info.samplerate} Hz audio")
        return fmt, subtype, "." + fmt.lower() if fmt != info.format else None
    fmt, sub = info.format, info.subtype
    if fmt not in sf.available_formats():  # decoded by ffmpeg
        return "WAV", "FLOAT", ".wav"
    if sub in _PCM_KEPT or sub in _LOSSY_KEPT:
        want = sub
    else:
        want = "PCM_16"
    if fmt in ("FLAC",) and want in ("PCM_32", "FLOAT", "DOUBLE"):
        want = "PCM_24"  # unreachable with a real FLAC input; guards odd headers
    if sf.check_format(fmt, want) and _rate_ok(fmt, want, info.samplerate):
        return fmt, want, None
    default = sf.default_subtype(fmt)
    if default and sf.check_format(fmt, default) and _rate_ok(fmt, default, info.samplerate):
        return fmt, default, None
    return "WAV", "FLOAT", ".wav"


def _rate_ok(fmt, subtype, rate):
    if subtype == "OPUS":
        return rate in (8000, 12000, 16000, 24000, 48000)
    return True


def is_float_subtype(subtype):
    """Does a file with this subtype store (and give back) values beyond [-1, 1]?"""
    return subtype in _FLOAT_SUBTYPES


TEMP_PATTERN = re.compile(r"^\.npsep-(\d+)(?:@([0-9a-f]{8}))?-[0-9a-z_]+\.part$")
"""Names of the temporary files :class:`AtomicWriter` writes: ``.npsep-<pid>@<host>-<random>.part``
(``<host>``: :func:`host_tag`; names without it, from older versions, count as this host's)."""


def host_tag():
    """This machine in a temporary file's name: the CRC-32 of its host name, 8 hex digits.
    Process ids are per machine; with a folder shared by several (a cluster's filesystem),
    only temporaries of this machine's processes can be told dead or alive here."""
    import socket
    import zlib
    return f"{zlib.crc32(socket.gethostname().encode()):08x}"


class AbortOnError:
    """A context manager that calls ``self.abort()`` when its ``with`` block raises."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.abort()
        return False


class AtomicWriter(AbortOnError):
    """Write an audio file block by block under a temporary name; give it its name on :meth:`commit`.

    The temporary file lives in the destination folder and is named
    ``.npsep-<pid>@<host>-<random>.part`` (short, whatever the final name, and naming the
    process and machine that own it: see :func:`remove_dead_temporaries`). :meth:`abort` (also called when
    the ``with`` block raises) deletes it, so no partial file is ever left and an existing
    file at ``path`` is untouched unless the write completes.

    ``compression``: libsndfile's compression level, 0 (best quality, largest) to 1
    (smallest), for the formats that have one (FLAC, Vorbis, Opus, MP3); ``None``: its default.

    :meth:`commit` is :meth:`finish` (close the temporary file) then :meth:`claim` (give it
    the final name). Without ``overwrite`` the claim is a hard link, which fails if the name
    exists, so a file another process created meanwhile is never replaced; with it, an
    atomic rename. :meth:`unclaim` takes a claimed (not overwritten) name back.
    """

    def __init__(self, path, samplerate, channels, fmt, subtype, overwrite=False, compression=None):
        self.path = os.fspath(path)
        self.overwrite = overwrite
        self.claimed = False
        self._clip = not is_float_subtype(subtype)
        folder = os.path.dirname(os.path.abspath(self.path))
        try:
            prefix = f".npsep-{os.getpid()}@{host_tag()}-"
            fd, self.tmp = tempfile.mkstemp(prefix=prefix, suffix=".part", dir=folder)
        except OSError as e:
            raise AudioError(f"{folder}: cannot write in this folder ({e.strerror or e})") from None
        os.close(fd)
        _chmod_like_new_file(self.tmp)
        self.frames = 0
        try:
            self._f = sf.SoundFile(self.tmp, "w", samplerate=samplerate, channels=channels,
                                   format=fmt, subtype=subtype, compression_level=compression)
        except (sf.SoundFileError, RuntimeError, OSError, ValueError) as e:
            _unlink_quietly(self.tmp)
            raise AudioError(f"{self.path}: cannot write {fmt}/{subtype} "
                             f"({_libsndfile_reason(e)})") from None

    def write(self, block):
        """Append ``block`` of shape ``(frames, channels)``."""
        block = np.asarray(block, dtype=np.float32)
        if self._clip:
            block = np.clip(block, -1.0, 1.0)
        try:
            self._f.write(block)
        except (sf.SoundFileError, RuntimeError, OSError, ValueError) as e:
            self.abort()
            raise AudioError(f"{self.path}: write failed ({_libsndfile_reason(e)})") from None
        self.frames += len(block)

    def commit(self):
        """Close the temporary file and give it its final name."""
        self.finish()
        self.claim()

    def finish(self):
        """Close the temporary file (all of it is on disk)."""
        try:
            self._f.close()
        except (sf.SoundFileError, RuntimeError, OSError) as e:
            self.abort()
            raise AudioError(f"{self.path}: write failed ({_libsndfile_reason(e)})") from None

    def claim(self):
        """Give the finished temporary file its final name; :class:`AudioError` if it exists
        (without ``overwrite``) or cannot be created. The temporary name is gone either way."""
        try:
            if self.overwrite:
                os.replace(self.tmp, self.path)
            else:
                os.link(self.tmp, self.path)
                self.claimed = True
        except FileExistsError:
            raise AudioError(f"{self.path}: already exists (use --overwrite to replace it, "
                             "or --skip-existing to skip it)") from None
        except OSError as e:
            raise AudioError(f"{self.path}: cannot create ({e.strerror or e})") from None
        finally:
            _unlink_quietly(self.tmp)

    def unclaim(self):
        """Remove the final name :meth:`claim` linked (used to roll back a set of outputs)."""
        if self.claimed:
            _unlink_quietly(self.path)
            self.claimed = False

    def abort(self):
        """Discard everything written so far."""
        try:
            if not self._f.closed:
                self._f.close()
        except Exception:  # noqa: BLE001 - the file is deleted anyway
            pass
        _unlink_quietly(self.tmp)


def remove_dead_temporaries(folder):
    """Delete the temporary files (:data:`TEMP_PATTERN`) in ``folder`` whose owner process is
    gone, left by a run that was killed (``SIGKILL``, power loss). Those of live processes
    stay, and so do those of other machines (see :func:`host_tag`)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    here = host_tag()
    for name in names:
        m = TEMP_PATTERN.match(name)
        if m and m.group(2) in (None, here) and not _process_alive(int(m.group(1))):
            _unlink_quietly(os.path.join(folder, name))


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def _chmod_like_new_file(path):
    """mkstemp creates mode 0600; give the file the mode a plain ``open`` would."""
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(path, 0o666 & ~umask)
    except OSError:
        pass


def _unlink_quietly(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# --- resampling -------------------------------------------------------------------------

def rate_ratio(rate_from, rate_to):
    """``(up, down)`` in lowest terms with ``rate_from * up / down == rate_to``."""
    g = math.gcd(int(rate_from), int(rate_to))
    return int(rate_to) // g, int(rate_from) // g


def resampling_filter(up, down):
    """The low-pass FIR ``scipy.signal.resample_poly`` designs for ``up/down`` by default."""
    from scipy import signal  # imported here: scipy.signal takes a second to import
    max_rate = max(up, down)
    half_len = 10 * max_rate
    return signal.firwin(2 * half_len + 1, 1.0 / max_rate, window=("kaiser", 5.0))


def resampled_length(frames, rate_from, rate_to):
    """Number of samples ``resample_poly`` gives for ``frames`` input samples."""
    up, down = rate_ratio(rate_from, rate_to)
    return -(-frames * up // down)


class StreamResampler:
    """Polyphase resampling of a signal that arrives in blocks, in bounded memory.

    Feeding a signal through :meth:`push` in blocks of any sizes and then
    calling :meth:`flush` yields, concatenated, the same samples as
    ``scipy.signal.resample_poly(x, up, down, axis=0)`` on the whole signal
    (to float rounding): each output sample is produced once its filter
    support has fully arrived, and only the input samples that later outputs
    still need are kept (about ``10 * max(up, down) / up`` frames plus one block).

    Why it is exact: ``resample_poly`` places output ``n`` at input time
    ``n * down / up`` independently of the input length, and pads with zeros
    outside the signal. Running it on a slice that starts at a multiple of
    ``down`` therefore gives the global outputs for every ``n`` whose filter
    support lies inside the slice (or extends only past the true ends).
    """

    def __init__(self, rate_from, rate_to, channels):
        self.up, self.down = rate_ratio(rate_from, rate_to)
        self.identity = self.up == self.down
        self.channels = channels
        if not self.identity:
            self.h = resampling_filter(self.up, self.down)
            self.half_len = (len(self.h) - 1) // 2
        self._buf = np.zeros((0, channels), dtype=np.float64)
        self._b0 = 0          # global index of self._buf[0]; a multiple of down
        self._received = 0    # input samples received so far
        self._next = 0        # next output index to emit

    def push(self, x):
        """Add input samples ``x`` (frames, channels); return the outputs now final."""
        x = np.asarray(x)
        if self.identity:
            self._received += len(x)
            return x.astype(np.float32, copy=False)
        if len(x):
            self._buf = np.concatenate([self._buf, x.astype(np.float64)], axis=0)
            self._received += len(x)
        # last output whose support [(n*down - half_len)/up, (n*down + half_len)/up] has arrived
        last = ((self._received - 1) * self.up - self.half_len) // self.down
        return self._emit(last + 1)

    def flush(self):
        """Return the remaining outputs (the input has ended)."""
        if self.identity:
            return np.zeros((0, self.channels), dtype=np.float32)
        total = -(-self._received * self.up // self.down)
        out = self._emit(total)
        self._buf = np.zeros((0, self.channels), dtype=np.float64)
        return out

    def _emit(self, stop):
        if stop <= self._next or len(self._buf) == 0:
            return np.zeros((0, self.channels), dtype=np.float32)
        from scipy import signal
        y = signal.resample_poly(self._buf, self.up, self.down, axis=0, window=self.h)
        first = self._b0 * self.up // self.down  # global index of y[0]
        out = y[self._next - first: stop - first].astype(np.float32)
        self._next = stop
        # keep the inputs still needed by output self._next and later
        need = (self._next * self.down - self.half_len) // self.up - 1
        b0 = max(0, need) // self.down * self.down
        if b0 > self._b0:
            self._buf = self._buf[b0 - self._b0:]
            self._b0 = b0
        return out


def resample(x, rate_from, rate_to):
    """Resample a whole signal (time on axis 0) with ``resample_poly``; float32."""
    up, down = rate_ratio(rate_from, rate_to)
    if up == down:
        return np.asarray(x, dtype=np.float32)
    from scipy import signal
    y = signal.resample_poly(np.asarray(x, dtype=np.float64), up, down, axis=0,
                             window=resampling_filter(up, down))
    return y.astype(np.float32)


# --- helpers ----------------------------------------------------------------------------

def _libsndfile_reason(e):
    """The useful part of a soundfile exception, on one line."""
    msg = getattr(e, "error_string", None) or str(e) or type(e).__name__
    msg = msg.splitlines()[0] if msg.splitlines() else msg
    if msg.startswith("Error opening"):
        msg = msg.split(": ", 1)[-1] if ": " in msg else msg
    return msg.strip().rstrip(".")
