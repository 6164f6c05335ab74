"""The documentation's reference follows each module's ``__all__``; CI builds it."""

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def conf():
    for needed in ("sphinx", "numpydoc", "sphinx_gallery"):  # the 'docs' extra
        pytest.importorskip(needed)
    spec = importlib.util.spec_from_file_location("docs_conf", ROOT / "docs" / "conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # writes nothing: the pages are written when a build starts
    return module


def _listed(page: str) -> tuple[list[str], list[str]]:
    """Names under the page's first autosummary (own pages) and second one (re-exports)."""
    blocks = page.split(".. autosummary::")[1:]
    names = [
        [
            line.strip().lstrip("~")
            for line in block.split("\n\n", 2)[1].splitlines()
            if line.startswith("   ") and ":" not in line
        ]
        for block in blocks
    ]
    return names[0], names[1] if len(names) > 1 else []


def test_every_public_name_has_a_page(conf, tmp_path):
    conf.write_api_pages(tmp_path)
    homes = set()
    for module_name in conf.API_MODULES:
        own, reexported = _listed((tmp_path / f"{module_name}.rst").read_text())
        homes |= {f"{module_name}.{name}" for name in own}
        listed = own + [home.rsplit(".", 1)[1] for home in reexported]
        assert sorted(listed, key=str.lower) == sorted(
            importlib.import_module(module_name).__all__, key=str.lower
        )
    for module_name in conf.API_MODULES:
        _, reexported = _listed((tmp_path / f"{module_name}.rst").read_text())
        assert set(reexported) <= homes  # a re-exported name links to a page that exists
    index = (tmp_path / "index.rst").read_text()
    assert all(f"   {module_name}" in index.splitlines() for module_name in conf.API_MODULES)


def test_new_name_appears_without_edits(conf, tmp_path, monkeypatch):
    plotting = importlib.import_module("skltransfer.plotting")
    monkeypatch.setattr(plotting, "plot_new_figure", lambda: None, raising=False)
    monkeypatch.setattr(plotting, "__all__", [*plotting.__all__, "plot_new_figure"])
    conf.write_api_pages(tmp_path)
    own, _ = _listed((tmp_path / "skltransfer.plotting.rst").read_text())
    assert "plot_new_figure" in own


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("ndarray of shape (n_features_in_,)", r"ndarray of shape (n_features_in\_,)"),
        ("``n_components_`` and :attr:`coef_` stay", "``n_components_`` and :attr:`coef_` stay"),
        ("**n_components_** : int", "**n_components_** : int"),
        (".. [1] A. Author_ in math", ".. [1] A. Author_ in math"),
        ("see [1]_ and x_i", "see [1]_ and x_i"),
    ],
)
def test_trailing_underscores_escaped_outside_markup(conf, line, expected):
    lines = [line]
    conf._escape_trailing_underscores(None, "class", "name", None, {}, lines)
    assert lines == [expected]


def test_versions_of_scikit_learn_are_not_shown_as_ours(conf):
    from sklearn.base import BaseEstimator

    lines = ["Set the parameters.", "", ".. versionadded:: 1.3", "   Since then.", "", "Returns"]
    conf._drop_foreign_versions(None, "method", "name", BaseEstimator.set_params, {}, lines)
    assert lines == ["Set the parameters.", "", "Returns"]
    ours = ["Fit.", "", ".. versionadded:: 0.1", ""]
    conf._drop_foreign_versions(None, "method", "name", conf.skltransfer.stack_domains, {}, ours)
    assert ours == ["Fit.", "", ".. versionadded:: 0.1", ""]


def test_code_is_shown_as_written():
    # doctest blocks, literal blocks and code directives keep their trailing underscores
    spec = importlib.util.spec_from_file_location("docs_conf_code", ROOT / "docs" / "conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    lines = [
        "Fitted in coef_ here.",
        "",
        ">>> clf.history_['head']",
        "... clf.source_priors_",
        "array([0.5, 0.5])  # classes_",
        "",
        "After the doctest, n_features_in_ is text again::",
        "",
        "    model.classes_",
        "",
        ".. code-block:: python",
        "",
        "   reg.coef_",
        "",
        "End with intercept_.",
    ]
    conf._escape_trailing_underscores(None, "class", "name", None, {}, lines)
    assert lines == [
        r"Fitted in coef\_ here.",
        "",
        ">>> clf.history_['head']",
        "... clf.source_priors_",
        "array([0.5, 0.5])  # classes_",
        "",
        r"After the doctest, n_features_in\_ is text again::",
        "",
        "    model.classes_",
        "",
        ".. code-block:: python",
        "",
        "   reg.coef_",
        "",
        r"End with intercept\_.",
    ]


def test_gallery_examples_have_a_title_and_sections():
    examples = sorted((ROOT / "examples").glob("**/plot_*.py"))
    assert len(examples) >= 14
    for path in examples:
        docstring = ast.get_docstring(ast.parse(path.read_text()), clean=False)
        title, underline = docstring.strip("\n").splitlines()[:2]
        assert set(underline) == {"="} and len(underline) == len(title), path.name
        assert "\n# %%\n" in path.read_text(), path.name


def test_ci_builds_the_docs_after_the_tests_from_the_docs_extra_alone():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    build = "python -m sphinx -n -W --keep-going -b html docs docs/_build/html"
    install = 'python -m pip install ".[docs]"'
    assert ci.index(build) > ci.index(install) > ci.index("python -m pytest")
    # a virtual environment of its own, created after the tests' and holding only the extra
    venv = max(i for i, line in enumerate(ci[: ci.index(install)]) if line.startswith("python3 -m venv"))
    assert venv > ci.index("python -m pytest")
    assert [
        line for line in ci[venv : ci.index(build)] if "pip install" in line and "--upgrade pip" not in line
    ] == [install]


def test_the_docs_extra_brings_what_the_build_imports():
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    docs = " ".join(extras["docs"])
    for needed in ("skltransfer[keras]", "sphinx", "numpydoc", "sphinx-gallery", "pydata-sphinx-theme"):
        assert needed in docs
    for needed in ("myst-parser", "sphinx-copybutton", "matplotlib", "dask"):
        assert needed in docs


def test_the_page_template_is_found_where_autosummary_looks(conf, tmp_path):
    # autosummary tries the name as given under templates_path, then "autosummary/<name>.rst":
    # a name that resolves neither way silently falls back to a template without methods
    (template_dir,) = conf.templates_path
    assert (ROOT / "docs" / template_dir / conf.API_TEMPLATE).is_file()
    conf.write_api_pages(tmp_path)
    assert f":template: {conf.API_TEMPLATE}" in (tmp_path / "skltransfer.rst").read_text()
    template = (ROOT / "docs" / template_dir / conf.API_TEMPLATE).read_text()
    assert ":members:" in template and ".. minigallery::" in template


def test_index_groups_every_public_name_by_family(conf, tmp_path):
    conf.write_api_pages(tmp_path)
    index = (tmp_path / "index.rst").read_text()
    listed = set()
    module = None
    for line in index.split(".. toctree::")[0].splitlines():
        if line.startswith(".. currentmodule::"):
            module = line.split("::")[1].strip()
        elif (
            line.startswith("   ")
            and ":" not in line
            and module
            and not line.strip().startswith("skltransfer")
        ):
            listed.add(f"{module}.{line.strip()}")
    assert listed == set(conf._homes().values())
    titles = [title for title, _ in conf.API_FAMILIES.values()]
    for title in ("Feature alignment", "Instance reweighting", "Label shift", "Model selection", "Plotting"):
        assert title in titles and f"{title}\n{'-' * len(title)}" in index
    assert conf._family("skltransfer.MMDAligner") == "skltransfer.alignment"
    assert conf._family("skltransfer.FineTunedCNNClassifier") == "skltransfer.keras"
    assert (
        conf._family("skltransfer.model_selection.PredictionEntropyScorer") == "skltransfer.model_selection"
    )


def test_cli_page_has_every_command_and_the_trust_warning(conf, tmp_path):
    conf.write_cli_page(tmp_path)
    page = (tmp_path / "cli.rst").read_text()
    for command in ("demo", "extract", "finetune", "predict", "evaluate"):
        assert f"``python -m skltransfer {command}``" in page
    assert ".. warning::" in page and "only ``.joblib`` files" in page


def test_intersphinx_is_skipped_offline_and_reads_local_inventories(conf, tmp_path, monkeypatch):
    monkeypatch.setattr(conf, "_reachable", lambda url, timeout=3.0: False)
    assert conf.intersphinx_inventories({}) == {}
    (tmp_path / "numpy.inv").write_bytes(b"")
    mapping = conf.intersphinx_inventories({"SKLTRANSFER_DOCS_INVENTORIES": str(tmp_path)})
    assert mapping == {"numpy": ("https://numpy.org/doc/stable", str(tmp_path / "numpy.inv"))}
    monkeypatch.setattr(conf, "_reachable", lambda url, timeout=3.0: True)
    assert set(conf.intersphinx_inventories({})) == set(conf._INVENTORIES)
    assert conf.intersphinx_inventories({"SKLTRANSFER_DOCS_INTERSPHINX": "0"}) == {}


def test_public_names_resolve_by_any_import_path(conf):
    assert conf._public_path("skltransfer.keras.PretrainedFeatureExtractor", None) == (
        "skltransfer.PretrainedFeatureExtractor"
    )
    assert conf._public_path("SHOTClassifier", "skltransfer.keras") == "skltransfer.SHOTClassifier"
    assert conf._public_path("skltransfer.MMDAligner", None) is None  # already its page
    assert conf._public_path("numpy.ndarray", None) is None


def test_pages_are_written_before_the_sources_are_listed(conf, monkeypatch):
    connected = []

    class App:
        def connect(self, event, callback, priority=500):
            connected.append((event, callback))

    conf.setup(App())
    # config-inited comes before Sphinx lists the source files; builder-inited is too late
    assert (("config-inited", conf._write_pages)) in connected
    written = []
    monkeypatch.setattr(conf, "write_api_pages", lambda: written.append("api"))
    monkeypatch.setattr(conf, "write_cli_page", lambda: written.append("cli"))
    conf._write_pages(App(), None)
    assert written == ["api", "cli"]


def test_gallery_is_in_sections_each_with_a_header():
    # sphinx-gallery makes one section per subfolder of examples/ that has a GALLERY_HEADER.rst;
    # the command-line scripts stay at the top level, which the gallery does not run
    examples = ROOT / "examples"
    assert (examples / "GALLERY_HEADER.rst").is_file()
    assert sorted(examples.glob("plot_*.py")) == []
    sections = sorted(path.parent for path in examples.glob("*/plot_*.py"))
    assert len(set(sections)) >= 5
    conf = (ROOT / "docs" / "conf.py").read_text()
    for section in set(sections):
        title, underline = (section / "GALLERY_HEADER.rst").read_text().splitlines()[:2]
        assert set(underline) == {"-"} and len(underline) == len(title), section.name
        assert f'"../examples/{section.name}"' in conf, section.name  # in subsection_order
