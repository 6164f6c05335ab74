"""The plots: history, domain embedding, selection vs oracle; optional matplotlib."""

import sys
from types import SimpleNamespace

import numpy as np
import pytest

from skltransfer.plotting import plot_domain_embedding, plot_history, plot_selection_vs_oracle

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


def test_entries_that_are_not_series_are_ignored():
    import matplotlib.pyplot as plt

    history = {
        "head": {"loss": [0.9], "accuracy": [0.6], "steps": [40], "stop_reason": "converged"},
        "fine_tune": {"loss": [0.5, 0.4], "accuracy": [0.7, 0.8], "stop_reason": "epochs"},
    }
    loss, _ = plot_history(SimpleNamespace(history_=history))
    lines = {line.get_label(): list(line.get_xdata()) for line in loss.get_lines()}
    assert lines["head (frozen base)"] == [1] and lines["fine-tuning"] == [2, 3]
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


def _offsets(ax):
    return [collection.get_offsets().data for collection in ax.collections]


def test_domain_embedding_draws_each_row_once_by_domain_and_class():
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgba

    X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0], [4.0, 4.0]])
    y = np.array([0, 1, 0, -1, 1])
    sample_domain = np.array([0, 0, -1, -1, -1])
    ax = plot_domain_embedding(X, y, sample_domain)
    drawn = {
        (tuple(map(tuple, offsets)), collection.get_facecolor()[0][:3].round(3).tobytes())
        for offsets, collection in zip(_offsets(ax), ax.collections, strict=True)
    }
    assert len(ax.collections) == 5  # source 0, source 1, target 0, target 1, target unlabeled
    assert sorted(map(tuple, np.vstack(_offsets(ax)))) == sorted(map(tuple, X))
    grey = np.array(to_rgba("0.6")[:3]).round(3).tobytes()
    assert (((3.0, 1.0),), grey) in drawn
    source_markers = {c.get_paths()[0].vertices.shape for c in ax.collections[:2]}
    target_markers = {c.get_paths()[0].vertices.shape for c in ax.collections[2:]}
    assert source_markers.isdisjoint(target_markers)  # circles for the source, triangles for the target
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["source", "target"]
    plt.close("all")


def test_domain_embedding_projects_on_pca_of_all_rows():
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(15, 4)), rng.normal(3.0, 1.0, size=(15, 4))])
    y = np.full(30, np.nan)  # regression-style unknown targets: every row grey
    sample_domain = np.repeat([1, -2], 15)
    _, ax = plt.subplots()
    assert plot_domain_embedding(X, y, sample_domain, ax=ax, title="t") is ax
    expected = PCA(2, random_state=0).fit_transform(X)
    source, target = _offsets(ax)
    np.testing.assert_allclose(source, expected[:15])
    np.testing.assert_allclose(target, expected[15:])
    assert ax.get_title() == "t"
    plt.close("all")


def test_domain_embedding_errors(monkeypatch):
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        plot_domain_embedding(np.zeros((3, 2)), [0, 1], [0, 0, -1])
    with pytest.raises(ValueError, match="X needs at least 2 features to draw, got 1"):
        plot_domain_embedding(np.zeros((3, 1)), [0, 1, 0], [0, 0, -1])
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="plot_domain_embedding needs matplotlib"):
        plot_domain_embedding(np.zeros((3, 2)), [0, 1, 0], [0, 0, -1])


def test_selection_vs_oracle_marks_each_pick_with_its_regret():
    import matplotlib.pyplot as plt

    oracle = [0.5, 0.8, 0.7, 0.6]
    scores = {"a": [3.0, 1.0, 2.0, 0.0], "b": [-4.0, -3.0, -1.0, -2.0]}
    ax = plot_selection_vs_oracle(["p", "q", "r", "s"], oracle, scores, xlabel="mu")
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["target accuracy (oracle)", "a: picks p, regret 0.30", "b: picks r, regret 0.10"]
    picks = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert [(line.get_xdata()[0], line.get_ydata()[0]) for line in picks] == [(0, 0.5), (2, 0.7)]
    (twin,) = [other for other in ax.figure.axes if other is not ax]
    np.testing.assert_allclose(twin.get_lines()[0].get_ydata(), [1.0, 1 / 3, 2 / 3, 0.0])
    np.testing.assert_allclose(twin.get_lines()[1].get_ydata(), [0.0, 1 / 3, 1.0, 2 / 3])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["p", "q", "r", "s"]
    assert ax.get_xlabel() == "mu"
    plt.close("all")


def test_selection_vs_oracle_flat_scorer_and_errors(monkeypatch):
    import matplotlib.pyplot as plt

    ax = plot_selection_vs_oracle([1, 2], [0.4, 0.6], {"flat": [1.0, 1.0]})
    (twin,) = [other for other in ax.figure.axes if other is not ax]
    assert list(twin.get_lines()[0].get_ydata()) == [0.0, 0.0]  # no division by a zero range
    plt.close("all")
    with pytest.raises(ValueError, match="scores is empty"):
        plot_selection_vs_oracle([1, 2], [0.4, 0.6], {})
    with pytest.raises(ValueError, match=r"scores\['x'\] has 1 values but oracle has 2 grid points"):
        plot_selection_vs_oracle([1, 2], [0.4, 0.6], {"x": [1.0]})
    with pytest.raises(ValueError, match="param_values has 3 values but oracle has 2"):
        plot_selection_vs_oracle([1, 2, 3], [0.4, 0.6], {"x": [1.0, 2.0]})
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="plot_selection_vs_oracle needs matplotlib"):
        plot_selection_vs_oracle([1, 2], [0.4, 0.6], {"x": [1.0, 2.0]})
