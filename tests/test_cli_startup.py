"""The command line before any network runs: argument checks without TensorFlow, a core-only install."""

import os
import subprocess
import sys

import pytest

from skltransfer.__main__ import build_parser, main

# Runs each TensorFlow-backed command on a folder that does not exist (predict and evaluate with a
# model file that does), then says whether TensorFlow was imported.
_MISTYPED = """
import sys
from skltransfer.__main__ import main
missing, model, out = sys.argv[1:]
codes = [
    main(["extract", missing, "-o", out + ".npz"]),
    main(["finetune", missing, "-o", out + ".joblib"]),
    main(["predict", model, missing, "-o", out + ".csv"]),
    main(["evaluate", model, missing]),
]
print(codes, "tensorflow" in sys.modules)
"""


def test_arguments_are_checked_before_tensorflow_is_imported(tmp_path):
    missing, model = str(tmp_path / "missing"), tmp_path / "model.joblib"
    model.write_bytes(b"never read")
    argv = [missing, str(model), str(tmp_path / "out")]
    done = subprocess.run([sys.executable, "-c", _MISTYPED, *argv], capture_output=True, text=True)
    assert done.stdout.split("\n")[0] == "[1, 1, 1, 1] False"
    assert done.stderr.splitlines() == [f"error: not a folder: {missing!r}"] * 4


def test_the_demo_without_tensorflow_names_the_extra_and_no_keras():
    """A core-only install: TensorFlow cannot be imported (simulated), the demo explains what to do."""
    script = (
        "import sys\n"
        "sys.modules['tensorflow'] = sys.modules['keras'] = None  # as if not installed\n"
        "from skltransfer.__main__ import main\n"
        "sys.exit(main(['demo']))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: ")
    assert 'pip install "skltransfer[keras]"' in done.stderr
    assert "python -m skltransfer demo --no-keras" in done.stderr


def test_main_leaves_the_environment_and_tensorflow_logging_as_they_were(tmp_path, monkeypatch, capsys):
    import logging

    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    level = logging.getLogger("tensorflow").level
    assert main(["extract", str(tmp_path / "missing"), "-o", str(tmp_path / "f.npz")]) == 1
    assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    assert logging.getLogger("tensorflow").level == level
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")  # the user's choice is kept
    assert main(["extract", str(tmp_path / "missing"), "-o", str(tmp_path / "f.npz")]) == 1
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
    capsys.readouterr()


@pytest.mark.parametrize(
    "given, expected",
    [
        ([], {"epochs": None, "fine_tune_epochs": None, "learning_rate": None}),
        (["--epochs", "auto", "--fine-tune-epochs", "3"], {"epochs": "auto", "fine_tune_epochs": 3}),
        (["--epochs", "0", "--fine-tune-epochs", "auto"], {"epochs": 0, "fine_tune_epochs": "auto"}),
    ],
)
def test_finetune_budgets_are_the_estimators_unless_given(given, expected):
    """None: the option was not given, and FineTunedCNNClassifier's own default applies."""
    args = build_parser().parse_args(["finetune", "data", "-o", "m.joblib", *given])
    assert {name: getattr(args, name) for name in expected} == expected


@pytest.mark.parametrize(
    "value, message",
    [
        ("two", "must be a number of epochs or 'auto', got 'two'"),
        ("1.5", "must be a number of epochs or 'auto', got '1.5'"),
        ("-1", "must be at least 0, got -1"),
    ],
)
def test_finetune_budgets_reject_other_values(value, message, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["finetune", "data", "-o", "m.joblib", "--fine-tune-epochs", value])
    assert exc.value.code == 2
    assert f"argument --fine-tune-epochs: {message}" in capsys.readouterr().err
