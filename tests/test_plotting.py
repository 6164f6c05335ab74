"""plot_history: one panel per metric over the epochs of every phase; optional matplotlib."""

import sys
from types import SimpleNamespace

import pytest

from skltransfer.plotting import plot_history

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

HISTORY = {
    "head": {"loss": [1.0, 0.8, 0.6], "accuracy": [0.4, 0.6, 0.7], "val_loss": [1.1, 0.9, 0.8]},
    "fine_tune": {"loss": [0.5, 0.4], "accuracy": [0.8, 0.9], "val_loss": [0.7, 0.75]},
}


def test_curves_run_over_both_phases():
    import matplotlib.pyplot as plt

    loss, accuracy = plot_history(SimpleNamespace(history_=HISTORY))
    lines = {line.get_label(): line for line in loss.get_lines()}
    assert list(lines["head (frozen base)"].get_xdata()) == [1, 2, 3]
    assert list(lines["fine-tuning"].get_xdata()) == [4, 5]
    assert list(lines["fine-tuning, validation"].get_ydata()) == [0.7, 0.75]
    assert lines["head (frozen base), validation"].get_linestyle() == "--"
    assert [line.get_xdata()[0] for line in loss.get_lines() if line.get_linestyle() == ":"] == [3.5]
    assert [line.get_label() for line in accuracy.get_lines() if line.get_linestyle() != ":"] == [
        "head (frozen base)",
        "fine-tuning",
    ]
    plt.close("all")


def test_given_axes_and_skipped_phases():
    import matplotlib.pyplot as plt

    _, ax = plt.subplots()
    history = {"head": {"loss": [0.3, 0.2]}, "fine_tune": {}}
    (drawn,) = plot_history(SimpleNamespace(history_=history), metrics=("loss", "auc"), axes=[ax])
    assert drawn is ax and [list(line.get_xdata()) for line in ax.get_lines()] == [[1, 2]]
    plt.close("all")


def test_errors():
    with pytest.raises(ValueError, match="has no history_: fit it first"):
        plot_history(object())
    with pytest.raises(
        ValueError, match=r"None of the metrics \['auc'\] was recorded; recorded: \['accuracy'"
    ):
        plot_history(SimpleNamespace(history_=HISTORY), metrics=("auc",))
    with pytest.raises(ValueError, match="Got 1 axes for 2 metrics"):
        plot_history(SimpleNamespace(history_=HISTORY), axes=[None])


def test_missing_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot_history(SimpleNamespace(history_=HISTORY))
