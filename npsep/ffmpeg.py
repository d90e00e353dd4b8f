"""Formats libsndfile cannot read (AAC in .m4a/.mp4, WMA, ...), decoded by ffmpeg when installed.

ffmpeg is optional: it is used only when ``ffmpeg`` and ``ffprobe`` are both on ``PATH``
and the file's extension is one of :data:`EXTENSIONS`. ``ffprobe`` gives the first audio
stream's sample rate, channel count and duration (the frame count announced for progress
and chunking, an estimate: the output length is what is decoded); ``ffmpeg`` decodes that
stream to raw 32-bit float samples on a pipe, at the stream's own rate and channel count,
and :func:`read_blocks` reads the pipe block by block, so memory does not grow with the
file's length.
"""
import json
import os
import shutil
import subprocess

import numpy as np

from .errors import AudioError

EXTENSIONS = (".m4a", ".mp4", ".aac", ".wma", ".webm", ".mka")
"""Extensions of formats libsndfile cannot read; ffmpeg, when installed, decodes them."""


class Info:
    """What :func:`probe` found, with the attributes of ``soundfile.info`` that npsep uses.

    ``format`` is the extension in capitals (not one libsndfile writes: the outputs are
    32-bit float WAV files) and ``subtype`` ``"FFMPEG"``.
    """

    def __init__(self, name, samplerate, channels, frames, format):
        self.name, self.samplerate, self.channels = name, samplerate, channels
        self.frames, self.format, self.subtype = frames, format, "FFMPEG"
        self.duration = frames / samplerate


def handles(path):
    """Should ``path`` (a name, not an open file) be decoded by ffmpeg? Its extension is one
    of :data:`EXTENSIONS` and ``ffmpeg`` and ``ffprobe`` are on ``PATH``."""
    return (isinstance(path, (str, os.PathLike))
            and os.path.splitext(os.fspath(path))[1].lower() in EXTENSIONS
            and shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None)


def probe(path):
    """The first audio stream of ``path`` as an :class:`Info`; :class:`AudioError` if none."""
    name = str(path)
    cmd = ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
           "stream=sample_rate,channels,duration:format=duration", "-of", "json", "--", name]
    done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True)
    if done.returncode != 0:
        raise AudioError(f"{name}: ffmpeg cannot read it ({_first_line(done.stderr)})")
    try:
        found = json.loads(done.stdout)
        streams = found.get("streams") or []
        if not streams:
            raise AudioError(f"{name}: contains no audio stream")
        stream = streams[0]
        rate, channels = int(stream["sample_rate"]), int(stream["channels"])
        duration = stream.get("duration") or found.get("format", {}).get("duration")
        frames = int(round(float(duration) * rate)) if duration not in (None, "N/A") else 0
    except (ValueError, KeyError, TypeError, AttributeError):
        raise AudioError(f"{name}: ffprobe gave no sample rate and channel count") from None
    if frames <= 0:
        raise AudioError(f"{name}: contains no audio samples (or ffprobe cannot tell its length)")
    return Info(name, rate, channels, frames, os.path.splitext(name)[1][1:].upper() or "FFMPEG")


def read_blocks(info, block_frames):
    """Decode the file of ``info`` (from :func:`probe`); yield float32 ``(frames, channels)``
    blocks of at most ``block_frames`` frames. :class:`AudioError` if ffmpeg fails."""
    C = info.channels
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-i", info.name, "-map", "0:a:0", "-vn",
           "-f", "f32le", "-acodec", "pcm_f32le", "-ar", str(info.samplerate), "-ac", str(C), "-"]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    frame_bytes = 4 * C
    try:
        while True:
            data = proc.stdout.read(block_frames * frame_bytes)  # short only at the end
            n = len(data) // frame_bytes
            if n:
                yield np.frombuffer(data, dtype="<f4", count=n * C).reshape(n, C).astype(np.float32)
            if n < block_frames:
                break
        if proc.wait() != 0:
            raise AudioError(f"{info.name}: ffmpeg failed ({_first_line(proc.stderr.read())})")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def _first_line(stderr):
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    return lines[0].strip() if lines else "no message"
