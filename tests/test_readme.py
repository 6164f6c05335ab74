"""The README's code runs as written (except blocks that need the user's own files)."""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 2


def test_readme_tour_runs():
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # a non-finite grid score warns
        for block in BLOCKS:
            if "load_image_folder(" in block:
                continue  # needs a folder of the user's images and ImageNet weights
            exec(compile(block, str(README), "exec"), namespace)
            if "grid" in namespace:
                assert np.isfinite(namespace["grid"].cv_results_["mean_test_score"]).all()


@pytest.mark.parametrize(
    "command", ['pip install ".[test]"', "python -m skltransfer demo", "python -m pytest"]
)
def test_quick_start_commands_are_the_documented_ones(command):
    quick_start = README.read_text().split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    assert command in quick_start.splitlines()


def test_ci_runs_the_readme_test_command():
    ci = (README.parent / ".ci" / "run").read_text()
    assert 'python -m pip install ".[test]"' in ci and "python -m pytest" in ci
