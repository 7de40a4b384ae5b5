"""MkDocs hooks of the slabqkt site (mkdocs.yml `hooks:`).

- Before a build, the tutorial's figures are made (``make_figures.py`` beside this
  file) when the docs folder has none yet, so that a bare ``mkdocs build`` or
  ``mkdocs serve`` works; ``make docs`` always remakes them first. The mode is
  ``SLABQKT_DOCS_FIGURES`` (``full``, the default, or ``quick``).
- The API pages come from numpydoc docstrings that use Sphinx roles
  (``:func:`load_case```); the roles are dropped from the rendered HTML.
"""
import importlib.util
import logging
import os
import pathlib
import re

from mkdocs.exceptions import PluginError

log = logging.getLogger("mkdocs.hooks.slabqkt")
MODES = ("full", "quick")
_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|data|obj|exc|const):(?=<code>)")


def _make_figures():
    spec = importlib.util.spec_from_file_location(
        "slabqkt_docs_make_figures", pathlib.Path(__file__).with_name("make_figures.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def on_pre_build(config):
    figures = pathlib.Path(config["docs_dir"]) / "figures"
    mf = _make_figures()
    if (figures / mf.MARKER).is_file():
        return
    mode = os.environ.get("SLABQKT_DOCS_FIGURES", "full")
    if mode not in MODES:
        raise PluginError(f"SLABQKT_DOCS_FIGURES = {mode!r}: allowed: {', '.join(MODES)}")
    log.info(f"no figures in {figures}: making them ({mode} mode)")
    try:
        mf.build(figures, quick=mode == "quick", log=log.info)
    except mf.SlabQKTError as exc:
        raise PluginError(f"making the figures: {exc}") from None


def on_page_content(html, page, config, files):
    return _ROLE.sub("", html)
