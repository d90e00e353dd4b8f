"""Models by name: the catalogue, the download cache, and ``npsep models`` / ``npsep download``.

The catalogue (``npsep/data/catalogue.json``, data, not code) lists the bundled model
as ``default`` and the checkpoints the SuDoRM-RF authors publish, each with its URL,
size and SHA-256. :func:`resolve` turns what a user typed after ``-m`` into a weights
file: an existing path is used as it is; a catalogue name is looked up in the cache
folder ``npsep.paths.cache_folder("models")`` and, if absent, downloaded:

1. streamed to ``<name>.pt.part`` in the cache folder (a progress bar on a terminal),
   resumed with an HTTP range request if an earlier download was interrupted;
2. checked: exactly the catalogue's size and SHA-256, else deleted (both hashes shown);
3. converted with the restricted unpickler of :mod:`weights_convert` (no torch, nothing
   from the pickle runs) to ``<name>.npz``, written under a temporary name and renamed;
4. the ``.pt`` deleted: only the ``.npz`` stays.

No file ever holds a partial download under its final name. ``$NPSEP_CATALOGUE``, the
path of a JSON file in the same format, replaces the packaged catalogue (for mirrors
and tests). Every failure is a :class:`ModelError`: one line, naming the URL and the
manual route (``npsep convert FILE``) when the download itself failed.
"""
import contextlib
import errno
import importlib.resources
import json
import os
import tempfile
from pathlib import Path

from . import paths
from .errors import NpsepError
from .progress import Progress
from .weights import default_model_path

CATALOGUE_ENV = "NPSEP_CATALOGUE"
CATALOGUE_FORMAT = "npsep-catalogue"
BLOCK = 1 << 16
TIMEOUT_SECONDS = 30
_DOWNLOAD_FIELDS = ("file", "url", "bytes", "sha256")
_WRITE_ERRORS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EROFS, errno.EACCES}
"""Errors of the cache folder (full disk, quota, read-only), not of the network."""


class ModelError(NpsepError):
    """A model name is unknown, or its download, check or conversion failed."""


# --- the catalogue --------------------------------------------------------------------------

def catalogue():
    """``{"default": name, "models": {name: entry}}`` from ``$NPSEP_CATALOGUE`` or the package."""
    override = os.environ.get(CATALOGUE_ENV)
    try:
        if override:
            text = Path(override).read_text(encoding="utf-8")
        else:
            text = (importlib.resources.files("npsep") / "data" / "catalogue.json").read_text("utf-8")
        data = json.loads(text)
    except (OSError, ValueError) as e:
        where = override or "the packaged catalogue"
        raise ModelError(f"cannot read the model catalogue {where}: {_reason(e)}") from None
    _check_catalogue(data, override or "the packaged catalogue")
    return data


def _check_catalogue(data, where):
    models = data.get("models") if isinstance(data, dict) else None
    if not (isinstance(models, dict) and data.get("format") == CATALOGUE_FORMAT
            and data.get("default") in models):
        raise ModelError(f"{where} is not an {CATALOGUE_FORMAT} file with a default model")
    for name, found in models.items():
        if not (isinstance(found, dict) and _plain_file_name(name)):
            raise ModelError(f"{where}: {name!r} is not a usable model name")
        if found.get("bundled"):
            continue
        if not (all(k in found for k in _DOWNLOAD_FIELDS) and type(found["bytes"]) is int
                and found["bytes"] > 0 and _plain_file_name(found["file"])
                and found["file"].endswith(".pt") and isinstance(found["sha256"], str)
                and len(found["sha256"]) == 64 and set(found["sha256"]) <= set("0123456789abcdef")):
            raise ModelError(f"{where}: the entry {name!r} needs file (*.pt), url, bytes and "
                             "sha256 (64 lower-case hex digits)")


def _plain_file_name(name):
    """A name that stays inside the cache folder: no folder part, not hidden."""
    return (isinstance(name, str) and name and not name.startswith(".")
            and os.path.basename(name) == name and "/" not in name and "\\" not in name)


def entry(name):
    """The catalogue entry of ``name``; :class:`ModelError` listing the names if there is none."""
    models = catalogue()["models"]
    if name not in models:
        raise ModelError(f"unknown model {name!r}: not a weights file, nor a model name "
                         f"({', '.join(models)}; 'npsep models' describes them)")
    return models[name]


def cached_path(name):
    """Where the converted weights of catalogue model ``name`` are (or will be) kept."""
    return paths.cache_folder("models") / f"{name}.npz"


def is_available(name, found=None):
    """True if ``name`` loads without a download: bundled, or already in the cache."""
    found = found or entry(name)
    if found.get("bundled"):
        return default_model_path() is not None
    return cached_path(name).is_file()


# --- from what the user typed to a weights file -----------------------------------------------

def resolve(spec=None, progress=None):
    """A weights file for ``spec``: ``None`` (the default model), a path, or a catalogue name.

    A path that exists is returned as it is; a name is downloaded and converted if it is
    not cached yet (``progress``: draw a bar, ``None`` = on a terminal). Anything else that
    looks like a path (a folder separator or a ``.npz`` suffix) is returned unchanged, so
    that the weights loader names the missing file.
    """
    if spec is not None:
        text = os.fspath(spec)
        if isinstance(spec, os.PathLike) or os.path.exists(text) or "/" in text \
                or os.sep in text or text.endswith(".npz"):
            return Path(text)
    return download(catalogue()["default"] if spec is None else spec, progress=progress)


def _bundled(name):
    path = default_model_path()
    if path is None:
        raise ModelError(f"the model {name!r} is not bundled with this npsep installation")
    return Path(path)


def download(name, progress=None):
    """The cached weights of catalogue model ``name``, downloaded and converted if missing."""
    found = entry(name)
    if found.get("bundled"):
        return _bundled(name)
    final = cached_path(name)
    if final.is_file():
        return final
    folder = _writable_folder(final.parent)
    with _exclusive(folder / f".{name}.lock"):
        if not final.is_file():          # another process may have finished it meanwhile
            part = folder / f"{name}.pt.part"
            _fetch(found, part, name, progress)
            checkpoint = folder / found["file"]   # complete and verified: its published name
            os.replace(part, checkpoint)
            _convert(checkpoint, final, found)
    return final


def _writable_folder(folder):
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()  # a unique name: concurrent threads never collide
    except OSError as e:
        raise ModelError(f"cannot write to the model cache {folder} ({_reason(e)}); set NPSEP_HOME "
                         "to a writable folder") from None
    return folder


@contextlib.contextmanager
def _exclusive(lock_path):
    """Hold an advisory lock so that two processes never write the same download at once."""
    try:
        import fcntl
    except ImportError:                  # no advisory locks on this system
        yield
        return
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _fetch(found, part, name, progress):
    """Download ``found["url"]`` into ``part`` (resuming it), then check its size and hash."""
    import http.client  # the network modules load only for a download, not at every start
    import urllib.error
    url, size = found["url"], found["bytes"]
    have = part.stat().st_size if part.is_file() else 0
    if have > size:
        part.unlink()
        have = 0
    if have < size:
        try:
            _stream(url, part, have, size, name, progress)
        except urllib.error.HTTPError as e:
            raise ModelError(f"cannot download {name}: HTTP {e.code} {e.reason} from {url}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            if isinstance(e, OSError) and e.errno in _WRITE_ERRORS:
                _remove(part)
                raise ModelError(f"cannot write {part} ({_reason(e)}); nothing was cached") from None
            raise ModelError(f"cannot download {name} from {url} ({_reason(e)}); run the command "
                             "again to resume, or fetch the file another way and convert it with "
                             "'npsep convert FILE OUT.npz', then pass -m OUT.npz") from None
    from weights_convert.convert import _sha256
    digest = _sha256(part)
    if digest != found["sha256"]:
        _remove(part)
        raise ModelError(f"{name}: SHA-256 mismatch, expected {found['sha256']}, got {digest} "
                         f"(from {url}); nothing was cached")


def _stream(url, part, have, size, name, progress):
    """Append the bytes ``have..size`` of ``url`` to ``part``; restart if the server cannot resume."""
    import urllib.request
    request = urllib.request.Request(url, headers={"User-Agent": "npsep",
                                                   **({"Range": f"bytes={have}-"} if have else {})})
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        if have and response.status != 206:   # the server sends the whole file: start over
            have = 0
        length = response.headers.get("Content-Length")
        if length is not None and length.isdigit() and have + int(length) != size:
            _remove(part)
            raise ModelError(f"{name}: the server offers {have + int(length)} bytes, the "
                             f"catalogue says {size}; nothing was cached (from {url})")
        with open(part, "ab" if have else "wb") as out, \
                Progress(size, f"downloading {name}", enabled=progress) as bar:
            bar.update(have)
            while True:
                block = response.read(min(BLOCK, size + 1 - have))
                if not block:
                    break
                have += len(block)
                if have > size:
                    break
                out.write(block)
                bar.update(have)
    if have != size:
        if have > size:
            _remove(part)
            raise ModelError(f"{name}: the server sent more than the catalogue's {size} bytes; "
                             f"nothing was cached (from {url})")
        raise ConnectionError(f"the transfer stopped after {have} of {size} bytes")


def _convert(checkpoint, final, found):
    """Convert the verified checkpoint to ``final`` (atomically), then delete the checkpoint."""
    from weights_convert import convert
    from .errors import ConvertError
    try:
        convert(checkpoint, final, overwrite=True)
    except ConvertError as e:
        raise ModelError(f"{found['file']} was downloaded but does not convert: {e}") from None
    finally:
        _remove(checkpoint)


def _remove(path):
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _reason(e):
    """The short reason of an OSError / URLError, without the path or a traceback."""
    reason = getattr(e, "reason", None)
    if isinstance(reason, OSError):
        e = reason
    elif isinstance(reason, str) and reason:
        return reason
    text = getattr(e, "strerror", None) or str(e) or type(e).__name__
    return " ".join(str(text).split())


# --- the command line -------------------------------------------------------------------------

def listing():
    """One dict per catalogue model, with ``name``, ``cached`` and ``path`` added."""
    rows = []
    for name, found in catalogue()["models"].items():
        path = default_model_path() if found.get("bundled") else os.fspath(cached_path(name))
        rows.append({"name": name, **found, "cached": is_available(name, found), "path": path})
    return rows


def run_models(args):
    """``npsep models``: the catalogue as a table or JSON."""
    rows = listing()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = [("NAME", "SIZE", "TRAINING DATA", "SI-SDRi", "CACHED")]
    for row in rows:
        si_sdri = f"{row['si_sdri_db']:.1f} dB" if row.get("si_sdri_db") is not None else "-"
        table.append((row["name"], _size(row), row["training_data"], si_sdri,
                      "yes" if row["cached"] else "no"))
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for r in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
    return 0


def _size(found):
    return "bundled" if found.get("bundled") else f"{found['bytes'] / 1e6:.1f} MB"


def run_download(args):
    """``npsep download NAME...``: each model downloaded (if needed) and converted."""
    progress = False if args.quiet else None
    for name in args.names:
        entry(name)                      # every name checked before any download starts
    for name in args.names:
        print(f"{name}: {download(name, progress=progress)}", flush=True)
    return 0


def markdown_table(data=None):
    """The catalogue as the Markdown table of ``docs/models.md``."""
    data = data or catalogue()
    lines = ["| name | variant | training data | size | SI-SDRi (dB) | licence |",
             "|---|---|---|---|---|---|"]
    for name, found in data["models"].items():
        source = f"[{found['file']}]({found['url']})" if not found.get("bundled") else "in the package"
        si_sdri = (f"{found['si_sdri_db']:.2f}".rstrip("0").rstrip(".") + f" ({found['si_sdri_on']})"
                   if found.get("si_sdri_db") is not None else "-")
        lines.append(f"| `{name}`{' (default)' if name == data['default'] else ''}<br>{source} "
                     f"| `{found['variant']}` | {found['training_data']} | {_size(found)} | {si_sdri} "
                     f"| [{found['licence']}]({found['licence_url']}) |")
    return "\n".join(lines) + "\n"
