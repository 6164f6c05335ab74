"""The training phases of the fine-tuned estimators: batches, optimizers, schedules, stopping rules.

One phase is one or more ``Model.fit`` calls on the same batches (several when layers are
unfrozen in steps: a change of trainable layers needs a new compile); its history is the
concatenation of theirs. Batches are shuffled in NumPy with the estimator's random state, so
training is reproducible without touching any global seed.

``Model.fit`` reads the batches from a ``tf.data`` pipeline (:meth:`ShuffledBatches.as_dataset`),
as it does for NumPy arrays: one Python call per epoch draws the epoch's rows, and the
batches are gathered from tensors in parallel and prefetched while the compiled training
step runs, so that a step costs what it costs in ``model.fit(x, y)`` of the same network.
An epoch's rows are a function of its number, so one iterator serves every epoch of a
``fit`` (a new ``tf.data`` iterator costs about 10 ms, more than a small network's step).
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable, Sequence

import keras
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ..utils._warnings import warn_at_caller

__all__ = [
    "OPTIMIZERS",
    "PhaseEarlyStopping",
    "PlateauStopping",
    "ShuffledBatches",
    "auto_epochs",
    "auto_patience",
    "build_training_variables",
    "make_optimizer",
    "train_phase",
]

#: Optimizers available by name.
OPTIMIZERS = {"adam": "Adam", "adamw": "AdamW", "nadam": "Nadam", "rmsprop": "RMSprop", "sgd": "SGD"}

#: ``jit_compile`` of the training step: Keras' "auto" (XLA on accelerators, not on CPU).
JIT_COMPILE = "auto"


class ShuffledBatches:
    """``(x, y, sample_weight)`` batches in an order drawn anew every epoch, from the epoch's number.

    Epoch ``e`` takes the rows in the order of a permutation drawn by a NumPy generator seeded
    with ``(seed, e)``, ``seed`` being drawn once from ``rng``. With ``target``, each batch is
    ``((x, x_target), y, sample_weight)``: as many target rows as labeled ones, taken in turn
    from a stream of permutations of the target rows (every row once before any row twice),
    and batches have ``batch_size`` rows each (the rows that do not fill a last batch sit
    the epoch out), so that a domain loss always compares full batches.

    An epoch's rows depend only on its number (:meth:`epoch_rows`), so :meth:`as_dataset`
    runs over every epoch with one iterator and prefetches across epochs without changing
    which rows a fit sees.

    Parameters
    ----------
    x, y, sample_weight : ndarray
        The labeled rows.
    batch_size : int
    rng : numpy.random.RandomState
        Draws ``seed``.
    target : ndarray or None, default=None
        The unlabeled target rows paired with the labeled ones.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.keras._training import ShuffledBatches
    >>> batches = ShuffledBatches(np.arange(5.0), np.arange(5), np.ones(5), 2, np.random.RandomState(0))
    >>> len(batches)  # batches per epoch, the last one of a single row
    3
    >>> rows, _ = batches.epoch_rows(3)
    >>> sorted(rows.tolist())  # every row once per epoch
    [0, 1, 2, 3, 4]
    >>> bool((batches.epoch_rows(3)[0] == rows).all())  # the epoch's number gives its rows
    True
    """

    def __init__(self, x, y, sample_weight, batch_size, rng, target=None):
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.batch_size, self.target = batch_size, target
        self.seed = int(rng.randint(np.iinfo(np.int32).max))

    def __len__(self):
        """Batches per epoch."""
        if self.target is None:
            return math.ceil(len(self.x) / self.batch_size)
        return max(1, len(self.x) // self.batch_size)

    def _rows_per_epoch(self) -> int:
        return min(len(self.x), len(self) * self.batch_size)

    @functools.cached_property
    def _tensors(self) -> tuple:
        """The arrays as tensors, copied once for every ``fit`` of a phase."""
        import tensorflow as tf

        arrays = (self.x, self.y, self.sample_weight) + (() if self.target is None else (self.target,))
        return tuple(tf.convert_to_tensor(a) for a in arrays)

    def first_rows(self, count: int = 2) -> tuple:
        """``(inputs, y, sample_weight)`` of the first ``count`` rows, shaped like a batch."""
        x, y, sample_weight = self.x[:count], self.y[:count], self.sample_weight[:count]
        if self.target is None:
            return x, y, sample_weight
        return (x, self.target[: len(x)]), y, sample_weight

    def epoch_rows(self, epoch: int):
        """The labeled rows of epoch ``epoch``'s batches in order, and the target rows paired with them.

        Returns ``(rows, target_rows)``, ``target_rows`` None without ``target``.
        """
        count = self._rows_per_epoch()
        rows = np.random.default_rng([self.seed, 0, epoch]).permutation(len(self.x))[:count]
        if self.target is None:
            return rows, None
        n_target, start = len(self.target), epoch * count
        first, last = start // n_target, (start + count - 1) // n_target
        stream = np.concatenate(
            [np.random.default_rng([self.seed, 1, j]).permutation(n_target) for j in range(first, last + 1)]
        )
        offset = start - first * n_target
        return rows, stream[offset : offset + count]

    def as_dataset(self, start_epoch: int = 0):
        """The batches of every epoch from ``start_epoch`` on, as one endless ``tf.data.Dataset``.

        ``Model.fit`` reads it with ``steps_per_epoch=len(self)``, so that one iterator serves
        every epoch of the fit. Each epoch's rows are drawn by one Python call
        (:meth:`epoch_rows`), then its batches are gathered from tensors holding the arrays,
        in parallel, and prefetched, across epochs too. The tensors are a copy of the arrays,
        as in ``Model.fit`` of NumPy arrays.
        """
        import tensorflow as tf

        size, count = self.batch_size, self._rows_per_epoch()
        has_target = self.target is not None

        def draw(epoch):
            rows, target_rows = self.epoch_rows(int(epoch))
            return rows.astype(np.int64), (rows if target_rows is None else target_rows).astype(np.int64)

        def epoch_indices(epoch):
            rows, target_rows = tf.numpy_function(draw, [epoch], (tf.int64, tf.int64), stateful=False)
            rows.set_shape((count,))
            target_rows.set_shape((count,))
            return tf.data.Dataset.from_tensor_slices((rows, target_rows)).batch(size)

        # the arrays are an element of their own dataset, not constants of the gathering
        # function: nothing copies them when the iterator starts (as in Keras' own pipeline
        # of NumPy arrays)
        arrays = tf.data.Dataset.from_tensors(self._tensors).repeat()

        def gather(indices, arrays):
            (rows, target_rows), (x, y, sample_weight, *target) = indices, arrays
            labeled = tf.gather(x, rows)
            inputs = (labeled, tf.gather(target[0], target_rows)) if has_target else labeled
            return inputs, tf.gather(y, rows), tf.gather(sample_weight, rows)

        indices = tf.data.Dataset.counter(start_epoch).flat_map(epoch_indices)
        dataset = tf.data.Dataset.zip((indices, arrays)).map(
            gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        )
        options = tf.data.Options()
        options.experimental_optimization.apply_default_optimizations = False
        dataset = dataset.with_options(options)
        return dataset.prefetch(tf.data.AUTOTUNE)


class PhaseEarlyStopping(keras.callbacks.EarlyStopping):
    """Keras' early stopping kept across the ``fit`` calls of one phase.

    It monitors the validation loss. State is reset only at the first ``fit`` of the
    phase, and the best weights are restored by :meth:`restore` when the whole phase ends
    (stopped early or not).
    """

    def __init__(self, patience):
        super().__init__(monitor="val_loss", patience=patience, restore_best_weights=True)
        self._begun = False

    def on_train_begin(self, logs=None):
        if not self._begun:
            super().on_train_begin(logs)
            self._begun = True

    def on_train_end(self, logs=None):
        pass

    def restore(self):
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


class PlateauStopping(keras.callbacks.Callback):
    """Stop when the mean of the monitored loss over the last ``patience`` epochs is no
    lower, by a relative ``tolerance``, than its mean over the ``patience`` epochs before.

    Window means rather than the best single epoch: on a few hundred rows an epoch's
    loss is a mean over a few batches and jumps from epoch to epoch, and a lucky epoch
    would otherwise stop the phase early. State spans the ``fit`` calls of one phase.
    """

    def __init__(self, monitor, patience, tolerance):
        super().__init__()
        self.monitor, self.patience, self.tolerance = monitor, patience, tolerance
        self.values, self.stopped_epoch = [], 0

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        self.values.append(float(value))
        if len(self.values) < 2 * self.patience:
            return
        recent = np.mean(self.values[-self.patience :])
        before = np.mean(self.values[-2 * self.patience : -self.patience])
        if recent > before - self.tolerance * abs(before):
            self.stopped_epoch = epoch + 1
            self.model.stop_training = True

    def restore(self):
        pass


def build_training_variables(model, batches: ShuffledBatches) -> None:
    """Create a compiled model's optimizer and metric variables before ``fit`` traces its step.

    Keras (TensorFlow backend, no distribution strategy) creates them while tracing the first
    training step; ``tf.function`` then traces the step a second time, without creating
    variables, which doubles the tracing time of every ``fit`` (most of a small network's
    fit). Built here, eagerly (one forward pass of two rows in inference mode, the metrics
    reset after), the step is traced once. Training is unchanged: the optimizer's variables
    start at the same values, and the metrics count from zero.
    """
    model.optimizer.build(model.trainable_variables)
    x, y, sample_weight = batches.first_rows()
    model.compute_metrics(x, y, model(x, training=False), sample_weight)
    model.reset_metrics()


def make_optimizer(optimizer, learning_rate: float):
    """A fresh Keras optimizer: by name, or rebuilt from an optimizer object's config."""
    if isinstance(optimizer, str):
        return getattr(keras.optimizers, OPTIMIZERS[optimizer])(learning_rate=learning_rate)
    config = optimizer.get_config()
    config["learning_rate"] = learning_rate
    return type(optimizer).from_config(config)


def _schedule_callback(lr_schedule, learning_rate: float, epochs: int, monitor: str):
    if lr_schedule == "constant":
        return None
    if lr_schedule == "plateau":
        return keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=0.5, patience=2)
    if lr_schedule == "cosine":

        def schedule(epoch, lr):
            return learning_rate * 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))

    elif lr_schedule == "exponential":

        def schedule(epoch, lr):
            return learning_rate * 0.01 ** (epoch / epochs)

    else:
        schedule = lr_schedule
    return keras.callbacks.LearningRateScheduler(schedule)


#: Smallest relative improvement, from one window of ``patience`` epochs to the next, of the
#: mean monitored loss that keeps an "auto" phase going.
PLATEAU_TOLERANCE = 1e-3


def train_phase(
    model,
    batches,
    validation,
    *,
    steps: Sequence[tuple[int, Callable[[], None]]],
    optimizer,
    learning_rate: float,
    lr_schedule,
    early_stopping: bool,
    patience: int,
    callbacks: Sequence,
    verbose: int,
    own_callbacks: Sequence = (),
    budget: str | None = None,
    loss: str = "sparse_categorical_crossentropy",
    metrics: Sequence[str] = ("accuracy",),
    owner: str,
) -> dict:
    """Train ``model`` for one phase and return its history.

    Parameters
    ----------
    model : keras.Model
    batches : ShuffledBatches
        Read through :meth:`~ShuffledBatches.as_dataset`.
    validation : tuple (x, y) or None
        Monitored by early stopping, the plateau stop and the plateau schedule.
    steps : sequence of (end_epoch, prepare)
        ``prepare()`` sets the trainable layers before the model is compiled and trained
        up to ``end_epoch`` (exclusive, counted from the start of the phase).
    optimizer : str or keras optimizer
    learning_rate : float
        Initial learning rate of the phase.
    lr_schedule : {"constant", "cosine", "exponential", "plateau"} or callable
        Per-epoch schedule over the phase (``cosine`` decays to 0 and ``exponential`` to 1%
        of ``learning_rate`` at the end of the phase; ``plateau`` halves it after 2 epochs
        without improvement); a callable is ``schedule(epoch, lr) -> lr``.
    early_stopping : bool
        Stop when the validation loss has not improved for ``patience`` epochs and restore
        the best weights (requires ``validation``).
    patience : int
    callbacks : sequence of keras.callbacks.Callback
        Copied before use, so the estimator's parameters are never bound to a model.
    verbose : int
        Keras' progress bars.
    own_callbacks : sequence of keras.callbacks.Callback, default=()
        The estimator's own callbacks (e.g. the domain loss's warm-up), used as they are:
        they keep their state from one phase to the next.
    budget : str or None, default=None
        The estimator parameter whose ``"auto"`` value set the epochs: the phase then also
        stops on a plateau of the monitored loss (its mean over the last ``patience``
        epochs no lower, by ``PLATEAU_TOLERANCE`` relative, than over the ``patience``
        epochs before), and a ``ConvergenceWarning`` naming that parameter says
        when the epochs ran out before a plateau. None: the epochs are the user's and run
        to their end (or to early stopping).
    loss : str, default="sparse_categorical_crossentropy"
    metrics : sequence of str, default=("accuracy",)
    owner : str
        The estimator whose parameter ``budget`` is, named in the warning.

    Returns
    -------
    history : dict
        Metric name -> per-epoch values, ``"steps"``: optimizer steps at the end of each
        epoch (cumulative over the phase), and ``"stop_reason"``: ``"epochs"`` (all ran),
        ``"plateau"``, ``"early_stopping"`` or ``"budget"`` (an ``"auto"`` budget ran out
        before a plateau).
    """
    epochs = steps[-1][0]
    monitor = "val_loss" if validation is not None else "loss"
    stopper = None
    if early_stopping and validation is not None:
        stopper = PhaseEarlyStopping(patience)
    elif budget is not None:
        stopper = PlateauStopping(monitor, patience, PLATEAU_TOLERANCE)
    history: dict = {}
    start = 0
    for end, prepare in steps:
        if end <= start:
            continue
        prepare()
        model.compile(
            optimizer=make_optimizer(optimizer, learning_rate),
            loss=loss,
            metrics=list(metrics),
            jit_compile=JIT_COMPILE,
        )
        build_training_variables(model, batches)
        step_callbacks = [_schedule_callback(lr_schedule, learning_rate, epochs, monitor), stopper]
        step_callbacks += [copy.deepcopy(cb) for cb in callbacks] + list(own_callbacks)
        fitted = model.fit(
            batches.as_dataset(start),
            steps_per_epoch=len(batches),
            validation_data=validation,
            epochs=end,
            initial_epoch=start,
            shuffle=False,  # the batches are already shuffled; Keras would use Python's global random
            callbacks=[cb for cb in step_callbacks if cb is not None],
            verbose=verbose,
        )
        for key, values in fitted.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
        start = end
        if stopper is not None and stopper.stopped_epoch > 0:
            break
    ran = len(history.get("loss", []))
    history["steps"] = [len(batches) * (i + 1) for i in range(ran)]
    if stopper is not None:
        stopper.restore()
    if stopper is not None and stopper.stopped_epoch > 0:
        history["stop_reason"] = "early_stopping" if early_stopping else "plateau"
    elif budget is not None:
        history["stop_reason"] = "budget"
        last = history.get(monitor, [])
        warn_at_caller(
            f"{owner}: the {budget}='auto' budget of {ran} epochs ({history['steps'][-1] if ran else 0} "
            f"optimizer steps) ran out before the {monitor} reached a plateau "
            f"(last values: {', '.join(f'{v:.4g}' for v in last[-3:])}). Set {budget} to a larger "
            "number of epochs, or a larger learning rate.",
            ConvergenceWarning,
        )
    else:
        history["stop_reason"] = "epochs"
    return history


def auto_epochs(n_rows: int, batch_size: int, target_steps: int, max_epochs: int) -> int:
    """Epochs for about ``target_steps`` optimizer steps: ``ceil(target_steps / batches per epoch)``.

    At least one epoch and at most ``max_epochs``: small data sets get many epochs, large
    ones one, and the phase's cost stays bounded by about ``target_steps`` steps (or one
    epoch) whatever the number of rows.

    Examples
    --------
    >>> from skltransfer.keras._training import auto_epochs
    >>> auto_epochs(100, 32, target_steps=300, max_epochs=200), auto_epochs(100_000, 32, 300, 200)
    (75, 1)
    """
    per_epoch = max(1, math.ceil(n_rows / batch_size))
    return int(min(max_epochs, max(1, math.ceil(target_steps / per_epoch))))


def auto_patience(n_rows: int, batch_size: int, patience_steps: int) -> int:
    """Epochs without improvement before a plateau stop: about ``patience_steps`` steps, at least 3."""
    per_epoch = max(1, math.ceil(n_rows / batch_size))
    return max(3, math.ceil(patience_steps / per_epoch))
