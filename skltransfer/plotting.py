"""Plots of fitted estimators (needs matplotlib, an optional dependency)."""

from __future__ import annotations

__all__ = ["plot_history"]

_PHASES = {"head": "head (frozen base)", "fine_tune": "fine-tuning"}


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError(
            "plot_history needs matplotlib, which could not be imported. "
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
    plt = _pyplot()
    history = getattr(estimator, "history_", None)
    if history is None:
        raise ValueError(f"{type(estimator).__name__} has no history_: fit it first.")
    drawn = [m for m in metrics if any(m in phase for phase in history.values())]
    if not drawn:
        raise ValueError(f"None of the metrics {list(metrics)} was recorded; recorded: {_recorded(history)}.")
    if axes is None:
        _, axes = plt.subplots(1, len(drawn), figsize=(4.5 * len(drawn), 3.5), squeeze=False)
        axes = axes[0]
    axes = list(axes)
    if len(axes) != len(drawn):
        raise ValueError(f"Got {len(axes)} axes for {len(drawn)} metrics ({drawn}).")
    for ax, metric in zip(axes, drawn, strict=True):
        start = 0
        for phase, values in history.items():
            n = max((len(v) for v in values.values()), default=0)
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
        ax.legend()
    return axes


def _recorded(history) -> list[str]:
    return sorted({m for phase in history.values() for m in phase})
