"""Sphinx configuration of the tradeoff documentation.

Build offline with warnings as errors::

    sphinx-build -W -b html docs docs/_build/html

Intersphinx links to Python, numpy and pandas need the network, so they are
switched on only when ``TRADEOFF_DOCS_INTERSPHINX=1`` is set.
"""
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import tradeoff  # noqa: E402  (the installed or in-place build: the API pages document it)

project = "tradeoff"
author = "the tradeoff authors"
copyright = "the tradeoff authors"
release = tradeoff.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "numpydoc",
    "sphinx_click",
    "tradeoff_docs",
]

ONLINE = os.environ.get("TRADEOFF_DOCS_INTERSPHINX") == "1"
if ONLINE:
    extensions.append("sphinx.ext.intersphinx")
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "pandas": ("https://pandas.pydata.org/docs", None),
}
intersphinx_timeout = 10

# `sphinx-build -b linkcheck docs docs/_build/linkcheck` checks the links between
# pages and to files offline; links to other sites only with the network on.
linkcheck_ignore = [] if ONLINE else [r"https?://"]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_generated/**/*.md", "gallery/*.py", "Thumbs.db", ".DS_Store"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# the API pages: signatures of the Cython classes come from embedsignature
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_member_order = "bysource"
autodoc_typehints = "none"
# The docstrings are prose with doctests; some have numpydoc sections, which
# numpydoc reads, and some "Args:"-style indented blocks written for help(),
# which tradeoff_docs.tidy_docstring separates from the prose around them.
numpydoc_show_class_members = False
numpydoc_validation_checks = set()
numpydoc_xref_param_type = False


html_theme = "furo"
html_title = f"tradeoff {release}"
html_static_path = []
html_extra_path = []
pygments_style = "sphinx"
