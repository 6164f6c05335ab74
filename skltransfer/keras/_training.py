"""The training phases of the fine-tuned estimators: batches, optimizers, schedules, stopping rules.

One phase is one or more ``Model.fit`` calls on the same batches (several when layers are
unfrozen in steps: a change of trainable layers needs a new compile); its history is the
concatenation of theirs. Batches are shuffled in NumPy with the estimator's random state, so
training is reproducible without touching any global seed.

``Model.fit`` reads the batches from a ``tf.data`` pipeline (:meth:`ShuffledBatches.as_dataset`),
as it does for NumPy arrays: one Python call per epoch draws the epoch's rows, and the
batches are gathered from tensors in parallel and prefetched while the compiled training
step runs, so that a step costs what it costs in ``model.fit(x, y)`` of the same network.
"""

from __future__ import annotations

import copy
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
    "make_optimizer",
    "train_phase",
]

#: Optimizers available by name.
OPTIMIZERS = {"adam": "Adam", "adamw": "AdamW", "nadam": "Nadam", "rmsprop": "RMSprop", "sgd": "SGD"}

#: Batches of a ``PyDataset`` that ``Model.fit`` reads at its start to learn their shapes.
SIGNATURE_BATCHES = 2

#: ``jit_compile`` of the training step: Keras' "auto" (XLA on accelerators, not on CPU).
JIT_COMPILE = "auto"


class ShuffledBatches(keras.utils.PyDataset):
    """``(x, y, sample_weight)`` batches in an order drawn anew, in NumPy, every epoch.

    With ``target``, each batch is ``((x, x_target), y, sample_weight)``: as many target
    rows as labeled ones, drawn without replacement until the target rows run out, then
    from a new permutation. Batches then have ``batch_size`` rows each (the rows that do
    not fill a last batch wait for the next epoch's order), so that a domain loss always
    compares full batches.

    Indexing gives the batches of the current epoch one by one (a ``PyDataset``);
    :meth:`as_dataset` gives the same batches, epoch after epoch, as a ``tf.data`` pipeline,
    which is what :func:`train_phase` trains on.
    """

    def __init__(self, x, y, sample_weight, batch_size, rng, target=None):
        super().__init__()
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.batch_size, self.rng, self.target = batch_size, rng, target
        self.order = rng.permutation(len(x))
        if target is not None:
            self.target_order, self.target_next = rng.permutation(len(target)), 0

    def __len__(self):
        if self.target is None:
            return math.ceil(len(self.x) / self.batch_size)
        return max(1, len(self.x) // self.batch_size)

    def __getitem__(self, index):
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        if self.target is None:
            return self.x[rows], self.y[rows], self.sample_weight[rows]
        return (
            (self.x[rows], self.target[self._target_rows(len(rows))]),
            self.y[rows],
            self.sample_weight[rows],
        )

    def _target_rows(self, count):
        picked = []
        while count > 0:
            if self.target_next == len(self.target_order):
                self.target_order, self.target_next = self.rng.permutation(len(self.target)), 0
            chunk = self.target_order[self.target_next : self.target_next + count]
            picked.append(chunk)
            self.target_next += len(chunk)
            count -= len(chunk)
        return np.concatenate(picked)

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.x))

    def begin_fit(self):
        """Draw what ``Model.fit`` on this ``PyDataset`` draws at its start.

        Keras reads the first ``SIGNATURE_BATCHES`` batches of a ``PyDataset`` at the start of
        every ``fit`` to learn their shapes (which draws their target rows), then ends an
        epoch (a new order). :func:`train_phase` calls this before every ``fit`` on
        :meth:`as_dataset`, so that a random state gives the same batches, and the same
        weights, whichever way they are read.
        """
        if self.target is not None:
            for index in range(min(SIGNATURE_BATCHES, len(self))):
                self._target_rows(len(self.order[index * self.batch_size : (index + 1) * self.batch_size]))
        self.on_epoch_end()

    def epoch_rows(self):
        """The rows of the next epoch's batches, and the epoch ended (the next order drawn).

        Returns ``(rows, target_rows)``: the labeled rows of every batch in order, and the
        target rows paired with them (None without ``target``); the draws of the random
        state are those of indexing every batch in turn, then :meth:`on_epoch_end`.
        """
        rows = self.order[: len(self) * self.batch_size]
        target_rows = None if self.target is None else self._target_rows(len(rows))
        self.on_epoch_end()
        return rows, target_rows

    def as_dataset(self):
        """The batches of every epoch, rows drawn by :meth:`epoch_rows`, as a ``tf.data.Dataset``.

        Every iteration over the dataset (``Model.fit`` starts one per epoch) is one epoch:
        one Python call draws its rows, then the batches are gathered from tensors holding
        the arrays, in parallel, and prefetched. The tensors are a copy of the arrays, as in
        ``Model.fit`` of NumPy arrays.
        """
        import tensorflow as tf

        n_batches, size = len(self), self.batch_size
        full, partial = divmod(min(len(self.x), n_batches * size), size)
        has_target = self.target is not None

        def epochs():
            rows, target_rows = self.epoch_rows()
            rows = rows.astype(np.int64)
            target_rows = rows if target_rows is None else target_rows.astype(np.int64)
            cut = full * size
            yield (
                rows[:cut].reshape(full, size),
                target_rows[:cut].reshape(full, size),
                rows[cut:],
                target_rows[cut:],
            )

        def batches(rows, target_rows, rest, target_rest):
            batched = tf.data.Dataset.from_tensor_slices((rows, target_rows))
            if partial:  # the last batch, smaller
                batched = batched.concatenate(tf.data.Dataset.from_tensors((rest, target_rest)))
            return batched

        arrays = (self.x, self.y, self.sample_weight) + ((self.target,) if has_target else ())
        # the arrays are an element of their own dataset, not constants of the gathering
        # function: nothing copies them when an epoch's iterator starts (as in Keras' own
        # pipeline of NumPy arrays)
        arrays = tf.data.Dataset.from_tensors(tuple(tf.convert_to_tensor(a) for a in arrays)).repeat()

        def gather(indices, arrays):
            (rows, target_rows), (x, y, sample_weight, *target) = indices, arrays
            labeled = tf.gather(x, rows)
            inputs = (labeled, tf.gather(target[0], target_rows)) if has_target else labeled
            return inputs, tf.gather(y, rows), tf.gather(sample_weight, rows)

        full_batches, last_batch = tf.TensorSpec((None, size), tf.int64), tf.TensorSpec((None,), tf.int64)
        indices = tf.data.Dataset.from_generator(
            epochs, output_signature=(full_batches, full_batches, last_batch, last_batch)
        ).flat_map(batches)
        dataset = tf.data.Dataset.zip((indices, arrays)).map(
            gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        )
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(n_batches))
        options = tf.data.Options()
        # no rewriting of the pipeline's graph at every epoch's iterator (which serializes it)
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
    batches : ShuffledBatches or keras.utils.PyDataset
        A :class:`ShuffledBatches` trains from its :meth:`~ShuffledBatches.as_dataset`.
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
    data = batches.as_dataset() if isinstance(batches, ShuffledBatches) else batches
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
        step_callbacks = [_schedule_callback(lr_schedule, learning_rate, epochs, monitor), stopper]
        step_callbacks += [copy.deepcopy(cb) for cb in callbacks] + list(own_callbacks)
        if data is not batches:
            batches.begin_fit()
        fitted = model.fit(
            data,
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
