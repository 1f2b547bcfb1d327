"""What ``make docs`` checks in the gallery: no warning, no local path, no empty plot.

``conf.py`` names these by their import path in ``sphinx_gallery_conf`` (a
name, not the function, so that Sphinx can pickle the configuration). Each
problem is an error (a failed example) or a Sphinx warning, and ``make docs``
runs under ``-W``, so the build fails on either:

- :func:`warnings_as_errors` turns every warning an example emits into an
  exception at the line that emits it (sphinx-gallery reports the example as
  failed, with the traceback, and fails the build);
- :func:`matplotlib_scraper` warns about an Axes with nothing drawn on it (a
  plot drawn on a figure the gallery already captured, say) before the figures
  are saved;
- :func:`check_outputs` warns about a local path (of the checkout, the Python
  environment, the home or temporary directory) in an example's printed output.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import warnings
from pathlib import Path

from sphinx.util import logging
from sphinx_gallery.scrapers import matplotlib_scraper as _matplotlib_scraper

logger = logging.getLogger(__name__)

#: The ``catch_warnings`` of the example running now (entered before it, left after).
_caught: list[warnings.catch_warnings] = []


def warnings_as_errors(gallery_conf, fname, when):
    """A ``reset_modules`` hook: every warning of an example is an error.

    Before each example the warning filters are saved and set to ``"error"``;
    after it they are restored, so that Sphinx's own warnings are untouched.
    """
    if fname is None:
        return  # entering a directory of examples, not running one
    if when == "before":
        caught = warnings.catch_warnings()
        caught.__enter__()
        warnings.simplefilter("error")
        _caught.append(caught)
    elif _caught:
        _caught.pop().__exit__(None, None, None)


def _is_empty(ax):
    """Whether a visible Axes shows no data (no line, patch, collection or image)."""
    return ax.get_visible() and ax.axison and not ax.has_data()


def _docname(path, srcdir):
    """The Sphinx document name of a generated file (Sphinx adds its suffix)."""
    return Path(os.path.relpath(path, srcdir)).with_suffix("").as_posix()


def matplotlib_scraper(block, block_vars, gallery_conf, **kwargs):
    """sphinx-gallery's matplotlib scraper, warning first about an empty Axes."""
    import matplotlib.pyplot as plt

    for number in plt.get_fignums():
        for ax in plt.figure(number).axes:
            if _is_empty(ax):
                title = ax.get_title() or "untitled"
                logger.warning(
                    "gallery example draws an empty plot (Axes %r of figure %d): "
                    "nothing is drawn on it before the figure is captured",
                    title,
                    number,
                    location=_docname(block_vars["target_file"], gallery_conf["src_dir"]),
                )
    return _matplotlib_scraper(block, block_vars, gallery_conf, **kwargs)


def _local_paths():
    """Path prefixes of this machine that an example's output must not show."""
    paths = {Path(__file__).resolve().parents[1], Path(sys.prefix), Path(sys.base_prefix)}
    paths |= {Path(tempfile.gettempdir()).resolve(), Path.home()}
    return sorted({str(path) for path in paths if str(path) != "/"}, key=len, reverse=True)


_OUTPUT_START = ".. rst-class:: sphx-glr-script-out"


def _output_lines(rst):
    """The lines of an example's captured output blocks in its generated rst."""
    inside = False
    for number, line in enumerate(rst.splitlines(), start=1):
        if line.startswith(_OUTPUT_START):
            inside = True
        elif inside and line.startswith(".. code-block::"):
            pass  # the block of a traceback, at column 0
        elif inside and line and not line[0].isspace():
            inside = False  # the next directive or paragraph at column 0
        elif inside:
            yield number, line


def check_outputs(app):
    """Warn about a warning or a local path in the gallery's captured outputs.

    Connected to ``builder-inited`` after sphinx-gallery has run the examples;
    it reads the generated ``auto_examples/*.rst``, so it also holds for
    outputs kept from an earlier build.
    """
    gallery = Path(app.srcdir) / "auto_examples"
    local = re.compile("|".join(re.escape(path) for path in _local_paths()))
    warning = re.compile(r"\w*(Warning|Error):")
    for rst in sorted(gallery.glob("*.rst")):
        for number, line in _output_lines(rst.read_text(encoding="utf-8")):
            for pattern, what in ((warning, "a warning"), (local, "a local path")):
                if pattern.search(line):
                    logger.warning(
                        "gallery output shows %s: %s",
                        what,
                        line.strip(),
                        location=(_docname(rst, app.srcdir), number),
                    )
