"""Models by name: download, verify, convert, cache, against a local HTTP server only.

Every test points ``NPSEP_CATALOGUE`` at a test catalogue whose URLs are served by an
``http.server`` on 127.0.0.1 (or by a port nobody listens on), and ``NPSEP_HOME`` at a
temporary folder: no test touches the internet or the user's cache.
"""
import errno
import hashlib
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import npsep
from npsep import models, weights
from npsep.cli import main

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
CHECKPOINT = (FIXTURES / "improved_tiny.pt").read_bytes()
NAME = "tiny-improved"


class Server(http.server.ThreadingHTTPServer):
    """Serves ``files`` (path -> bytes); ``drop_after`` cuts the next response after that many
    bytes, ``ignore_range`` answers range requests with the whole file, ``status`` fails."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.files, self.requests = {}, []
        self.drop_after, self.ignore_range, self.status, self.content_length = None, False, 200, True

    def url(self, path):
        return f"http://127.0.0.1:{self.server_address[1]}/{path}"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        server = self.server
        server.requests.append({"path": self.path, "range": self.headers.get("Range")})
        if server.status != 200 or self.path.lstrip("/") not in server.files:
            self.send_error(server.status if server.status != 200 else 404)
            return
        data = server.files[self.path.lstrip("/")]
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match and not server.ignore_range:
            start = int(match.group(1))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        if server.content_length:
            self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        if server.drop_after is not None:
            body, server.drop_after = body[:server.drop_after], None
            self.wfile.write(body)
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    s = Server()
    thread = threading.Thread(target=s.serve_forever, daemon=True)
    thread.start()
    s.files["improved_tiny.pt"] = CHECKPOINT
    yield s
    s.shutdown()
    s.server_close()


def write_catalogue(folder, url, size=len(CHECKPOINT), sha256=None):
    """A test catalogue: the bundled default and NAME at ``url``."""
    packaged = json.loads((ROOT / "npsep" / "data" / "catalogue.json").read_text())
    entry = dict(packaged["models"]["improved-u16-b512-wsj0"], file="improved_tiny.pt", url=url,
                 bytes=size, sha256=sha256 or hashlib.sha256(CHECKPOINT).hexdigest())
    data = {**packaged, "models": {"default": packaged["models"]["default"], NAME: entry}}
    path = folder / "catalogue.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def home(tmp_path, monkeypatch, server):
    """NPSEP_HOME and NPSEP_CATALOGUE set for this process and its children."""
    monkeypatch.setenv("NPSEP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(models.CATALOGUE_ENV,
                       str(write_catalogue(tmp_path, server.url("improved_tiny.pt"))))
    return tmp_path / "home" / "models"


def cache_files(cache):
    """Every file in the cache folder but the hidden lock files."""
    return sorted(p.name for p in cache.iterdir() if not p.name.startswith(".")) if cache.exists() else []


def download_cli(capsys, *names):
    status = main(["download", "-q", *names])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err.splitlines()


def assert_one_error(capsys, match, *names):
    status, out, err = download_cli(capsys, *(names or (NAME,)))
    assert status == 1 and out == []
    assert len(err) == 1 and err[0].startswith("npsep download: error: "), err
    assert match in err[0], err[0]
    return err[0]


# --- the whole route ---------------------------------------------------------------------------

def test_download_verify_convert_load_separate(home, server, tmp_path, capsys):
    status, out, err = download_cli(capsys, NAME)
    assert status == 0 and err == []
    assert out == [f"{NAME}: {home / (NAME + '.npz')}"]
    assert cache_files(home) == [f"{NAME}.npz"]          # the .pt and the .part are gone
    assert len(server.requests) == 1 and server.requests[0]["range"] is None

    weights_convert_direct = tmp_path / "direct.npz"
    from weights_convert import convert
    convert(FIXTURES / "improved_tiny.pt", weights_convert_direct)
    expected_config, expected = weights.load(weights_convert_direct)
    config, tensors = weights.load(home / f"{NAME}.npz")
    assert config["source"]["name"] == "improved_tiny.pt"
    assert config["hparams"] == expected_config["hparams"]
    assert tensors.keys() == expected.keys()
    for key in tensors:
        np.testing.assert_array_equal(tensors[key], expected[key])

    server.shutdown()                                    # from now on, offline: the cache serves
    model = npsep.load(NAME)
    assert model.config == config
    assert download_cli(capsys, NAME)[0] == 0 and len(server.requests) == 1
    listed = {row["name"]: row for row in json.loads(_run_cli(capsys, "models", "--json"))}
    assert listed[NAME]["cached"] is True and listed["default"]["cached"] is True

    mix = np.random.default_rng(0).standard_normal(4000).astype(np.float32) * 0.1
    sf.write(tmp_path / "mix.wav", mix, 8000, subtype="FLOAT")
    done = subprocess.run([sys.executable, "-m", "npsep.cli", "separate", str(tmp_path / "mix.wav"),
                           "-o", str(tmp_path / "out"), "-m", NAME, "-q", "--chunk-seconds", "0"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    s1, rate = sf.read(tmp_path / "out" / "mix_s1.wav", dtype="float32")
    assert rate == 8000 and s1.shape == mix.shape
    expected = model.separate(mix)[0, 0]
    assert np.abs(s1 - expected).max() <= 1e-4 * np.abs(expected).max()   # float32 rounding only
    assert "tiny-improved" in _run_cli(capsys, "info", "-m", NAME)


def _run_cli(capsys, *argv):
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_models_lists_cached_state(home, capsys):
    text = _run_cli(capsys, "models")
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["NAME", "SIZE"]
    row = next(line for line in lines if line.startswith(NAME))
    assert row.split()[-1] == "no" and "WSJ0-2mix" in row and f"{len(CHECKPOINT) / 1e6:.1f} MB" in row
    assert next(line for line in lines if line.startswith("default")).split()[-1] == "yes"


# --- refused downloads leave nothing behind ------------------------------------------------------

def test_hash_mismatch_is_refused_and_nothing_cached(home, server, tmp_path, capsys, monkeypatch):
    wrong = "0" * 64
    monkeypatch.setenv(models.CATALOGUE_ENV, str(write_catalogue(
        tmp_path, server.url("improved_tiny.pt"), sha256=wrong)))
    message = assert_one_error(capsys, "SHA-256 mismatch")
    assert wrong in message and hashlib.sha256(CHECKPOINT).hexdigest() in message
    assert cache_files(home) == []


@pytest.mark.parametrize("content_length", [True, False])
def test_size_mismatch_is_refused_and_nothing_cached(content_length, home, server, tmp_path, capsys,
                                                     monkeypatch):
    """The catalogue expects one byte less than the server has: refused from the header, or
    when the stream overruns the expected size."""
    server.content_length = content_length
    monkeypatch.setenv(models.CATALOGUE_ENV, str(write_catalogue(
        tmp_path, server.url("improved_tiny.pt"), size=len(CHECKPOINT) - 1)))
    assert_one_error(capsys, "offers" if content_length else "more than")
    assert cache_files(home) == []


@pytest.mark.parametrize("ignore_range", [False, True])
def test_dropped_transfer_then_the_next_call_succeeds(ignore_range, home, server, capsys):
    """Cut mid-transfer: nothing under a final name; the next call resumes (range request) or,
    when the server ignores ranges, restarts, and gives the same weights."""
    half = len(CHECKPOINT) // 2
    server.drop_after = half
    assert_one_error(capsys, "run the command again to resume")
    assert cache_files(home) == [f"{NAME}.pt.part"]
    assert (home / f"{NAME}.pt.part").read_bytes() == CHECKPOINT[:half]

    server.ignore_range = ignore_range
    status, _, err = download_cli(capsys, NAME)
    assert status == 0 and err == []
    assert server.requests[-1]["range"] == f"bytes={half}-"
    assert cache_files(home) == [f"{NAME}.npz"]
    assert weights.load(home / f"{NAME}.npz")[0]["source"]["sha256"] == \
        hashlib.sha256(CHECKPOINT).hexdigest()


def test_offline_names_the_url_and_the_manual_route(home, tmp_path, capsys, monkeypatch):
    with socket.socket() as s:                      # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/improved_tiny.pt"
    monkeypatch.setenv(models.CATALOGUE_ENV, str(write_catalogue(tmp_path, url)))
    message = assert_one_error(capsys, url)
    assert "npsep convert FILE" in message and "refused" in message.lower()
    assert cache_files(home) == []
    with pytest.raises(models.ModelError, match="npsep convert FILE"):
        npsep.load(NAME)


def test_http_error(home, server, capsys):
    server.status = 503
    assert_one_error(capsys, f"HTTP 503 Service Unavailable from {server.url('improved_tiny.pt')}")
    assert cache_files(home) == []


def test_full_disk(home, capsys, monkeypatch):
    """A write that fails with ENOSPC: one line, and the partial download is removed."""
    real_open = open

    class FullFile:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    def full_open(path, mode="r", *args, **kwargs):
        f = real_open(path, mode, *args, **kwargs)
        return FullFile(f) if str(path).endswith(".part") and "b" in mode else f
    monkeypatch.setattr(models, "open", full_open, raising=False)
    assert_one_error(capsys, "No space left on device")
    assert cache_files(home) == []


def test_unwritable_cache(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("NPSEP_HOME", str(blocker))
    monkeypatch.setenv(models.CATALOGUE_ENV, str(write_catalogue(tmp_path, "http://127.0.0.1:9/x.pt")))
    assert_one_error(capsys, "cannot write to the model cache")


def test_unknown_names_are_refused_before_any_download(home, server, capsys):
    assert_one_error(capsys, "unknown model 'nope'", NAME, "nope")
    assert server.requests == [] and cache_files(home) == []


# --- resolving what follows -m --------------------------------------------------------------------

def test_resolve_paths_names_and_the_default(home, tmp_path, monkeypatch):
    assert models.resolve(None) == Path(weights.default_model_path())
    assert models.resolve("default") == Path(weights.default_model_path())
    assert models.resolve(tmp_path / "x.npz") == tmp_path / "x.npz"          # paths pass through
    assert models.resolve("missing.npz") == Path("missing.npz")
    monkeypatch.chdir(tmp_path)
    (tmp_path / NAME).write_bytes(b"")                                        # a file wins over a name
    assert models.resolve(NAME) == Path(NAME)
    with pytest.raises(npsep.WeightsError, match="missing.npz"):
        npsep.load("missing.npz")


@pytest.mark.parametrize("edit, match", [
    (lambda d: d.update(format="other"), "not an npsep-catalogue file"),
    (lambda d: d["models"][NAME].pop("sha256"), "needs file (*.pt), url, bytes and sha256"),
    (lambda d: d["models"][NAME].update(sha256="A" * 64), "lower-case hex"),
    (lambda d: d["models"][NAME].update(file="../escape.pt"), "needs file"),
    (lambda d: d["models"].update({"../up": d["models"][NAME]}), "not a usable model name"),
])
def test_bad_catalogue_is_one_line(edit, match, home, tmp_path, capsys, monkeypatch):
    path = Path(os.environ[models.CATALOGUE_ENV])
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    status = main(["models"])
    err = capsys.readouterr().err.splitlines()
    assert status == 1 and len(err) == 1 and match in err[0], err


# --- the packaged catalogue and its page -------------------------------------------------------------

PUBLISHED = {  # name: (file, bytes, sha256), from the git-LFS pointers of etzinis/sudo_rm_rf@ab721f1
    "groupcomm-u8-b512-wsj0": ("GroupCom_Sudormrf_U8_Bases512_WSJ02mix.pt", 2178207,
                               "a16928f5141b73a871352bd8fca52fca37b32539db876551d60982a80f8e9438"),
    "improved-u16-b512-wsj0": ("Improved_Sudormrf_U16_Bases512_WSJ02mix.pt", 20280623,
                               "33639f5c5dd846d053c99170078f60f95cab55a0606316b9efb9f5a321e975f2"),
    "improved-u36-b2048-wsj0": ("Improved_Sudormrf_U36_Bases2048_WSJ02mix.pt", 93495624,
                                "4efc33282aea34d045f77001e475bb37a0f8c48d35f71467240d8258d0f00978"),
    "improved-u16-b2048-whamr": ("Improved_Sudormrf_U16_Bases2048_WHAMRexclmark.pt", 25668911,
                                 "4307d3937961c04e0157429a1dc85314b90f93b4e43f4a62cd378ffc7eb91ad6"),
    "improved-u36-b4096-whamr": ("Improved_Sudormrf_U36_Bases4096_WHAMRexclmark.pt", 106971464,
                                 "0489f33ea844b4539cb8999684ad86a024bb959b76eb23a7bbf4f179d1174bf1"),
}


def test_packaged_catalogue_pins_the_published_files(monkeypatch):
    monkeypatch.delenv(models.CATALOGUE_ENV, raising=False)
    data = models.catalogue()
    assert data["default"] == "default" and data["models"]["default"]["bundled"] is True
    published = {name: (e["file"], e["bytes"], e["sha256"])
                 for name, e in data["models"].items() if not e.get("bundled")}
    assert published == PUBLISHED
    for name, (file, _, _) in PUBLISHED.items():
        entry = data["models"][name]
        assert entry["url"] == f"https://zenodo.org/record/6299852/files/{file}?download=1"
        assert entry["sample_rate"] == 8000
        assert entry["variant"] == ("groupcomm" if file.startswith("GroupCom") else "improved")


def test_models_page_table_is_generated_from_the_catalogue(monkeypatch):
    monkeypatch.delenv(models.CATALOGUE_ENV, raising=False)
    page = (ROOT / "docs" / "models.md").read_text()
    found = re.search(r"<!-- generated:models-catalogue -->\n(.*?)<!-- /generated:models-catalogue -->",
                      page, re.S)
    assert found, "docs/models.md has no generated catalogue table"
    assert found.group(1) == models.markdown_table(), (
        "docs/models.md is stale: replace its generated table with npsep.models.markdown_table()")


def test_info_takes_a_model_once(home, capsys):
    assert main(["info", "-m", "default"]) == 0
    assert "improved" in capsys.readouterr().out
    assert main(["info", "x.npz", "-m", "default"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "either a MODEL" in err[0]


def test_concurrent_downloads_fetch_once(home, server):
    """Two downloads of one model at once: one fetches, the other waits and finds it cached."""
    results = []
    threads = [threading.Thread(target=lambda: results.append(models.download(NAME, progress=False)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results == [home / f"{NAME}.npz"] * 2
    assert len(server.requests) == 1 and cache_files(home) == [f"{NAME}.npz"]
