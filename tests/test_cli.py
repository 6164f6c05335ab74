import subprocess
import sys

import pytest

from skltransfer.__main__ import main


def test_demo_without_keras_shows_adaptation_helping(capsys):
    assert main(["demo", "--no-keras"]) == 0
    out = capsys.readouterr().out
    rows = {
        line.split("|")[1].strip(): float(line.split("|")[3])
        for line in out.splitlines()
        if line.startswith("| ") and not line.startswith("| method")
    }
    baseline = rows["Logistic regression trained on the source, no adaptation"]
    assert rows["MMDAligner (TCA, 20 components) + standardisation + logistic regression"] > baseline + 0.1
    assert rows["MEDAClassifier (manifold + distribution alignment, 20 dimensions)"] > baseline + 0.3  # 0.84
    assert rows["DomainStandardScaler (each domain z-scored) + logistic regression"] > baseline + 0.2  # 0.76
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("| method"))
    separator = lines[lines.index(header) + 1]
    assert len(separator) == len(header) and separator.count("|") == header.count("|")


def test_help_lists_commands():
    out = subprocess.run(
        [sys.executable, "-m", "skltransfer", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "demo" in out


def test_unknown_command_exits_with_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["nonsense"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
