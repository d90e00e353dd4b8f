"""The record of a corpus run: ``OUTDIR/npsep-manifest.jsonl``, one JSON line per input.

A line is appended (and flushed) as each input finishes, so the file is complete up to
the moment a run was stopped. Its fields: ``input`` (the path as given), ``status``
(``done``, ``skipped``: its outputs existed, or ``failed``), ``duration`` (seconds of
audio; 0 when the input could not be read), ``seconds`` (time spent on it), ``error``
(one line, or ``null``), ``outputs`` (the paths written), ``finished`` (UTC, ISO 8601).
Runs append to the same file: an input's last line is its latest outcome.
"""
import datetime
import json
import os

from .outputs import ensure_folder

MANIFEST_NAME = "npsep-manifest.jsonl"


def manifest_path(outdir):
    """Where the manifest of ``outdir`` is."""
    return os.path.join(os.fspath(outdir), MANIFEST_NAME)


def manifest_line(result):
    """The manifest entry of one :class:`npsep.batch.FileResult`, as a dict."""
    status = "failed" if not result.ok else "skipped" if result.skipped else "done"
    return {"input": os.fspath(result.input), "status": status,
            "duration": round(float(result.audio_seconds), 6),
            "seconds": round(float(result.seconds), 6), "error": result.error,
            "outputs": [os.fspath(p) for p in result.outputs],
            "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def append(outdir, result):
    """Append ``result``'s line to ``outdir``'s manifest (created, with its folder, if needed)."""
    ensure_folder(outdir)
    line = json.dumps(manifest_line(result), allow_nan=False) + "\n"
    with open(manifest_path(outdir), "a", encoding="utf-8") as f:
        f.write(line)


def read(outdir):
    """Every entry of ``outdir``'s manifest, oldest first (``[]`` if there is none)."""
    try:
        with open(manifest_path(outdir), encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []
