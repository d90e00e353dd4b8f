"""docs/ cannot drift from the code.

* every section of docs/operations.md ends with an "Implemented by:" line naming at least
  one function of npsep.reference, and every name on such a line is a function or class;
* every dotted ``npsep.`` / ``weights_convert.`` name written anywhere in docs/ resolves
  (importlib + getattr);
* every function of the NumPy oracle and every Numba kernel is named somewhere in docs/;
* the generated sections (shapes, costs, receptive fields, benchmark table) equal what
  scripts/docs_tables.py computes now, and the receptive-field closed form of
  docs/costs.md equals npsep.info.receptive_field;
* figures are linked only if they exist, and are small;
* ``mkdocs build --strict`` passes (skipped when mkdocs is not installed), every name on an
  ``Implemented by:`` line is a link to an entry of the generated API reference, and headless
  Chromium with the network off renders every equation (skipped only without a Chromium).
"""
import importlib
import importlib.util
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

from npsep import info

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
NAME = re.compile(r"`((?:npsep|weights_convert)(?:\.[A-Za-z_]\w*)+)`")
IMPLEMENTED = re.compile(r"^Implemented by:(.*)$", re.M)


def load_script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def resolve(dotted):
    """The object a dotted name denotes, found the way Python's attribute access finds it:
    an attribute of the object so far, else a sub-module to import."""
    parts = dotted.split(".")
    obj = importlib.import_module(parts[0])
    for i, attr in enumerate(parts[1:], 1):
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            if not inspect.ismodule(obj):
                raise
            try:
                obj = importlib.import_module(".".join(parts[:i + 1]))
            except ModuleNotFoundError:
                raise AttributeError(f"{'.'.join(parts[:i])} has no {attr!r}") from None
    return obj


def sections(text, level="## "):
    """``(title, body)`` of every section of a Markdown page at ``level``, fenced code ignored."""
    out, title, body, fenced = [], None, [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith(level):
            if title is not None:
                out.append((title, "\n".join(body)))
            title, body = line[len(level):].strip(), []
        elif title is not None:
            body.append(line)
    if title is not None:
        out.append((title, "\n".join(body)))
    return out


def documented_names():
    return {m.group(1) for page in PAGES for m in NAME.finditer(page.read_text())}


# --- links from the docs to the code -------------------------------------------------------

def test_the_pages_exist():
    names = {p.name for p in PAGES}
    for page in ("index.md", "architecture.md", "operations.md", "kernels.md", "costs.md", "variants.md",
                 "checkpoints.md", "recipe.md", "benchmarks.md", "model_card.md"):
        assert page in names


def test_every_operation_section_links_to_its_functions():
    found = sections((DOCS / "operations.md").read_text())
    assert len(found) >= 10
    for title, body in found:
        lines = IMPLEMENTED.findall(body)
        assert len(lines) == 1, f"operations.md section {title!r} needs one 'Implemented by:' line"
        names = NAME.findall(lines[0])
        assert any(n.startswith("npsep.reference.") for n in names), \
            f"operations.md section {title!r} names no npsep.reference function"
        assert any(n.startswith(("npsep.kernels.", "npsep.fast.")) for n in names), \
            f"operations.md section {title!r} names no fast-path function"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_implemented_by_names_are_functions(page):
    for line in IMPLEMENTED.findall(page.read_text()):
        names = NAME.findall(line)
        assert names, f"{page.name}: an 'Implemented by:' line names nothing: {line!r}"
        for name in names:
            obj = resolve(name)
            assert callable(obj), f"{page.name}: {name} is not a function or class"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_dotted_name_resolves(page):
    for name in sorted(set(NAME.findall(page.read_text()))):
        try:
            resolve(name)
        except (ImportError, AttributeError) as e:
            pytest.fail(f"docs/{page.name} names {name}, which does not exist ({e})")


def test_resolve_rejects_missing_names():
    with pytest.raises(AttributeError):
        resolve("npsep.reference.no_such_function")
    assert resolve("npsep.reference.glob_ln").__name__ == "glob_ln"


def test_every_reference_function_is_documented():
    from npsep import reference
    names = documented_names()
    missing = [f"npsep.reference.{n}" for n, f in vars(reference).items()
               if inspect.isfunction(f) and f.__module__ == reference.__name__ and not n.startswith("_")
               and f"npsep.reference.{n}" not in names]
    assert not missing, f"not named in docs/: {', '.join(missing)}"


def test_every_kernel_is_documented():
    import npsep.kernels
    names = documented_names()
    missing = []
    for path in sorted(Path(npsep.kernels.__file__).parent.glob("*.py")):
        if path.stem == "__init__":
            continue
        module = importlib.import_module(f"npsep.kernels.{path.stem}")
        for n, obj in vars(module).items():
            if n.startswith("_") or not callable(obj) or inspect.isclass(obj):
                continue
            defined_here = getattr(obj, "__module__", None) == module.__name__ or \
                getattr(getattr(obj, "py_func", None), "__module__", None) == module.__name__
            if defined_here and f"{module.__name__}.{n}" not in names:
                missing.append(f"{module.__name__}.{n}")
    assert not missing, f"kernels not named in docs/: {', '.join(missing)}"


# --- computed numbers ---------------------------------------------------------------------

def test_generated_sections_are_up_to_date():
    tables = load_script("docs_tables")
    stale = tables.stale_pages()
    assert not stale, (f"generated sections of {', '.join('docs/' + p for p in stale)} differ from the "
                       "code: run python scripts/docs_tables.py (and scripts/make_figures.py)")


def test_code_listings_are_generated_from_the_source():
    """Every ``<!-- source:NAME -->`` block sits on a page the generator renders, and holds the
    source of that function (so ``test_generated_sections_are_up_to_date`` keeps it fresh)."""
    tables = load_script("docs_tables")
    listed = 0
    for page in PAGES:
        for m in tables.SOURCE.finditer(page.read_text()):
            assert page.name in tables.SECTIONS, f"{page.name} has code listings but scripts/docs_tables.py skips it"
            assert f"def {m.group('name').rsplit('.', 1)[1]}(" in m.group("body"), (page.name, m.group("name"))
            listed += 1
    assert listed >= 20


def test_generated_markers_are_balanced():
    for page in PAGES:
        text = page.read_text()
        opened = re.findall(r"<!-- generated:([\w-]+) -->", text)
        closed = re.findall(r"<!-- /generated:([\w-]+) -->", text)
        assert opened == closed, page.name


@pytest.mark.parametrize("K", [3, 5, 21])
def test_receptive_field_closed_form(K):
    tables = load_script("docs_tables")
    for Q in range(1, 7):
        for N in (1, 2, 5, 16):
            hp = dict(out_channels=8, in_channels=16, num_blocks=N, upsampling_depth=Q,
                      enc_kernel_size=K, enc_num_basis=8, num_sources=2)
            assert tables.receptive_field_formula(hp) == info.receptive_field(hp), (K, Q, N)


def test_walkthrough_shapes_for_the_published_model():
    """The walkthrough's numbers: 4 s at 8 kHz, T = 32000 -> L = 3200 frames."""
    text = (DOCS / "architecture.md").read_text()
    assert "`[512, 3200]`" in text and "`[512, 200]`" in text and "`[2, 32000]`" in text


# --- figures and the site -----------------------------------------------------------------

def test_figures_are_small_and_linked_only_if_present():
    for png in (DOCS / "figures").glob("*.png"):
        assert png.stat().st_size < 200 * 1024, f"{png.name} is over 200 KB"
    for page in PAGES:
        for target in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", page.read_text()):
            assert (DOCS / target).is_file(), f"{page.name} links {target}, which does not exist"
    assert (DOCS / "figures" / "architecture.png").is_file()


def test_figure_script_draws_from_real_runs(tmp_path):
    """The figures that need a trained model or a benchmark run, from stand-ins: a tiny random
    model on a synthetic mixture, and a benchmark report of the bench script's shape."""
    pytest.importorskip("matplotlib", reason="matplotlib is not installed (pip install -e '.[docs]')")
    import json
    import numpy as np
    import soundfile as sf
    from npsep import weights
    figures = load_script("make_figures")
    hp = dict(out_channels=8, in_channels=16, num_blocks=1, upsampling_depth=2, enc_kernel_size=5,
              enc_num_basis=16, num_sources=2)
    model = tmp_path / "m.npz"
    weights.save(model, weights.random_tensors("improved", hp), weights.make_config("improved", hp))
    t = np.arange(8000) / 8000
    sf.write(tmp_path / "mix.wav", (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 8000)
    assert figures.separation(tmp_path / "sep.png", model, tmp_path / "mix.wav").stat().st_size > 1000
    assert figures.separation(tmp_path / "x.png", model, tmp_path / "missing.wav") is None
    assert figures.encoder_filters(tmp_path / "enc.png", model).stat().st_size > 1000
    assert figures.encoder_filters(tmp_path / "y.png", tmp_path / "missing.npz") is None
    row = {"threads": 1, "seconds": 4, "batch": 1, "gflop": 30.2, "gemm_floor_s": 0.16,
           "median_s": {"npsep": 0.3, "torch": 0.4}, "ratio": {"npsep/torch": 0.75, "npsep/floor": 1.88}}
    memory = {"threads": 1, "seconds": 4, "batch": 1, "npsep": {"increase_bytes": 22 * 2**20},
              "torch": {"increase_bytes": 52 * 2**20}}
    report = tmp_path / "forward.json"
    report.write_text(json.dumps({"contenders": ["npsep", "torch"], "results": [row], "memory": [memory],
                                  "extra": 1}))
    copy = tmp_path / "benchmark.json"
    assert figures.benchmark(tmp_path / "bench.png", report, copy).is_file()
    assert json.loads(copy.read_text())["results"] == [row] and "extra" not in json.loads(copy.read_text())
    table = load_script("docs_tables").benchmark_table(copy)
    assert "| 1 | 4 s | 1 | 30.2 | 0.300 | 0.400 | 0.160 | 0.75 | 1.88 |" in table
    assert "| 1 | 4 s | 1 | 22 | 52 |" in table


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site as ``mkdocs build --strict`` writes it (skipped when mkdocs is not installed)."""
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install -e '.[docs]')")
    out = tmp_path_factory.mktemp("site")
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    return out


def test_mkdocs_build_strict(site):
    assert (site / "operations" / "index.html").is_file()
    assert (site / "walkthrough" / "index.html").is_file()


HTML_IMPLEMENTED = re.compile(r"<p>Implemented by:(.*?)</p>", re.S)
HTML_LINKED = re.compile(r'<a [^>]*href="([^"]*)"[^>]*><code>([\w.]+)</code></a>')


def built_page(site, page):
    """The HTML file mkdocs writes for ``docs/<page>`` (``use_directory_urls``)."""
    return site / ("index.html" if page.stem == "index" else f"{page.stem}/index.html")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_implemented_by_names_link_to_their_entries(site, page):
    """Every name on an 'Implemented by:' line is a link, and the link's target page has an
    element with the link's anchor as its id (the entry of the API reference)."""
    html = built_page(site, page).read_text()
    source_lines = IMPLEMENTED.findall(page.read_text())
    built_lines = HTML_IMPLEMENTED.findall(html)
    assert len(built_lines) == len(source_lines), page.name
    for source, built in zip(source_lines, built_lines):
        links = HTML_LINKED.findall(built)
        assert [name for _, name in links] == NAME.findall(source), f"{page.name}: unlinked names in {source!r}"
        for href, name in links:
            target, _, anchor = href.partition("#")
            target_file = (built_page(site, page).parent / target / "index.html").resolve()
            assert anchor == name and target_file.is_file(), f"{page.name}: {name} links to {href}"
            assert f'id="{anchor}"' in target_file.read_text(), f"{page.name}: {href} has no entry {anchor}"


def test_link_check_fails_on_a_dangling_anchor(site, tmp_path):
    """The check above can fail: an anchor the API page lacks is not found in it."""
    api = (site / "api" / "index.html").read_text()
    assert 'id="npsep.reference.glob_ln"' in api and 'id="npsep.reference.no_such_function"' not in api


# --- the site in a browser with the network off ----------------------------------------------

MATH = re.compile(r"\\\(|\\\[|\$\$")
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def pages_with_math():
    return [p for p in PAGES if MATH.search(p.read_text())]


def test_equations_are_written_for_the_typesetter():
    """The pages with equations write them as TeX for KaTeX, not as Unicode in text blocks."""
    names = {p.name for p in pages_with_math()}
    assert {"operations.md", "walkthrough.md", "objective.md", "architecture.md"} <= names
    assert "```text\nT_pad" not in (DOCS / "operations.md").read_text()


def test_site_renders_offline_in_chromium(site, tmp_path):
    """Open every page of the built site in headless Chromium with the network disabled: every
    equation is typeset by the vendored KaTeX (no raw TeX left, no KaTeX error), every request
    goes to the local server that serves the site, and none of them fails."""
    import shutil
    browser = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if browser is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium); .ci/run installs it")
    from browser_check import DevTools, serve
    math_pages = {p.stem for p in pages_with_math()}
    with serve(site) as base, DevTools(browser, tmp_path / "profile") as tab:
        for page in PAGES:
            url = base + ("" if page.stem == "index" else f"{page.stem}/")
            result = tab.visit(url)
            outside = [u for u in result["requests"] if not u.startswith((base, "data:", "blob:", "about:"))]
            assert not outside, f"{page.name}: requests leave the machine: {outside}"
            assert not result["failed"], f"{page.name}: requests failed: {result['failed']}"
            state = result["state"]
            assert state["katexErrors"] == 0, f"{page.name}: KaTeX could not typeset {state['katexErrors']} equation(s)"
            assert state["untypeset"] == 0, f"{page.name}: {state['untypeset']} equation(s) left as raw TeX"
            assert not state["rawTex"], f"{page.name}: raw TeX in the text: {state['rawTex']}"
            if page.stem in math_pages:
                assert state["typeset"] > 0, f"{page.name} has equations but none was typeset"
