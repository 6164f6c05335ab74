"""The README's code runs as written (except blocks that need the user's own files)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 2


#: Why a block is not run: it reads folders of the user's own images (and ImageNet weights).
USER_FILES = "reads folders of the user's own photos and downloads ImageNet weights"


def _block_params():
    for i, block in enumerate(BLOCKS):
        marks = [pytest.mark.skip(reason=USER_FILES)] if "load_image_folder(" in block else []
        yield pytest.param(block, id=f"block{i + 1}", marks=marks)


# A non-finite grid score warns (UserWarning): an error here, so a broken grid fails the test.
_RUN_BLOCK = """
import runpy, sys, warnings
import numpy as np
warnings.simplefilter("error", UserWarning)
namespace = runpy.run_path(sys.argv[1])
if "grid" in namespace:
    assert np.isfinite(namespace["grid"].cv_results_["mean_test_score"]).all()
"""


@pytest.mark.slow
@pytest.mark.parametrize("block", list(_block_params()))
def test_each_readme_block_runs_alone(block, tmp_path):
    """Each block runs in a fresh interpreter: its imports and data are its own."""
    script = tmp_path / "block.py"
    script.write_text(block)
    done = subprocess.run(
        [sys.executable, "-c", _RUN_BLOCK, str(script)], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]


def test_blocks_needing_user_files_still_import_what_they_use():
    """The skipped blocks compile and import every name they use (checked without running)."""
    import ast
    import builtins

    for block in BLOCKS:
        if "load_image_folder(" not in block:
            continue
        tree = ast.parse(block)
        bound = set(dir(builtins))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                bound.add(node.id)
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        assert used <= bound, sorted(used - bound)


@pytest.mark.parametrize(
    "command", ['pip install ".[test]"', "python -m skltransfer demo", "python -m pytest"]
)
def test_quick_start_commands_are_the_documented_ones(command):
    quick_start = README.read_text().split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    assert command in quick_start.splitlines()


def test_ci_runs_the_readme_test_command():
    ci = (README.parent / ".ci" / "run").read_text()
    assert 'python -m pip install ".[test]"' in ci and "python -m pytest" in ci


def test_ci_also_runs_the_suite_without_tensorflow():
    ci = (README.parent / ".ci" / "run").read_text()
    core = ci.split("python3 -m venv .ci-venv-core", 1)[1]
    assert 'python -m pip install ".[core-test]"' in core and "python -m pytest" in core


def test_tensorflow_is_the_extra_the_readme_names():
    import tomllib

    project = tomllib.loads((README.parent / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert not any(d.startswith("tensorflow") for d in project["dependencies"])
    assert [d for d in extras["keras"] if d.startswith("tensorflow")]
    assert extras["test"] == ["skltransfer[keras,core-test,onnx]"]
    assert not any(d.startswith("tensorflow") for d in extras["core-test"])
    assert 'pip install "skltransfer[keras]"' in README.read_text()
