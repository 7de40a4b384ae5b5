"""The documentation site (mkdocs.yml) builds strictly, and every page under docs/ is in its nav.

The build runs on a copy of docs/ in a temporary folder; its figures are made there by the
site's hook in quick mode (coarse grids), so the repository's docs/figures is not touched.
"""
import logging
import pathlib
import re
import shutil

import mkdocs.config as mkdocs_config  # the test extra installs the docs tools
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CONFIG = ROOT / "mkdocs.yml"
GENERATED = ("figures",)  # made at build time, not pages
API_MODULES = ("case", "models", "band_geometry", "fermi_surface", "collision", "slab", "boltzmann",
               "solvers", "observables", "edge", "result", "plots", "simulation")


def _load(**overrides):
    return mkdocs_config.load_config(str(CONFIG), **overrides)


def _nav_pages(nav):
    """Every page path named in a MkDocs nav (nested lists of str / {title: str | list})."""
    out = []
    for item in nav:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            for value in item.values():
                out += _nav_pages([value]) if isinstance(value, str) else _nav_pages(value)
    return [p for p in out if not re.match(r"^[a-z]+://", p)]


def _pages_on_disk(docs):
    return sorted(p.relative_to(docs).as_posix() for p in docs.rglob("*.md")
                  if p.relative_to(docs).parts[0] not in GENERATED)


def test_every_page_is_in_the_nav():
    nav = _nav_pages(_load()["nav"])
    missing = [p for p in _pages_on_disk(DOCS) if p not in nav]
    assert not missing, (
        "pages not in the nav of mkdocs.yml: " + ", ".join(f"docs/{p}" for p in missing)
        + " (add each under its section, e.g. `      - Title: " + missing[0] + "`)")


def test_every_nav_entry_is_a_page():
    nav = _nav_pages(_load()["nav"])
    absent = [p for p in nav if not (DOCS / p).is_file()]
    assert not absent, "mkdocs.yml nav names missing pages: " + ", ".join(f"docs/{p}" for p in absent)
    dup = sorted({p for p in nav if nav.count(p) > 1})
    assert not dup, f"pages twice in the nav: {dup}"


def test_list_item_blocks_are_indented_by_four():
    """Python-Markdown (unlike GitHub) ends a list item at a block indented by fewer than 4
    spaces after a blank line: the paragraph, code or fence then falls out of the list and
    the rest of the list is run into one paragraph."""
    bad = []
    marker = re.compile(r"^\s*([-*+]|\d+\.) ")
    for page in _pages_on_disk(DOCS):
        lines = (DOCS / page).read_text(encoding="utf-8").split("\n")
        fence = False
        in_item = blank_in_item = False
        for i, line in enumerate(lines):
            opens = line.lstrip().startswith(("```", "~~~"))
            where = f"docs/{page}:{i + 1}: {line.strip()[:50]}"
            if not fence:
                if i and lines[i - 1] == "" and re.match(r"^( {1,3}| {5,7})\S", line):
                    bad.append(where + "  (indent by 4 spaces, 8 for an indented code block)")
                if marker.match(line):
                    if in_item and blank_in_item and lines[i - 1] != "":
                        # after a multi-block item the next item needs a blank line before it,
                        # or it is run into the paragraph above
                        bad.append(where + "  (a blank line before this item)")
                    in_item, blank_in_item = True, False
                elif line == "":
                    blank_in_item = in_item
                elif not line.startswith(" ") and blank_in_item:
                    in_item = blank_in_item = False  # the list ended
            fence ^= opens
    assert not bad, "list items that Python-Markdown breaks:\n" + "\n".join(bad)


@pytest.mark.parametrize("module", API_MODULES)
def test_api_page_per_module(module):
    page = DOCS / "api" / f"{module}.md"
    assert page.is_file(), f"no API page docs/api/{module}.md"
    assert re.search(rf"^::: slabqkt\.{module}$", page.read_text(), re.M), \
        f"docs/api/{module}.md does not render slabqkt.{module} (`::: slabqkt.{module}`)"


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(f"{record.levelname} {record.name}: {record.getMessage()}")


def _build(docs_dir, site_dir):
    """mkdocs build --strict of docs_dir into site_dir; returns the warnings (empty on success)."""
    from mkdocs.commands.build import build
    from mkdocs.exceptions import Abort
    cfg = _load(docs_dir=str(docs_dir), site_dir=str(site_dir), strict=True)
    handler = _Collect()
    logger = logging.getLogger("mkdocs")
    logger.addHandler(handler)
    cfg.plugins.on_startup(command="build", dirty=False)
    try:
        build(cfg)
    except Abort as exc:
        handler.messages.append(f"Abort: {exc}")
    finally:
        cfg.plugins.on_shutdown()
        logger.removeHandler(handler)
    return handler.messages


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A strict build of a copy of docs/ (figures made by the hook, quick mode)."""
    tmp = tmp_path_factory.mktemp("docs_site")
    docs = tmp / "docs"
    shutil.copytree(DOCS, docs, ignore=lambda folder, names: [n for n in names if n in GENERATED]
                    if pathlib.Path(folder) == DOCS else [])
    mp = pytest.MonkeyPatch()
    mp.setenv("SLABQKT_DOCS_FIGURES", "quick")
    mp.setenv("NO_MKDOCS_2_WARNING", "1")
    try:
        warnings = _build(docs, tmp / "site")
    finally:
        mp.undo()
    return docs, tmp / "site", warnings


def test_site_builds_strictly(site):
    docs, out, warnings = site
    assert warnings == [], "mkdocs build --strict:\n" + "\n".join(warnings)
    assert (docs / "figures" / ".complete").read_text().strip() == "quick"
    for page in _pages_on_disk(DOCS):
        html = out / pathlib.PurePosixPath(page).with_suffix(".html")
        assert html.is_file(), f"docs/{page} was not rendered ({html})"
        if page.startswith("api/"):
            # a bare `>>>` doctest outside an Examples section renders as nested blockquotes
            assert "<blockquote>" not in html.read_text(encoding="utf-8"), \
                f"docs/{page}: a docstring renders a blockquote (put doctests under an Examples section)"


def test_tutorial_shows_every_figure_it_names(site):
    docs, out, _ = site
    html = (out / "tutorial.html").read_text(encoding="utf-8")
    srcs = re.findall(r'<img[^>]*src="([^"]+)"', html)
    names = {pathlib.PurePosixPath(s).name for s in srcs}
    for case in ("fuchs_strip_2d", "rashba_strip", "orbital_p_strip", "rashba_fm_bulk"):
        assert any(n.startswith(case) for n in names), f"no figure of {case} on the tutorial page"
    for s in srcs:
        png = (out / s).resolve()
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", s
    # the generated tables are included, not left as snippet markers
    assert "--8&lt;--" not in html and "--8<--" not in html
    assert "Fuchs–Sondheimer closed form" in html


def _summary(docs, name):
    text = (docs / "figures" / f"{name}_summary.txt").read_text(encoding="utf-8")
    return {m.group(1).strip(): m.group(2).strip() for m in re.finditer(r"^\| (.+?) \| (.+?) \|$", text, re.M)}


def test_tutorial_numbers_say_what_the_text_claims(site):
    """Even on the quick grids: the Fuchs ratio is the closed form, the intrinsic torque too,
    and the disorder part cancels it (tutorial sections 2 and 5)."""
    docs, _, _ = site
    fuchs = _summary(docs, "fuchs_strip_2d")
    assert float(fuchs["σ_film / σ_bulk"]) == pytest.approx(float(fuchs["Fuchs–Sondheimer closed form"]),
                                                             abs=1e-3)
    fm = _summary(docs, "rashba_fm_bulk")
    intrinsic = float(fm["`spin_x` intrinsic"].split()[0])
    assert intrinsic == pytest.approx(float(fm["closed form (Eqs. 13–15)"].split()[0]), rel=1e-4)
    assert abs(float(fm["`spin_x` total / intrinsic"])) < 1e-6
    strip = _summary(docs, "rashba_strip")
    left = float(strip["`spin_z` left edge: excess ∫(o − o_mid) dx"].split()[0])
    right = float(strip["`spin_z` right edge: excess ∫(o − o_mid) dx"].split()[0])
    assert left != 0 and right == pytest.approx(-left, rel=1e-3)  # odd about the centre


def test_strict_build_fails_on_a_broken_link_or_anchor(site, tmp_path):
    """The check has teeth: a link to a missing page, a missing figure and a missing anchor
    each fail the strict build, named in the warnings."""
    docs, _, _ = site
    broken = tmp_path / "docs"
    shutil.copytree(docs, broken)
    with open(broken / "tutorial.md", "a", encoding="utf-8") as f:
        f.write("\n[gone](no_such_page.md) ![x](figures/no_such_figure.png) "
                "[anchor](conventions.md#no-such-section)\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NO_MKDOCS_2_WARNING", "1")
        warnings = "\n".join(_build(broken, tmp_path / "site"))
    for target in ("no_such_page.md", "no_such_figure.png", "no-such-section", "strict mode"):
        assert target in warnings, warnings


def test_make_figures_refuses_a_folder_it_did_not_make(tmp_path):
    import importlib.util
    spec = importlib.util.spec_from_file_location("make_figures", DOCS / "tutorial" / "make_figures.py")
    mf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mf)
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(mf.SlabQKTError, match="is not a figures folder made by this script"):
        mf.build(folder, quick=True)
    assert (folder / "notes.txt").read_text() == "keep me"
