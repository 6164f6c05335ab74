"""Sphinx configuration of the skltransfer documentation.

Build from the repository root, after ``pip install ".[docs]"``::

    python -m sphinx -W --keep-going -n -b html docs docs/_build/html

The API pages are generated from each public module's ``__all__`` (see :func:`write_api_pages`),
so a name added to a module appears without editing the documentation, in the family of the
subpackage that defines it. Names of Python, NumPy, SciPy, scikit-learn and Matplotlib link
to their own documentation when its inventory can be read: from the network (checked with a
short timeout, skipped silently offline), or from the folder named by
``SKLTRANSFER_DOCS_INVENTORIES`` (files ``python.inv``, ``numpy.inv``, ...).
``SKLTRANSFER_DOCS_INTERSPHINX=0`` never reads the network. ``SKLTRANSFER_DOCS_PLOT_GALLERY=0``
builds the gallery pages without running the examples (for a quick look at the pages).
"""

from __future__ import annotations

import importlib
import os
import re
import urllib.request
from concurrent.futures import ThreadPoolExecutor
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
    "sphinx_copybutton",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = [
    "_build",
    "auto_examples/**.ipynb",
    "auto_examples/**.py",
    "auto_examples/**.zip",
    "api/generated/backreferences",
]
templates_path = ["_templates"]
myst_heading_anchors = 3
# $...$ and $$...$$ are math (MathJax), ::: fences are directives
myst_enable_extensions = ["colon_fence", "dollarmath", "amsmath"]
# every reference must resolve: -n turns an unresolved one into a warning, -W into an error
nitpicky = True

# copy buttons leave out the prompts and the output of console and doctest blocks
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = False

# one page per public name, from the template _templates/autosummary/name.rst: methods,
# attributes and the gallery's "Examples using X"
autosummary_generate = True
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# the docstrings' Examples sections run as doctests in the test suite; render them as code here
numpydoc_use_plots = False

# the figures of the guide are drawn at build time, like the gallery's
plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 100)]

# --- Links to the documentation of other projects ---------------------------------------

#: The projects whose inventories the build reads when it can.
_INVENTORIES = {
    "python": "https://docs.python.org/3",
    "numpy": "https://numpy.org/doc/stable",
    "scipy": "https://docs.scipy.org/doc/scipy",
    "sklearn": "https://scikit-learn.org/stable",
    "matplotlib": "https://matplotlib.org/stable",
}


def _reachable(url: str, timeout: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status < 400
    except (OSError, ValueError):
        return False


def intersphinx_inventories(environ=os.environ) -> dict[str, tuple[str, str | None]]:
    """The ``intersphinx_mapping`` of the build: only the inventories that can be read.

    A project is linked when ``SKLTRANSFER_DOCS_INVENTORIES`` names a folder holding its
    ``<name>.inv``, or when its ``objects.inv`` answers within a few seconds; otherwise it is
    left out, without a warning, and its names are shown as plain text.
    """
    mapping: dict[str, tuple[str, str | None]] = {}
    folder = environ.get("SKLTRANSFER_DOCS_INVENTORIES")
    for name, url in _INVENTORIES.items():
        if folder and (Path(folder) / f"{name}.inv").is_file():
            mapping[name] = (url, str(Path(folder) / f"{name}.inv"))
    if environ.get("SKLTRANSFER_DOCS_INTERSPHINX", "1") != "0":
        remote = [name for name in _INVENTORIES if name not in mapping]
        with ThreadPoolExecutor(max_workers=len(remote) or 1) as pool:
            found = pool.map(lambda name: _reachable(f"{_INVENTORIES[name]}/objects.inv"), remote)
            mapping.update(
                {name: (_INVENTORIES[name], None) for name, ok in zip(remote, found, strict=True) if ok}
            )
    return mapping


intersphinx_mapping = intersphinx_inventories()
intersphinx_timeout = 10

#: Targets outside this documentation. TensorFlow and Keras publish no inventory (keras.io
#: has none), nor do the other libraries named here; the names of the linked projects link
#: where their inventory is read and lists them, and otherwise (offline, or a path the
#: project does not document, such as ``sklearn.metrics.pairwise_kernels``) stay plain text
#: instead of failing the build: a build that passes offline passes online too.
_EXTERNAL = [
    *("keras", "tf", "tensorflow", "joblib", "dask", "distributed", "PIL", "pandas", "ai_edge_litert"),
    *("collections", "os", "typing", "pathlib", "io", "concurrent", "contextlib", "abc"),  # python
    *("numpy", "np", "scipy", "sklearn", "matplotlib", "mpl_toolkits"),
]
nitpick_ignore_regex = [
    (r"py:.*", rf"({'|'.join(map(re.escape, _EXTERNAL))})(\..+)?"),
    # (no entry for skltransfer's private modules and names: they have no page, so the
    # docstrings name them as ``literals``, and a link to one fails the build)
    # the docstrings of the methods scikit-learn's mixins give every estimator
    # (set_fit_request, set_output) link to its user guide, glossary and gallery (the
    # "miscellaneous" section is scikit-learn's, not ours)
    (r"std:ref", r"metadata_routing|df_output_transform|sphx_glr_auto_examples_miscellaneous_.*"),
    (r"std:term", r"meta-estimator"),
]

# --- Types of parameters ----------------------------------------------------------------
# numpydoc turns the words of a parameter's type into cross-references: only the names that
# are known are linked (ours, and those of the linked projects); "of", "shape", "n_samples"
# stay text.
numpydoc_xref_param_type = True
numpydoc_xref_ignore = "all"

_PYTHON_WORDS = {
    "None", "bool", "boolean", "True", "False", "list", "tuple", "str", "string", "dict",
    "float", "int", "callable", "iterable", "sequence", "contextmanager", "namedtuple", "generator",
}  # fmt: skip


def _xref_aliases(homes: dict[str, str], linked) -> dict[str, str]:
    aliases = {word: word for word in DEFAULT_LINKS}  # plain text unless linked below
    for word, target in DEFAULT_LINKS.items():
        project_name = "python" if word in _PYTHON_WORDS else "numpy"
        if project_name in linked:
            aliases[word] = target
    if "python" in linked:
        aliases.update({"path-like": ":term:`path-like <python:path-like object>`"})
    if "matplotlib" in linked:
        aliases.update({"Axes": "matplotlib.axes.Axes", "Figure": "matplotlib.figure.Figure"})
    # our own public names, by their short name
    aliases.update({home.rsplit(".", 1)[1]: home for home in homes.values()})
    return aliases


# --- The gallery ------------------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # only plot_*.py run at build time; the command-line scripts need data, weights or arguments
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"^(?!plot_)\w+\.py$",
    # one section per subfolder of examples/, each with its GALLERY_HEADER.rst
    "subsection_order": [
        "../examples/alignment",
        "../examples/reweighting",
        "../examples/label_shift",
        "../examples/keras",
        "../examples/model_selection",
    ],
    "within_subsection_order": "FileNameSortKey",
    "remove_config_comments": True,
    "show_memory": False,
    "download_all_examples": False,
    "plot_gallery": os.environ.get("SKLTRANSFER_DOCS_PLOT_GALLERY", "True") not in ("0", "False"),
    "reference_url": {"skltransfer": None},
    "matplotlib_animations": False,
    # "Examples using X" at the end of each API page
    "doc_module": ("skltransfer",),
    "backreferences_dir": "api/generated/backreferences",
}

# --- Pages ------------------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"skltransfer {release}"
html_theme_options = {
    "logo": {"text": f"skltransfer {release}"},
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_sidebars = {"index": [], "getting_started": []}
html_static_path = ["_static"]
html_css_files = ["skltransfer.css"]
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

#: The families of the API reference, in its order: the module that defines a name (or, for
#: constants, the module that exports it) decides its family, by the longest prefix.
API_FAMILIES = {
    "skltransfer": (
        "The domain convention and pipelines",
        "One ``X`` and one ``y`` for both domains (``y == -1`` marks unlabeled target rows), "
        "and pipelines whose last step learns from the labeled rows only.",
    ),
    "skltransfer.alignment": (
        "Feature alignment",
        "Transformers that move the source and target rows into a space where the domains agree.",
    ),
    "skltransfer.reweighting": (
        "Instance reweighting",
        "Weights for the source rows (covariate shift), and boosting with a few labeled target rows.",
    ),
    "skltransfer.classifiers": (
        "Domain-adaptation classifiers",
        "Classifiers that learn from the unlabeled target rows themselves.",
    ),
    "skltransfer.label_shift": (
        "Label shift",
        "When the class priors change and the classes themselves do not: estimate, test, correct.",
    ),
    "skltransfer.parameter_transfer": (
        "Parameter transfer",
        "A target model regularised towards the source model.",
    ),
    "skltransfer.keras": (
        "Keras-backed estimators",
        "Pretrained CNNs as feature extractors, fine-tuned CNNs, source-free adaptation "
        "(TensorFlow, the extra ``keras``).",
    ),
    "skltransfer.keras.losses": (
        "Keras: domain and target objectives",
        "The losses a fine-tuned CNN adds to adapt its features to unlabeled target images.",
    ),
    "skltransfer.keras.applications": (
        "Keras: backbones",
        "The ``keras.applications`` networks by name, with their input size and preprocessing.",
    ),
    "skltransfer.keras.images": (
        "Keras: image input",
        "Arrays, flattened rows and file paths as batches of images.",
    ),
    "skltransfer.model_selection": (
        "Model selection",
        "Splitters that respect the domains, scorers that need no target labels, the bootstrap.",
    ),
    "skltransfer.metrics": (
        "Metrics",
        "How far apart the domains are, how well a model transfers, and a report on target rows.",
    ),
    "skltransfer.datasets": ("Data sets", "Embedded and downloaded benchmark data, image folders."),
    "skltransfer.plotting": ("Plotting", "Figures of embeddings, training curves and model selection."),
}


def _public_names(module_name: str) -> list[str]:
    return sorted(importlib.import_module(module_name).__all__, key=str.lower)


#: Where a name is exported by several modules, its page is in the first of these.
_HOME_ORDER = (
    "skltransfer",
    "skltransfer.model_selection",
    "skltransfer.metrics",
    "skltransfer.datasets",
    "skltransfer.plotting",
)


def _homes() -> dict[int, str]:
    """The module whose page documents each public object (by identity)."""
    homes: dict[int, str] = {}
    for module_name in (*_HOME_ORDER, *API_MODULES):
        module = importlib.import_module(module_name)
        for name in _public_names(module_name):
            homes.setdefault(id(getattr(module, name)), f"{module_name}.{name}")
    return homes


def _family(home: str) -> str:
    """The family (a key of :data:`API_FAMILIES`) of the public name documented at ``home``."""
    module_name, name = home.rsplit(".", 1)
    obj = getattr(importlib.import_module(module_name), name)
    defined_in = getattr(obj, "__module__", None) if callable(obj) else None
    where = defined_in if defined_in and defined_in.startswith("skltransfer") else module_name
    if module_name not in ("skltransfer", "skltransfer.metrics"):
        where = module_name  # the names of the other modules stay with their module
    parts = where.split(".")
    while ".".join(parts) not in API_FAMILIES:
        parts.pop()
    return ".".join(parts)


def write_api_pages(folder: Path = DOCS / "api") -> None:
    """Write the API reference: an index by family, and one page per public module.

    Each module page lists every name of the module's ``__all__``; autosummary then writes
    one page per public object (``docs/api/generated``) from ``_templates/autosummary/name.rst``.
    A name that a module re-exports from another links to the page of its home module. The
    index groups every name by family, with the first line of its docstring. All of these
    are build products, ignored by git.
    """
    folder.mkdir(exist_ok=True)
    homes = _homes()
    families: dict[str, list[str]] = {family: [] for family in API_FAMILIES}
    for home in sorted(set(homes.values()), key=lambda home: home.rsplit(".", 1)[1].lower()):
        families[_family(home)].append(home)
    index = [
        "API reference",
        "=============",
        "",
        "Every public class and function, by family. The module pages list them by import path:",
        ", ".join(f":mod:`{module_name}`" for module_name in API_MODULES) + ".",
        "The command line has a page of its own: :ref:`cli`.",
        "",
    ]
    for family, names in families.items():
        if not names:
            continue
        title, summary = API_FAMILIES[family]
        index += [title, "-" * len(title), "", summary, ""]
        # one table per module, so that the summaries' references resolve in their module
        for module_name in dict.fromkeys(home.rsplit(".", 1)[0] for home in names):
            index += [f".. currentmodule:: {module_name}", "", ".. autosummary::", "   :nosignatures:", ""]
            index += [
                f"   {home.rsplit('.', 1)[1]}" for home in names if home.rsplit(".", 1)[0] == module_name
            ]
            index += [""]
    index += [".. toctree::", "   :hidden:", "   :maxdepth: 1", ""]
    index += [f"   {module_name}" for module_name in API_MODULES] + ["   cli", ""]
    for module_name, title in API_MODULES.items():
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
            "",
            f".. currentmodule:: {module_name}",
            "",
            ".. autosummary::",
            "   :toctree: generated",
            f"   :template: {API_TEMPLATE}",
            "   :nosignatures:",
            "",
            *(f"   {home.rsplit('.', 1)[1]}" for home in own),
            "",
        ]
        if reexported:
            lines += [
                "Also importable from here, documented in their home module:",
                "",
                ".. autosummary::",
                "   :nosignatures:",
                "",
                *(f"   ~{home}" for home in reexported),
                "",
            ]
        _write_if_changed(folder / f"{module_name}.rst", "\n".join(lines))
    _write_if_changed(folder / "index.rst", "\n".join(index))


def write_cli_page(folder: Path = DOCS / "api") -> None:
    """Write the reference of ``python -m skltransfer``: the help of every command, as printed."""
    import argparse

    from skltransfer.__main__ import build_parser

    parser = build_parser()
    lines = [
        ".. _cli:",
        "",
        "Command line",
        "============",
        "",
        "``python -m skltransfer`` (or ``skltransfer``, the script ``pip install`` puts on the",
        "path) runs the library's jobs on folders of images, one subfolder per class, with the",
        "library's defaults. Every command but ``demo`` needs the extra ``keras``.",
        "",
        ".. code-block:: bash",
        "",
        "   skltransfer extract photos/ --model mobilenet_v2 -o features.npz      # resumable batches",
        "   skltransfer finetune train/ --model mobilenet_v2 -o model.joblib",
        "   skltransfer finetune train/ --target-dir unlabeled/ --domain-loss mmd -o adapted.joblib",
        "   skltransfer predict model.joblib new/ -o predictions.csv",
        "   skltransfer evaluate model.joblib test/ --source-dir train/",
        "   skltransfer finetune train/ --model mobilenet_v2 -o model.keras   # a file safe to share",
        "   skltransfer predict model.keras new/ -o predictions.csv",
        "",
        ".. warning::",
        "",
        "   ``predict`` and ``evaluate`` read two kinds of model file. A ``.keras`` file written by",
        "   ``finetune -o model.keras`` holds the network and its class names and is loaded with",
        "   Keras' safe mode, which runs no code: it is safe to load from others. A ``.joblib``",
        "   file is a pickle: loading it runs code stored in it, so load only ``.joblib`` files",
        "   you made or trust.",
        "",
    ]
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "88"  # argparse wraps its help to the terminal's width
    try:
        helps = [("python -m skltransfer", parser.format_help())]
        helps += [
            (f"python -m skltransfer {name}", sub.format_help()) for name, sub in commands.choices.items()
        ]
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns
    for title, text in helps:
        lines += [f"``{title}``", "-" * (len(title) + 4), "", ".. code-block:: text", ""]
        lines += [f"   {line}".rstrip() for line in text.rstrip().splitlines()] + [""]
    _write_if_changed(folder / "cli.rst", "\n".join(lines))


#: The template of the page of each public name, as autosummary looks it up: a path under
#: ``templates_path``. (Its fallback, ``autosummary/<name>.rst``, appends ".rst" to the name it
#: is given, so a bare "name.rst" silently falls back to the base template.)
API_TEMPLATE = "autosummary/name.rst"


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


# literals, roles, emphasis and targets, left as they are by _escape_trailing_underscores
_MARKUP = re.compile(r"(``.*?``|:[\w:]+:`[^`]*`|`[^`]*`_{0,2}|\*\*[^*]*\*\*|\*[^*]*\*)")
_TRAILING_UNDERSCORE = re.compile(r"(?<![\w\\])([A-Za-z]\w*)_(?=[\s,.;:)]|$)")
# directives whose content is code or math, shown as written
_LITERAL_DIRECTIVE = re.compile(
    r"\.\.\s+(code-block|code|sourcecode|math|plot|doctest|testcode|testoutput|parsed-literal|"
    r"literalinclude|highlight)::"
)


def _escape_trailing_underscores(app, what, name, obj, options, lines) -> None:
    """Keep fitted-attribute names in plain text ("shape (n_features_in_,)") from reading as links.

    reStructuredText reads ``word_`` as a reference to a target named ``word``; the
    docstrings use such names in types, as scikit-learn's do. Code is left as written:
    doctest blocks (``>>>`` to the next blank line), literal blocks (after ``::``) and the
    content of code and math directives.
    """
    literal_indent = None  # the indentation of the line that opened a literal block
    in_doctest = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if in_doctest:
            in_doctest = bool(stripped)
            continue
        if literal_indent is not None:
            if not stripped or indent > literal_indent:
                continue
            literal_indent = None
        if stripped.startswith(">>>"):
            in_doctest = True
            continue
        if stripped.startswith(".."):
            if _LITERAL_DIRECTIVE.match(stripped):
                literal_indent = indent
            continue
        if stripped.endswith("::"):
            literal_indent = indent
        parts = _MARKUP.split(line)
        parts[::2] = [_TRAILING_UNDERSCORE.sub(r"\1\\_", part) for part in parts[::2]]
        lines[i] = "".join(parts)


def _drop_foreign_versions(app, what, name, obj, options, lines) -> None:
    """Drop "Added in version 1.3" from the docstrings of methods scikit-learn gives us.

    ``set_fit_request`` and ``set_output`` carry scikit-learn's version numbers, which on
    our pages would read as versions of skltransfer.
    """
    if (getattr(obj, "__module__", None) or "").startswith("skltransfer"):
        return
    kept, dropping = [], False
    for line in lines:
        if line.lstrip().startswith((".. versionadded::", ".. versionchanged::")):
            dropping = True
            continue
        if dropping and (not line.strip() or line.startswith((" ", "\t"))):
            continue  # the directive's body and the blank line after it
        dropping = False
        kept.append(line)
    lines[:] = kept


def _set_xref_aliases(app, config) -> None:
    # after write_api_pages has imported every public module; before numpydoc completes them
    config.numpydoc_xref_aliases = _xref_aliases(
        {str(key): home for key, home in _homes().items()}, config.intersphinx_mapping
    )


def _public_path(target: str, module_name: str | None) -> str | None:
    """The documented path of a public object that ``target`` names another way.

    A docstring may name an object by another public import path
    (``skltransfer.keras.PretrainedFeatureExtractor``, ``skltransfer.alignment.CORALAligner``)
    or by its short name from another module (``SHOTClassifier`` in ``skltransfer.keras``);
    each of these is the same object as one page documents.
    """
    homes = _HOMES or _HOMES.update(_homes()) or _HOMES
    candidates = [target] if "." in target else []
    if module_name:
        candidates.append(f"{module_name}.{target}")
    for candidate in candidates:
        parent, _, name = candidate.rpartition(".")
        if not parent.startswith("skltransfer"):
            continue
        try:
            obj = getattr(importlib.import_module(parent), name)
        except (ImportError, AttributeError):
            continue
        if id(obj) in homes and homes[id(obj)] != candidate:
            return homes[id(obj)]
    if "." not in target:  # a short name that one public object has
        found = {home for home in homes.values() if home.rsplit(".", 1)[1] == target}
        if len(found) == 1:
            return found.pop()
    return None


_HOMES: dict[int, str] = {}


def _resolve_public_path(app, env, node, contnode):
    """Resolve a reference to a public object by any of its public import paths."""
    if node.get("refdomain") != "py":
        return None
    home = _public_path(node["reftarget"], node.get("py:module"))
    if home is None:
        return None
    domain = env.domains["py"]
    return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], home, node, contnode)


def _skip_member(app, what, name, obj, skip, options):
    """Which members of a class its page documents, beyond autodoc's rule.

    ``call`` of the Keras objectives is documented, docstring or not: it is how a layer is
    used. A method of ours without a docstring of its own (a Keras callback's hook) is left
    out rather than shown with the docstring of the method it overrides.
    """
    if not (getattr(obj, "__module__", None) or "").startswith("skltransfer"):
        return None
    if name == "call" and obj.__module__.startswith("skltransfer.keras"):
        return False
    if callable(obj) and getattr(obj, "__doc__", "") is None:
        return True
    return None


def _write_pages(app, config) -> None:
    write_api_pages()
    write_cli_page()


def setup(app) -> None:
    # before Sphinx lists the source files (which autosummary then reads to write one page
    # per name): a checkout without docs/api still gets every page
    app.connect("config-inited", _write_pages, priority=100)
    app.connect("config-inited", _set_xref_aliases, priority=100)
    # after numpydoc (same priority, registered later), on the reStructuredText it produced
    app.connect("autodoc-process-docstring", _escape_trailing_underscores)
    app.connect("autodoc-process-docstring", _drop_foreign_versions)
    app.connect("missing-reference", _resolve_public_path)
    app.connect("autodoc-skip-member", _skip_member)
