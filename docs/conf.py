"""Sphinx configuration of the skae documentation (``make docs``).

The pages are Markdown (MyST) and reStructuredText; the API reference is
generated from the numpydoc docstrings; the gallery runs ``examples/`` with
sphinx-gallery. The benchmark reports of ``benchmarks/results/`` are copied
into the source tree at build time, so each report is one page.
"""

import os
import shutil
import sys
from pathlib import Path

import skae

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# The gallery's checks (_gallery_checks.py), imported by name.
sys.path.insert(0, str(DOCS))

project = "skae"
author = "skae developers"
copyright = "2026, skae developers"
version = release = skae.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
# `name` in docstrings is code, as in scikit-learn's docs.
default_role = "literal"
exclude_patterns = ["_build", "**/README.md"]
templates_path = ["_templates"]

# -- API reference -----------------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
# Signatures without their type hints: numpydoc's Parameters and Returns give the
# types in words (tests/test_typing.py keeps the hints in step), and autodoc would
# spell ArrayLike out as its whole union.
autodoc_typehints = "none"
# Members are listed by the class template; numpydoc's own table would repeat them.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Cross-reference parameter types only where skae documents the type itself.
numpydoc_xref_param_type = False

# -- MyST ----------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "deflist"]
myst_heading_anchors = 3

# -- gallery ---------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("skae",),
    "backreferences_dir": "api/generated/backreferences",
    # SKAE_DOCS_FAST=1 builds the pages without running the examples.
    "plot_gallery": "False" if os.environ.get("SKAE_DOCS_FAST") else "True",
    # An example fails on any warning it emits and warns (an error under -W) on
    # an empty plot: see _gallery_checks.py.
    "reset_modules": ("matplotlib", "seaborn", "_gallery_checks.warnings_as_errors"),
    "reset_modules_order": "both",
    "image_scrapers": ("_gallery_checks.matplotlib_scraper",),
}

# -- HTML ----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skae {release}"
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "light"}
html_show_sourcelink = False
html_static_path = ["_static"]
html_css_files = ["custom.css"]


#: Methods inherited from scikit-learn that the API pages show; the others
#: (metadata routing, ``set_*_request``, ``set_output``, whose docstrings point
#: into scikit-learn's own docs) are described there.
_SKLEARN_METHODS = {"get_params", "set_params", "fit_transform", "fit_predict"}


def _skip_sklearn_machinery(app, what, name, obj, skip, options):
    module = getattr(obj, "__module__", "") or ""
    if module.startswith("sklearn.") and name not in _SKLEARN_METHODS:
        return True
    return skip


def setup(app):
    import _gallery_checks

    app.connect("autodoc-skip-member", _skip_sklearn_machinery)
    # After sphinx-gallery (priority 500) has written the examples' pages.
    app.connect("builder-inited", _gallery_checks.check_outputs, priority=900)


def _copy_benchmark_reports():
    """Copy ``benchmarks/results`` to ``docs/benchmarks`` (one page per report)."""
    source, target = ROOT / "benchmarks" / "results", DOCS / "benchmarks"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.csv"))


# Before Sphinx looks for source files.
_copy_benchmark_reports()
