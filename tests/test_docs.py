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
        [line.strip() for line in block.splitlines() if line.startswith("   ") and ":" not in line]
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


def test_gallery_examples_have_a_title_and_sections():
    examples = sorted((ROOT / "examples").glob("plot_*.py"))
    assert len(examples) >= 8
    for path in examples:
        docstring = ast.get_docstring(ast.parse(path.read_text()), clean=False)
        title, underline = docstring.strip("\n").splitlines()[:2]
        assert set(underline) == {"="} and len(underline) == len(title), path.name
        assert "\n# %%\n" in path.read_text(), path.name


def test_ci_builds_the_docs_after_the_tests():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    build = "python -m sphinx -W --keep-going -b html docs docs/_build/html"
    assert 'python -m pip install ".[docs]"' in ci
    assert ci.index(build) > ci.index("python -m pytest")


def test_pages_are_written_before_the_sources_are_listed(conf, monkeypatch):
    connected = []

    class App:
        def connect(self, event, callback, priority=500):
            connected.append((event, callback))

    conf.setup(App())
    # config-inited comes before Sphinx lists the source files; builder-inited is too late
    (callback,) = [cb for event, cb in connected if event == "config-inited"]
    written = []
    monkeypatch.setattr(conf, "write_api_pages", lambda: written.append(True))
    callback(App(), None)
    assert written == [True]
