"""Sphinx configuration of the skltransfer documentation.

Build from the repository root: ``python -m sphinx -W --keep-going -b html docs docs/_build/html``.
The API pages are generated from each public module's ``__all__`` (see :func:`write_api_pages`),
so a name added to a module appears without editing the documentation. Cross-links to
scikit-learn, NumPy, SciPy and Keras need their inventories from the network: set
``SKLTRANSFER_DOCS_INTERSPHINX=1`` to fetch them; the default build reads nothing from it.
"""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path

from numpydoc.xref import DEFAULT_LINKS

import skltransfer

DOCS = Path(__file__).resolve().parent

project = "skltransfer"
copyright = "skltransfer developers"
release = version = skltransfer.__version__

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip"]
templates_path = ["_templates"]
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

# one page per public name, from the templates in _templates/autosummary
autosummary_generate = True
autodoc_default_options = {"inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# the docstrings' Examples sections run as doctests in the test suite; render them as code here
numpydoc_use_plots = False
# parameter types are parsed into cross-references, not read as reStructuredText, so that
# "ndarray of shape (n_features_in_,)" is not a broken link target; plain words stay text
numpydoc_xref_param_type = True
numpydoc_xref_ignore = {
    "of",
    "or",
    "and",
    "shape",
    "default",
    "optional",
    "instance",
    "the",
    "a",
    "an",
    "with",
    "in",
    "to",
    "for",
    "per",
    "each",
    "one",
    "same",
    "as",
    "like",
    "any",
    "name",
    "names",
}
# numpydoc's default links ("int" -> "python:int") need the Python and NumPy inventories:
# offline, each of those words is a plain cross-reference to itself
numpydoc_xref_aliases = {word: word for word in DEFAULT_LINKS}

# the figures of the guide are drawn at build time, like the gallery's
plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 100)]

_INVENTORIES = {
    "python": ("https://docs.python.org/3", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "scipy": ("https://docs.scipy.org/doc/scipy", None),
    "keras": ("https://keras.io", None),
}
if os.environ.get("SKLTRANSFER_DOCS_INTERSPHINX") == "1":
    intersphinx_mapping = _INVENTORIES
    numpydoc_xref_aliases = {}

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # only plot_*.py run at build time; the command-line scripts need data, weights or arguments
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"^(?!plot_)\w+\.py$",
    "within_subsection_order": "FileNameSortKey",
    "remove_config_comments": True,
    "show_memory": False,
    "download_all_examples": False,
    "reference_url": {"skltransfer": None},
    "matplotlib_animations": False,
    # "Examples using X" at the end of each API page
    "doc_module": ("skltransfer",),
    "backreferences_dir": "api/generated/backreferences",
}

html_theme = "pydata_sphinx_theme"
html_title = "skltransfer"
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_sidebars = {"index": []}
html_static_path: list[str] = []
html_show_sourcelink = False

#: The public modules documented in the API reference, each with its page title.
API_MODULES = {
    "skltransfer": "Estimators and the domain convention",
    "skltransfer.model_selection": "Model selection",
    "skltransfer.metrics": "Metrics",
    "skltransfer.datasets": "Data sets",
    "skltransfer.plotting": "Plotting",
    "skltransfer.keras": "Keras-backed estimators",
    "skltransfer.keras.losses": "Deep domain-adaptation objectives",
    "skltransfer.keras.applications": "The keras.applications backbones",
    "skltransfer.keras.images": "Image input",
}


def _public_names(module_name: str) -> list[str]:
    return sorted(importlib.import_module(module_name).__all__, key=str.lower)


#: Where a name is exported by several modules, its page is in the first of these.
_HOME_ORDER = ("skltransfer", "skltransfer.metrics", "skltransfer.datasets", "skltransfer.plotting")


def _homes() -> dict[int, str]:
    """The module whose page documents each public object (by identity)."""
    homes: dict[int, str] = {}
    for module_name in (*_HOME_ORDER, *API_MODULES):
        module = importlib.import_module(module_name)
        for name in _public_names(module_name):
            homes.setdefault(id(getattr(module, name)), f"{module_name}.{name}")
    return homes


def write_api_pages(folder: Path = DOCS / "api") -> None:
    """Write one reference page per public module, listing every name of its ``__all__``.

    autosummary then writes one page per public object (``docs/api/generated``); a name that
    a module re-exports from another links to the page of its home module. Both are build
    products, ignored by git.
    """
    folder.mkdir(exist_ok=True)
    homes = _homes()
    index = ["API reference", "=============", "", ".. toctree::", "   :maxdepth: 1", ""]
    for module_name, title in API_MODULES.items():
        index.append(f"   {module_name}")
        module = importlib.import_module(module_name)
        own, reexported = [], []
        for name in _public_names(module_name):
            home = homes[id(getattr(module, name))]
            (own if home == f"{module_name}.{name}" else reexported).append(home)
        lines = [
            f"``{module_name}``: {title}",
            "=" * (len(module_name) + len(title) + 6),
            "",
            f".. automodule:: {module_name}",
            "   :no-members:",
            "   :no-index:",
            "",
            f".. currentmodule:: {module_name}",
            "",
            ".. autosummary::",
            "   :toctree: generated",
            "   :template: name.rst",
            "",
            *(f"   {home.rsplit('.', 1)[1]}" for home in own),
            "",
        ]
        if reexported:
            lines += [
                "Also importable from here, documented in their home module:",
                "",
                ".. autosummary::",
                "",
                *(f"   {home}" for home in reexported),
                "",
            ]
        _write_if_changed(folder / f"{module_name}.rst", "\n".join(lines))
    _write_if_changed(folder / "index.rst", "\n".join(index) + "\n")


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


# literals, roles, emphasis and targets, left as they are by _escape_trailing_underscores
_MARKUP = re.compile(r"(``.*?``|:[\w:]+:`[^`]*`|`[^`]*`_{0,2}|\*\*[^*]*\*\*|\*[^*]*\*)")
_TRAILING_UNDERSCORE = re.compile(r"(?<![\w\\])([A-Za-z]\w*)_(?=[\s,.;:)]|$)")


def _escape_trailing_underscores(app, what, name, obj, options, lines) -> None:
    """Keep fitted-attribute names in plain text ("shape (n_features_in_,)") from reading as links.

    reStructuredText reads ``word_`` as a reference to a target named ``word``; the
    docstrings use such names in types, as scikit-learn's do.
    """
    for i, line in enumerate(lines):
        if line.lstrip().startswith(".."):
            continue
        parts = _MARKUP.split(line)
        parts[::2] = [_TRAILING_UNDERSCORE.sub(r"\1\\_", part) for part in parts[::2]]
        lines[i] = "".join(parts)


def setup(app) -> None:
    # before Sphinx lists the source files (which autosummary then reads to write one page
    # per name): a checkout without docs/api still gets every page
    app.connect("config-inited", lambda app, config: write_api_pages())
    # after numpydoc (same priority, registered later), on the reStructuredText it produced
    app.connect("autodoc-process-docstring", _escape_trailing_underscores)
