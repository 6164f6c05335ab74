"""Plots of domain adaptation and of fitted estimators (needs matplotlib, an optional dependency).

- :func:`plot_domain_embedding`: the rows of both domains in two dimensions, coloured by
  class, one marker per domain (before and after an aligner, say).
- :func:`plot_history`: the learning curves of a Keras-backed estimator.
- :func:`plot_selection_vs_oracle`: what unsupervised scorers pick over a grid of
  hyperparameters, against the target accuracy no one could measure without target labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.decomposition import PCA
from sklearn.utils import check_array, check_consistent_length

__all__ = ["plot_domain_embedding", "plot_history", "plot_selection_vs_oracle"]

_PHASES = {"head": "head (frozen base)", "fine_tune": "fine-tuning"}


def _pyplot(purpose: str):
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError(
            f"{purpose} needs matplotlib, which could not be imported. "
            "Install it with: pip install matplotlib"
        ) from e
    return plt


def plot_history(estimator, *, metrics=("loss", "accuracy"), axes=None):
    """Learning curves of a fitted Keras-backed estimator, phase after phase.

    One panel per metric; the training curve (solid) and, when the estimator held out a
    validation set, the validation curve (dashed) run over the epochs of every phase in
    turn, with a dotted line where fine-tuning starts.

    Parameters
    ----------
    estimator : estimator with a ``history_`` attribute
        E.g. a fitted :class:`~skltransfer.FineTunedCNNClassifier`, whose ``history_`` maps
        each phase to ``{metric: per-epoch values}``.
    metrics : sequence of str, default=("loss", "accuracy")
        Metrics to draw, one panel each; metrics absent from every phase are skipped.
    axes : sequence of matplotlib Axes, default=None
        Axes to draw on, one per drawn metric; None creates a figure.

    Returns
    -------
    axes : list of matplotlib Axes

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    ValueError
        If the estimator has no ``history_`` (not fitted) or none of ``metrics`` was recorded.

    See Also
    --------
    skltransfer.FineTunedCNNClassifier : A Keras-backed estimator that records ``history_``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from types import SimpleNamespace
    >>> from skltransfer.plotting import plot_history
    >>> fitted = SimpleNamespace(history_={"head": {"loss": [0.9, 0.6], "accuracy": [0.5, 0.7]},
    ...                                    "fine_tune": {"loss": [0.5], "accuracy": [0.8]}})
    >>> [ax.get_title() for ax in plot_history(fitted)]
    ['loss', 'accuracy']
    """
    plt = _pyplot("plot_history")
    history = getattr(estimator, "history_", None)
    if history is None:
        raise ValueError(f"{type(estimator).__name__} has no history_: fit it first.")
    drawn = [m for m in metrics if any(m in phase for phase in history.values())]
    if not drawn:
        raise ValueError(f"None of the metrics {list(metrics)} was recorded; recorded: {_recorded(history)}.")
    if axes is None:
        _, axes = plt.subplots(
            1, len(drawn), figsize=(4.5 * len(drawn), 3.5), squeeze=False, layout="constrained"
        )
        axes = axes[0]
    axes = list(axes)
    if len(axes) != len(drawn):
        raise ValueError(f"Got {len(axes)} axes for {len(drawn)} metrics ({drawn}).")
    for ax, metric in zip(axes, drawn, strict=True):
        start = 0
        for phase, values in history.items():
            # per-epoch series only: a phase also records e.g. its "stop_reason" (a string)
            n = max((len(v) for v in values.values() if isinstance(v, (list, tuple, np.ndarray))), default=0)
            if n == 0:
                continue
            label = _PHASES.get(phase, phase)
            epochs = range(start + 1, start + n + 1)
            if metric in values:
                (line,) = ax.plot(epochs, values[metric], label=label)
                if "val_" + metric in values:
                    ax.plot(
                        epochs,
                        values["val_" + metric],
                        "--",
                        color=line.get_color(),
                        label=f"{label}, validation",
                    )
            if start:
                ax.axvline(start + 0.5, color="grey", linestyle=":")
            start += n
        ax.set_title(metric)
        ax.set_xlabel("epoch")
        ax.legend(fontsize="small")
    return axes


def _recorded(history) -> list[str]:
    return sorted({m for phase in history.values() for m in phase})


_MARKERS = {"source": "o", "target": "^"}


def plot_domain_embedding(X, y, sample_domain, *, ax=None, title: str | None = None, random_state=0):
    """The rows of both domains in two dimensions, coloured by class, one marker per domain.

    Source rows are circles and target rows triangles; rows whose class is unknown
    (``y == -1`` or NaN) are grey. Rows with more than two features are projected on the
    first two principal components of all rows (source and target together), so that the
    picture shows how far apart the domains are in the space the rows live in.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Rows of both domains, e.g. the output of an aligner's ``transform``.
    y : array-like of shape (n_samples,)
        Class of every row, for the colours. Pass the true target classes to see whether an
        aligner brings each class of the target onto the same class of the source; ``-1`` or
        NaN draws a row in grey.
    sample_domain : array-like of int of shape (n_samples,)
        Domain of every row: ``>= 0`` source, ``< 0`` target (as in ``fit``).
    ax : matplotlib Axes, default=None
        Axes to draw on; None creates a figure.
    title : str, default=None
        Title of the axes.
    random_state : int, RandomState instance or None, default=0
        Seeds the randomized PCA solver when it is used (many rows and features).

    Returns
    -------
    ax : matplotlib Axes

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    ValueError
        If ``X``, ``y`` and ``sample_domain`` differ in length, or ``X`` has fewer than two
        features.

    See Also
    --------
    skltransfer.metrics.maximum_mean_discrepancy : The distance between the domains as a number.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skltransfer.plotting import plot_domain_embedding
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(size=(20, 5)), rng.normal(2.0, 1.0, size=(20, 5))])
    >>> y, sample_domain = np.tile([0, 1], 20), np.repeat([0, -1], 20)
    >>> ax = plot_domain_embedding(X, y, sample_domain, title="before alignment")
    >>> ax.get_title(), len(ax.collections)  # 2 classes x 2 domains
    ('before alignment', 4)
    """
    plt = _pyplot("plot_domain_embedding")
    X = check_array(X, input_name="X")
    y = np.asarray(y)
    sample_domain = np.asarray(sample_domain)
    check_consistent_length(X, y, sample_domain)
    if X.shape[1] < 2:
        raise ValueError(f"X needs at least 2 features to draw, got {X.shape[1]}.")
    if X.shape[1] > 2:
        X = PCA(2, random_state=random_state).fit_transform(X)
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4))
    unknown = _unknown_classes(y)
    classes = np.unique(y[~unknown])
    colours = plt.get_cmap("tab10" if len(classes) <= 10 else "viridis", max(len(classes), 1))
    for domain, rows in (("source", sample_domain >= 0), ("target", sample_domain < 0)):
        groups = [(rows & ~unknown & (y == cls), colours(k), 0.7) for k, cls in enumerate(classes)]
        for mask, colour, alpha in [*groups, (rows & unknown, "0.6", 0.5)]:
            if mask.any():
                ax.scatter(*X[mask].T, s=14, marker=_MARKERS[domain], color=colour, alpha=alpha, linewidths=0)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker=m, color="0.3", linestyle="", label=d) for d, m in _MARKERS.items()]
    ax.legend(handles=handles, loc="best", fontsize="small", title="domain")
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title)
    return ax


def _unknown_classes(y: np.ndarray) -> np.ndarray:
    if y.dtype.kind == "f":
        return np.isnan(y) | (y == -1)
    if y.dtype.kind in "iu":
        return y == -1
    return y.astype(str) == "-1"


def plot_selection_vs_oracle(
    param_values: Sequence,
    oracle: Sequence[float],
    scores: Mapping[str, Sequence[float]],
    *,
    ax=None,
    xlabel: str | None = None,
    oracle_label: str = "target accuracy (oracle)",
):
    """What each unsupervised scorer picks over a grid, against the oracle's curve.

    The oracle is the target score of every grid point, which needs target labels no one
    has in practice. Each scorer's curve (rescaled to [0, 1], dashed, on the right axis)
    is what model selection sees; its pick, the grid point where it is highest, is marked on
    the oracle's curve and labelled with its regret: the best oracle score minus the oracle
    score of the pick.

    Parameters
    ----------
    param_values : sequence
        The grid points, in the order of the scores; drawn as tick labels.
    oracle : sequence of float
        Target score (e.g. accuracy) of each grid point.
    scores : mapping of str to sequence of float
        Each scorer's value at each grid point, higher is better (e.g. the ``mean_test_score``
        of a ``GridSearchCV`` run with that scorer).
    ax : matplotlib Axes, default=None
        Axes to draw on; None creates a figure.
    xlabel : str, default=None
        Label of the horizontal axis (the parameter's name).
    oracle_label : str, default="target accuracy (oracle)"
        Label of the oracle's curve and of the left axis.

    Returns
    -------
    ax : matplotlib Axes
        The axes of the oracle's curve; the scorers' curves are on its twin.

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    ValueError
        If ``scores`` is empty or a curve's length differs from the number of grid points.

    See Also
    --------
    skltransfer.metrics.PredictionEntropyScorer : One of the unsupervised scorers to compare.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skltransfer.plotting import plot_selection_vs_oracle
    >>> ax = plot_selection_vs_oracle(
    ...     [1, 10, 100], [0.60, 0.72, 0.65], {"entropy": [-0.9, -0.5, -0.2]}, xlabel="C"
    ... )
    >>> [text.get_text() for text in ax.get_legend().get_texts()]
    ['target accuracy (oracle)', 'entropy: picks 100, regret 0.07']
    """
    plt = _pyplot("plot_selection_vs_oracle")
    oracle = np.asarray(oracle, dtype=float)
    if not scores:
        raise ValueError("scores is empty: give at least one scorer's values over the grid.")
    curves = {"param_values": param_values, **{f"scores[{k!r}]": v for k, v in scores.items()}}
    for name, values in curves.items():
        if len(values) != len(oracle):
            raise ValueError(f"{name} has {len(values)} values but oracle has {len(oracle)} grid points.")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    positions = np.arange(len(oracle))
    ax.plot(positions, oracle, "-", color="black", marker=".", label=oracle_label, zorder=3)
    twin = ax.twinx()
    colours = plt.get_cmap("tab10")
    for k, (name, values) in enumerate(scores.items()):
        values = np.asarray(values, dtype=float)
        span = np.ptp(values)
        rescaled = (values - values.min()) / span if span > 0 else np.zeros_like(values)
        twin.plot(positions, rescaled, "--", color=colours(k), alpha=0.6)
        pick = int(np.argmax(values))
        ax.plot(
            positions[pick],
            oracle[pick],
            "o",
            markersize=15 - 2 * (k % 6),  # concentric circles where scorers agree
            markerfacecolor="none",
            markeredgewidth=2,
            color=colours(k),
            label=f"{name}: picks {param_values[pick]}, regret {oracle.max() - oracle[pick]:.2f}",
            zorder=4,
        )
    ax.set_xticks(positions, [str(value) for value in param_values])
    ax.set_ylabel(oracle_label)
    twin.set_ylabel("scorer, rescaled to [0, 1] (dashed)")
    twin.set_ylim(-0.05, 1.05)
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    ax.set_zorder(twin.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.legend(loc="best", fontsize="small")
    return ax
