"""The fine-tuning recipe of :class:`FineTunedCNNClassifier` and :class:`FineTunedCNNRegressor`.

``fit`` is a sequence of small steps, each a method that sets one attribute of the fit's
:class:`_Fitting` (as skorch's ``initialize_*`` set one attribute each):

1. :meth:`~FineTunedCNN._initialize_rows` sets ``rows``: images, labeled and target rows,
   encoded targets (by the estimator's :class:`~skltransfer.keras._tasks.Task`), the
   validation split, sample weights;
2. :meth:`~FineTunedCNN._initialize_budget` sets ``budget``: whether phase 1 is an exact
   solve, the epochs of each phase, whether phase 1 runs through the network;
3. :meth:`~FineTunedCNN._initialize_network` sets ``network``: the frozen features
   (:class:`~skltransfer.keras._features.FrozenFeatures`) and the augmented path of
   training, unless ``memory`` holds every feature and nothing trains the backbone;
4. :meth:`~FineTunedCNN._initialize_images` sets ``x``: the images as one array;
5. :meth:`~FineTunedCNN._initialize_features` sets ``features``: the frozen backbone's
   pooled features of every row, computed once or read from ``memory``;
6. :meth:`~FineTunedCNN._initialize_head` sets ``head`` (and ``head_``, ``model_``);
7. :meth:`~FineTunedCNN._initialize_training` sets ``training``: the keyword arguments of
   every phase, the batch order, the domain-loss layer and its warm-up callback;

then :meth:`~FineTunedCNN._train_head` (phase 1: exact solve or stochastic steps),
:meth:`~FineTunedCNN._fine_tune` (phase 2, progressive unfreezing, never worse than phase 1
on the monitored loss) and :meth:`~FineTunedCNN._finish` (the collapse check of a domain
loss).

What stays outside Keras' callbacks, and why: the validation split chooses the rows that
standardise the features and that the exact solve sees, before any training loop;
progressive unfreezing changes the trainable variables, which Keras reads when it traces
the training step, so each unfreezing step is a new ``compile``/``fit`` of the same phase
(:func:`~skltransfer.keras._training.train_phase`); the collapse check reads the whole
training's metric, including that of an exact phase 1, which runs no training loop.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, ClassVar, NamedTuple

import keras
import numpy as np
from sklearn.base import clone, is_regressor
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state, column_or_1d

from .._domains import score_labeled_rows
from ..utils._guard import TransferGuardMixin
from ..utils._sklearn_compat import HasMethods, Interval, RealNotInt, StrOptions, check_is_fitted
from ..utils._tags import DomainTags
from ..utils._warnings import warn_at_caller
from ._backbone import known_input_shape
from ._base import KerasImageEstimator
from ._export import export_model
from ._features import FrozenFeatures, build_frozen_features
from ._heads import (
    STRONG_AUGMENTATIONS,
    adaptation_model,
    augmentation_layers,
    build_head,
    set_unfrozen,
    unfrozen_count,
)
from ._inference import call_in_chunks, fold_batch_normalization
from ._layers import InferenceMode
from ._layerwise import adapt_batch_statistics
from ._mlp_head import solve_hidden_head
from ._runtime import derive_seed, scoped_seed
from ._tasks import Task, float_targets
from ._training import OPTIMIZERS, ShuffledBatches, auto_epochs, auto_patience, train_phase
from .images import Images, check_channels, check_fitted_shape
from .losses import (
    AUTO_TARGET_WEIGHTS,
    AUTO_WEIGHTS,
    DOMAIN_LOSSES,
    WARMUP_SCHEDULES,
    DomainLossWarmup,
    domain_loss_layer,
    target_loss_layer,
)

__all__ = ["FineTunedCNN"]

# The "auto" training budgets: optimizer steps per phase, converted to epochs by
# auto_epochs (at least one epoch, at most the cap), and the plateau stop's patience.
HEAD_STEPS, MAX_HEAD_EPOCHS = 500, 200
FINE_TUNE_STEPS, MAX_FINE_TUNE_EPOCHS = 300, 100
#: Phase 2's "auto" budget when the unlabeled target rows take part (a domain or target loss):
#: the target objective keeps moving the network after the source loss has settled.
ADAPT_FINE_TUNE_STEPS = 1000
PLATEAU_STEPS = 50

#: The target collapse check: at least this many target rows, the most predicted class taking
#: at least this share of them (see FineTunedCNN._warn_if_target_collapsed).
MIN_COLLAPSE_ROWS, TARGET_COLLAPSE_SHARE = 10, 0.9

#: The strong view of self-training on cached features (phase 1 without augmentation):
#: dropout of the pooled features at this rate (on images, ``STRONG_AUGMENTATIONS``).
STRONG_FEATURE_DROPOUT = 0.5


class _Rows(NamedTuple):
    """The rows of one fit (step 1)."""

    images: Images
    labeled: np.ndarray  # rows with a target
    target: np.ndarray | None  # unlabeled target rows of a domain loss
    targets: np.ndarray  # encoded targets of the labeled rows
    train: np.ndarray  # positions in ``labeled``
    val: np.ndarray | None
    sample_weight: np.ndarray


class _Budget(NamedTuple):
    """How each phase trains (step 2)."""

    exact: bool  # phase 1 solved exactly
    head_epochs: int
    fine_tune_epochs: int
    through_network: bool  # phase 1 trains through the backbone (augmentation, no cache)


class _Network(NamedTuple):
    """The layers of ``model_`` before the head (step 3)."""

    frozen: FrozenFeatures
    features: Callable  # images -> augmented, pooled features in inference mode (for training)
    strong_features: Callable  # the same with strong augmentation (self-training's second view)


class _Training(NamedTuple):
    """What every phase shares (step 7)."""

    phase: dict  # keyword arguments of train_phase
    shuffle_rng: np.random.RandomState  # the batch order
    domain_layer: Any  # DomainLoss or None
    target_layer: Any  # TargetLoss or None

    @property
    def adapts(self) -> bool:
        """Whether the unlabeled target rows take part (a domain or a target loss)."""
        return self.domain_layer is not None or self.target_layer is not None


@dataclass
class _Fitting:
    """What one ``fit`` builds, one attribute per step (never stored on the estimator)."""

    rng: np.random.RandomState
    seed: int  # initial weights, dropout, augmentation
    rows: _Rows | None = None
    budget: _Budget | None = None
    network: _Network | None = None
    x: np.ndarray | None = None  # the images as one array of image_shape_
    features: np.ndarray | None = None  # pooled frozen features of every row
    head: Any = None
    training: _Training | None = None


class FineTunedCNN(TransferGuardMixin, KerasImageEstimator, ABC):
    """The transfer-learning recipe: a new head on a pretrained backbone, trained in two phases.

    Not public: :class:`FineTunedCNNClassifier` and :class:`FineTunedCNNRegressor` give it
    their :class:`~skltransfer.keras._tasks.Task` (see the module's docstring for the steps).

    The guard (``guard``, :class:`~skltransfer.utils._guard.TransferGuardMixin`): with labeled
    target rows (``sample_domain < 0`` and a label), the fit as configured (the transfer fit)
    is compared with the same estimator without its target objectives
    (``domain_loss=None, target_loss=None, bn_statistics="source"``: a plain fine-tuning)
    fitted on the source rows, on the labeled target rows and on both, by cross-validation
    over at most ``_guard_n_splits`` folds of the labeled target rows. Each fold's transfer
    fit gets every unlabeled target row and the fold's held-out labeled rows as unlabeled
    target rows.
    """

    #: The guard's most folds: each costs a fine-tuning of every candidate.
    _guard_n_splits = 3
    _min_labeled_target = 1

    _parameter_constraints: ClassVar[dict] = {
        **KerasImageEstimator._parameter_constraints,
        "hidden_units": [Interval(Integral, 0, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "l1": [Interval(Real, 0, None, closed="left")],
        "l2": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "epochs": [Interval(Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "fine_tune_epochs": [Interval(Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "fine_tune_learning_rate": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "unfreeze": [
            Interval(Integral, 0, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="right"),
            str,
        ],
        "unfreeze_steps": [Interval(Integral, 1, None, closed="left")],
        "augmentation": [list, tuple, str, None],
        "optimizer": [StrOptions(set(OPTIMIZERS)), HasMethods(["get_config", "apply_gradients"])],
        "lr_schedule": [StrOptions({"constant", "cosine", "exponential", "plateau"}), callable],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "patience": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "callbacks": [list, None],
        "cache_features": ["boolean"],
        "domain_loss": [StrOptions(set(DOMAIN_LOSSES)), None],
        "domain_loss_weight": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "domain_warmup": [StrOptions(set(WARMUP_SCHEDULES))],
        "bn_statistics": [StrOptions({"source", "target"})],
        "discriminator_units": [tuple, list],
        "guard": ["boolean"],
    }
    _keras_models = ("_model", "head_")
    # scikit-learn checks this estimator cannot pass, with the reason (see tests/keras).
    _expected_failed_checks: ClassVar[dict] = {}

    #: The loss on the target rows' class probabilities: a parameter of the classifier only.
    target_loss = None
    #: What ``target_loss="auto"`` becomes in a fit with target rows.
    AUTO_TARGET_LOSS: ClassVar[str | None] = None

    @abstractmethod
    def _make_task(self) -> Task:
        """The task of this estimator, made at ``fit`` from its parameters."""

    # ------------------------------------------------------------------ fit

    def _fit_with_guard(self, X, y, sample_domain):
        """The fit as configured and, with labeled target rows and ``guard``, the guard."""
        self._guard_input = (X, y, sample_domain)
        try:
            guarded = self._guard_rows(X, y, sample_domain)
            if guarded is None:  # nothing to compare: the transfer fit alone
                self._fit_guarded(None, None, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool))
            else:
                self._fit_guarded(*guarded[:4], unlabeled=guarded[4])
        finally:
            self.__dict__.pop("_guard_input", None)
        return self

    def _guard_rows(self, X, y, sample_domain):
        """``(X, y, rows, target, unlabeled)`` as the guard indexes them, or None when it
        compares nothing: ``guard=False``, no ``sample_domain`` (no labeled target row), or
        several outputs."""
        if not self.guard or sample_domain is None or not np.any(np.asarray(sample_domain) < 0):
            return None  # no target row: the fit itself says what is wrong, if anything
        task = self._make_task()
        if task.regression:
            y = float_targets(y, self._name)
            if y.ndim != 1:
                return None
        else:
            y = column_or_1d(y, warn=True)
        if isinstance(X, (list, tuple)):  # paths (or nested lists of pixels): one entry a row
            X = np.asarray(X, dtype=object if isinstance(X[0], (str, bytes, os.PathLike)) else None)
        else:
            X = np.asarray(X)
        domains = task.domains(y, sample_domain, len(y))
        rows = np.flatnonzero(domains.labeled)
        unlabeled = np.flatnonzero(domains.target & ~domains.labeled)
        return X, y, rows, domains.target[rows], unlabeled

    def _fit_transfer(self, X, y, rows, target) -> None:
        # the fit as given to ``fit``: every row, the unlabeled target rows included
        self._fit(*self._guard_input)

    def _guard_baseline(self):
        plain = {"domain_loss": None, "target_loss": None, "bn_statistics": "source", "guard": False}
        names = self.get_params(deep=False)
        return clone(self).set_params(**{name: value for name, value in plain.items() if name in names})

    def _baseline_outputs(self, X):
        """``model_``'s outputs computed by the guard's plain fit, or None when the transfer fit predicts."""
        baseline = self.__dict__.get("baseline_estimator_")
        if baseline is None:
            return None
        if self._task.regression:
            return baseline.predict(X)
        proba = baseline.predict_proba(X)
        outputs = np.zeros((proba.shape[0], len(self.classes_)), dtype=proba.dtype)
        outputs[:, np.searchsorted(self.classes_, baseline.classes_)] = proba
        return outputs

    def _fit(self, X, y, sample_domain):
        """The recipe: every step below, in order."""
        rng = check_random_state(self.random_state)
        self._seed = derive_seed(rng)  # the backbone's random initialisation (weights=None)
        fitting = _Fitting(rng=rng, seed=derive_seed(rng))
        self._network_seed = fitting.seed
        self._reset_runtime()
        self._model = None
        self._initialize_rows(fitting, X, y, sample_domain)
        self._initialize_budget(fitting)
        self._initialize_network(fitting)
        self._initialize_images(fitting)
        self._initialize_features(fitting)
        self._initialize_head(fitting)
        self._initialize_training(fitting)
        self.history_ = {"head": self._train_head(fitting), "fine_tune": self._fine_tune(fitting)}
        self._adapt_batch_statistics(fitting)
        self._finish(fitting)
        return self

    def _initialize_rows(self, fitting: _Fitting, X, y, sample_domain) -> None:
        """``rows``: images, labeled and target rows, encoded targets, validation split, weights."""
        images = self._images(X, reset=True)
        self._task = self._make_task()
        labeled, target = self._labeled_and_target(y, sample_domain, len(images))
        targets = self._task.encode(y, labeled)
        train, val = self._split(targets, fitting.rng)
        fitting.rows = _Rows(images, labeled, target, targets, train, val, self._task.sample_weight(targets))

    def _initialize_budget(self, fitting: _Fitting) -> None:
        """``budget``: how each phase trains, which decides whether the backbone must be built at all."""
        n_train = len(fitting.rows.train)
        adapts = self.domain_loss is not None or self.target_loss_ is not None
        # a linear head is always solved exactly; a hidden one when its objective is smooth
        # (no L1) and the head's loss alone (no domain or target loss) trains it
        exact = (
            self.epochs == "auto"
            and not self.augmentation
            and (self.hidden_units == 0 or (self.l1 == 0 and not adapts))
        )
        head_epochs = 0 if exact else self._epochs(self.epochs, n_train, HEAD_STEPS, MAX_HEAD_EPOCHS)
        fine_tune_steps = ADAPT_FINE_TUNE_STEPS if adapts else FINE_TUNE_STEPS
        fine_tune_epochs = self._epochs(self.fine_tune_epochs, n_train, fine_tune_steps, MAX_FINE_TUNE_EPOCHS)
        through_network = head_epochs > 0 and (bool(self.augmentation) or not self.cache_features)
        fitting.budget = _Budget(exact, head_epochs, fine_tune_epochs, through_network)
        # cached features are the source statistics': predictions must run the adapted network
        self._frozen_backbone = fine_tune_epochs == 0 and self.bn_statistics == "source"

    def _initialize_network(self, fitting: _Fitting) -> None:
        """``network``, unless ``memory`` may serve every feature and nothing trains the backbone."""
        shape = fitting.rows.images.shape
        self._record_backbone_identity(self._seed)
        self.input_shape_ = known_input_shape(self.base_model, input_size=self.input_size, sample_shape=shape)
        budget = fitting.budget
        needed = (
            budget.fine_tune_epochs
            or budget.through_network
            or self.bn_statistics == "target"  # model_ keeps the target statistics
            or self._feature_cache() is None
        )
        if needed or self.input_shape_ is None:
            fitting.network = self._build_network(shape, fitting.seed)

    def _initialize_images(self, fitting: _Fitting) -> None:
        """``x``: the training images as one array of ``image_shape_``."""
        self.image_shape_ = fitting.rows.images.shape or self.input_shape_
        check_channels(self.image_shape_[-1], self.input_shape_[-1])
        fitting.x = self._as_array(fitting.rows.images, self.image_shape_)

    def _initialize_features(self, fitting: _Fitting) -> None:
        """``features``: the frozen pooled features of every row, computed once or read from ``memory``."""

        def compute(rows):
            if fitting.network is None:
                fitting.network = self._build_network(fitting.rows.images.shape, fitting.seed)
            return self._compute_frozen(fitting.network.frozen, rows)

        cache = self._feature_cache()
        fitting.features = compute(fitting.x) if cache is None else cache.lookup(fitting.x, compute)

    def _initialize_head(self, fitting: _Fitting) -> None:
        """``head`` (standardised by the training rows' features), also ``head_``, and ``model_``."""
        rows = fitting.rows
        mean, variance = _standardization(fitting.features[rows.labeled[rows.train]])
        if self._trains_features_from_scratch(fitting):
            mean, variance = np.zeros_like(mean), np.ones_like(variance)
        fitting.head = self.head_ = build_head(
            fitting.features.shape[1],
            self._task.n_outputs,
            mean=mean,
            variance=variance,
            hidden_units=self.hidden_units,
            dropout=self.dropout,
            l1=self.l1,
            l2=self._l2(len(rows.train)),
            seed=fitting.seed,
            **self._task.output_layer(),
        )
        if fitting.network is not None:
            self._model = self._assemble(fitting.network.features, fitting.head, fitting.seed)

    def _trains_features_from_scratch(self, fitting: _Fitting) -> bool:
        """Whether the head trains only together with a randomly initialised backbone.

        ``weights=None``, ``epochs=0`` and fine-tuning that unfreezes layers: no phase fits
        the head to fixed features, and the random initial network's statistics (per-feature
        scales spread over orders of magnitude) describe features that the training
        replaces; frozen into the head as gains, they change how the network trains. The
        head's ``Normalization`` is then the identity, as in a network trained end to end.
        """
        return (
            self.weights is None
            and self.epochs == 0
            and fitting.budget.fine_tune_epochs > 0
            and fitting.network is not None
            and unfrozen_count(fitting.network.frozen.backbone, self.unfreeze) > 0
        )

    def _initialize_training(self, fitting: _Fitting) -> None:
        """``training``: patience, batch order, the domain-loss layer and its warm-up."""
        n_train, budget = len(fitting.rows.train), fitting.budget
        patience = (
            auto_patience(n_train, self.batch_size, PLATEAU_STEPS)
            if self.patience == "auto"
            else self.patience
        )
        phase = {
            "optimizer": self.optimizer,
            "lr_schedule": self.lr_schedule,
            "early_stopping": self.early_stopping,
            "patience": patience,
            "callbacks": self.callbacks or [],
            "verbose": self.verbose,
            "own_callbacks": [],
            "loss": self._task.keras_loss,
            "metrics": (self._task.metric,),
            "owner": self._name,
        }
        shuffle_rng = np.random.RandomState(derive_seed(fitting.rng))
        domain_layer = target_layer = None
        if fitting.rows.target is not None:
            if self.domain_loss is not None:
                domain_layer = domain_loss_layer(
                    self.domain_loss,
                    weight=AUTO_WEIGHTS[self.domain_loss]
                    if self.domain_loss_weight == "auto"
                    else self.domain_loss_weight,
                    discriminator_units=self.discriminator_units,
                    seed=derive_seed(fitting.rng),
                )
            if self.target_loss_ is not None:
                target_layer = target_loss_layer(
                    self.target_loss_,
                    weight=AUTO_TARGET_WEIGHTS[self.target_loss_]
                    if self.target_loss_weight == "auto"
                    else self.target_loss_weight,
                )
            steps = max(1, n_train // self.batch_size) * (budget.head_epochs + budget.fine_tune_epochs)
            phase["own_callbacks"] = [
                DomainLossWarmup(layer, self.domain_warmup, steps)
                for layer in (domain_layer, target_layer)
                if layer is not None
            ]
        fitting.training = _Training(phase, shuffle_rng, domain_layer, target_layer)

    def _train_head(self, fitting: _Fitting) -> dict:
        """Phase 1: the head on the frozen backbone, solved exactly or by stochastic steps.

        The exact solve: the logistic regression or ridge of a linear head, L-BFGS on the
        objective of a head with a hidden layer (:mod:`~skltransfer.keras._mlp_head`).
        """
        rows, budget = fitting.rows, fitting.budget
        if budget.exact and self.hidden_units:
            return solve_hidden_head(
                fitting.head,
                fitting.features[rows.labeled[rows.train]],
                rows.targets[rows.train],
                rows.sample_weight[rows.train],
                l2=self._l2(len(rows.train)),
                regression=self._task.regression,
                owner=self._name,
            )
        if budget.exact:
            labeled = rows.labeled[rows.train]
            return self._task.solve_head(
                fitting.head,
                fitting.features[labeled],
                rows.targets[rows.train],
                rows.sample_weight[rows.train],
                l1=self.l1,
                l2=self._l2(len(labeled)),
            )
        if not budget.head_epochs:
            return {}
        if budget.through_network:
            network = fitting.network
            net, batches, validation = self._phase(
                fitting, self._training_model(fitting), fitting.x, network.features, network.strong_features
            )
        else:
            head = self._task.training_head(fitting.head)
            strong = keras.layers.Dropout(
                STRONG_FEATURE_DROPOUT, seed=fitting.seed + 1, name="strong_dropout"
            )
            net, batches, validation = self._phase(fitting, head, fitting.features, lambda f: f, strong)
        return train_phase(
            net,
            batches,
            validation,
            **fitting.training.phase,
            steps=[(budget.head_epochs, lambda: None)],
            learning_rate=self.learning_rate,
            budget="epochs" if self.epochs == "auto" else None,
        )

    def _fine_tune(self, fitting: _Fitting) -> dict:
        """Phase 2: the top ``unfreeze`` layers and the head, in ``unfreeze_steps`` runs.

        Without a domain loss, the model never ends worse than phase 1 on the monitored
        objective (the validation loss with early stopping, else the training loss): phase
        1's weights are kept if it would.
        """
        epochs = fitting.budget.fine_tune_epochs
        if not epochs:
            return {}
        rows, base = fitting.rows, fitting.network.frozen.backbone
        count = unfrozen_count(base, self.unfreeze)
        n_steps = min(self.unfreeze_steps, epochs)
        steps = [
            (
                round(epochs * k / n_steps),
                lambda k=k: set_unfrozen(base, max(1, round(count * k / n_steps)) if count else 0),
            )
            for k in range(1, n_steps + 1)
        ]
        monitored_rows = rows.train if rows.val is None else rows.val
        monitored = (
            fitting.x[rows.labeled[monitored_rows]],
            rows.targets[monitored_rows],
            rows.sample_weight[monitored_rows],
        )
        guard = None
        if not fitting.training.adapts:
            guard = (self._loss(*monitored), self.model_.get_weights())
        network = fitting.network
        net, batches, validation = self._phase(
            fitting, self._training_model(fitting), fitting.x, network.features, network.strong_features
        )
        history = train_phase(
            net,
            batches,
            validation,
            **fitting.training.phase,
            steps=steps,
            learning_rate=self.learning_rate / 10
            if self.fine_tune_learning_rate == "auto"
            else self.fine_tune_learning_rate,
            budget="fine_tune_epochs" if self.fine_tune_epochs == "auto" else None,
        )
        set_unfrozen(base, 0)
        if guard is not None:
            before, weights = guard
            history["reverted"] = bool(self._loss(*monitored) > before)
            if history["reverted"]:
                self.model_.set_weights(weights)
        self._reset_runtime()  # compiled before the backbone moved
        return history

    def _adapt_batch_statistics(self, fitting: _Fitting) -> None:
        """With ``bn_statistics="target"``: the target rows' statistics in the backbone's normalizations.

        AdaBN at test time: the network trained with the source statistics predicts with
        those of the target rows (see :func:`~skltransfer.keras._layerwise.adapt_batch_statistics`).
        """
        if self.bn_statistics == "source":
            return
        frozen = fitting.network.frozen
        images = keras.Input(self.image_shape_)
        network = keras.Model(images, frozen.backbone(frozen.preprocessing(images)))  # raw pixels in
        if not adapt_batch_statistics(network, fitting.x[fitting.rows.target], self.batch_size):
            warn_at_caller(
                f"{self._name}: bn_statistics='target', but the backbone has no BatchNormalization "
                "layer: nothing to adapt."
            )
        self._reset_runtime()  # compiled with the source statistics

    def _finish(self, fitting: _Fitting) -> None:
        """After training: with a domain or target loss, warn when the features or the target
        predictions have collapsed."""
        if not fitting.training.adapts:
            return
        targets = fitting.rows.targets[fitting.rows.train]
        self._warn_if_collapsed(targets)
        if not self._task.regression:
            self._warn_if_target_collapsed(self._target_outputs(fitting), targets)

    # ------------------------------------------------------- fit, helpers

    def _labeled_and_target(self, y, sample_domain, n_images: int):
        """Indices of the labeled rows and of the target rows an objective uses (or None).

        Rows without a target (``y == -1`` of class labels, NaN of float targets: the domain
        convention) are never a class or a value to fit: they are the target rows of
        ``domain_loss``, ``target_loss`` and ``bn_statistics="target"``, and are left out of
        a fit that uses none of them.
        """
        if self._task.regression and self.domain_loss == "cdan":
            raise ValueError(
                f"{self._name} has no class probabilities to condition domain_loss='cdan' on; "
                "use domain_loss='mmd', 'coral' or 'adversarial'."
            )
        marker = self._task.unlabeled_marker
        unlabeled = self._task.unlabeled(y, n_images)
        self._resolve_objectives(
            int(unlabeled.sum()) if sample_domain is None else int(np.sum(np.asarray(sample_domain) < 0))
        )
        losses = self.domain_loss is not None or self.target_loss_ is not None
        if not losses and sample_domain is not None and self.bn_statistics == "source":
            raise ValueError(
                "sample_domain marks target rows for a domain loss, but domain_loss is None, "
                "target_loss is None and bn_statistics='source'; set domain_loss (and "
                "domain_loss_weight=0 for training without its term), target_loss or "
                "bn_statistics='target'."
            )
        if unlabeled.all():
            raise ValueError(
                f"{self._name}: every row of y is unlabeled ({marker}, the marker of unlabeled "
                "target rows; see skltransfer.stack_domains): no row has a target to fit."
            )
        if not losses:
            if self.bn_statistics == "source":
                return np.flatnonzero(~unlabeled), None
            if sample_domain is None and not unlabeled.any():
                raise ValueError(
                    "bn_statistics='target' takes the batch statistics of the target rows: mark "
                    f"them with {marker} (skltransfer.stack_domains does it) or sample_domain < 0."
                )
        domains = self._resolve_domains(y, sample_domain, n_images)
        labeled, target = np.flatnonzero(domains.labeled), np.flatnonzero(domains.target)
        if len(target) < 2:
            objective = (
                f"domain_loss={self.domain_loss!r}"
                if self.domain_loss
                else f"target_loss={self.target_loss_!r}"
                if self.target_loss_
                else "bn_statistics='target'"
            )
            raise ValueError(
                f"{objective} needs at least 2 target rows ({marker} or sample_domain < 0); "
                f"got {len(target)}."
            )
        return labeled, target

    def _resolve_objectives(self, n_target: int) -> None:
        """Set ``target_loss_``: "auto" adapts when the fit has at least 2 target rows."""
        self.target_loss_ = self.target_loss
        if self.target_loss == "auto":
            self.target_loss_ = self.AUTO_TARGET_LOSS if n_target >= 2 else None

    def _resolve_domains(self, y, sample_domain, n_samples: int):
        """The source, target and labeled rows, by the task's rule for ``y``."""
        return self._task.domains(y, sample_domain, n_samples)

    def _split(self, targets: np.ndarray, rng):
        """Positions of the training and validation rows (validation None without early stopping)."""
        everything = np.arange(len(targets))
        if not self.early_stopping:
            return everything, None
        n_val = int(np.ceil(self.validation_fraction * len(targets)))
        if n_val >= len(targets):
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves no training images "
                f"out of {len(targets)}."
            )
        seed = derive_seed(rng)
        try:
            return train_test_split(
                everything, test_size=n_val, stratify=self._task.stratify(targets), random_state=seed
            )
        except ValueError:  # too few images of a class to stratify
            return train_test_split(everything, test_size=n_val, random_state=seed)

    def _l2(self, n_train: int) -> float:
        return self._task.auto_l2(n_train) if self.l2 == "auto" else float(self.l2)

    def _epochs(self, value, n_train: int, target_steps: int, max_epochs: int) -> int:
        return auto_epochs(n_train, self.batch_size, target_steps, max_epochs) if value == "auto" else value

    def _as_array(self, images, shape) -> np.ndarray:
        """The images as one array, filled batch by batch: ``uint8`` images (image files,
        8-bit arrays) stay ``uint8``, a quarter of the memory of ``float32``, which anything
        else becomes; the network casts each batch to its input's dtype (exactly: every
        8-bit value is a float32)."""
        array = None
        start = 0
        for batch in images.batches(self.batch_size, size=shape[:2], channels=shape[-1]):
            if array is None:
                dtype = np.uint8 if batch.dtype == np.uint8 else np.float32
                array = np.empty((len(images), *batch.shape[1:]), dtype=dtype)
            array[start : start + len(batch)] = batch
            start += len(batch)
        return array

    def _training_model(self, fitting: _Fitting):
        """The network whose output the loss sees: ``model_``, or ``model_`` up to the training head."""
        head = self._task.training_head(fitting.head)
        return (
            self.model_
            if head is fitting.head
            else self._assemble(fitting.network.features, head, fitting.seed)
        )

    def _phase(self, fitting: _Fitting, net, inputs, input_features, strong_features):
        """The network to train and its batches; with a domain or target loss, the two-input graph.

        ``strong_features`` is the strongly augmented view of the target batch that
        ``target_loss="self_training"`` compares: strong image augmentation when the inputs
        are images, dropout of the features when they are cached features.
        """
        rows, training = fitting.rows, fitting.training
        validation = None if rows.val is None else (inputs[rows.labeled[rows.val]], rows.targets[rows.val])
        target_inputs = None
        if training.adapts:
            head = self._task.training_head(fitting.head)
            net = adaptation_model(
                head,
                input_features,
                inputs.shape[1:],
                training.domain_layer,
                training.target_layer,
                strong_features,
            )
            target_inputs = inputs[rows.target]
            if validation is not None:
                validation = ((validation[0], validation[0]), validation[1])
        batches = ShuffledBatches(
            inputs[rows.labeled[rows.train]],
            rows.targets[rows.train],
            rows.sample_weight[rows.train],
            self.batch_size,
            training.shuffle_rng,
            target=target_inputs,
        )
        return net, batches, validation

    def _loss(self, x: np.ndarray, targets: np.ndarray, sample_weight: np.ndarray) -> float:
        """The training objective of ``model_`` (in inference mode) on these images.

        The mean weighted loss plus the head's penalties, as Keras reports the loss.
        """
        outputs = call_in_chunks(self.model_, x, rows=self.batch_size)
        penalty = sum(float(keras.ops.convert_to_numpy(loss)) for loss in self.model_.losses)
        return self._task.objective(outputs, targets, sample_weight) + penalty

    def _warn_if_collapsed(self, targets: np.ndarray) -> None:
        """Warn when the training metric, after rising, fell to that of a constant prediction.

        A constant embedding has no domain gap, so a domain loss that grows faster than the
        task is learned can collapse the features: the labeled rows' metric drops to that of
        a prediction that ignores the images.
        """
        metric = self._task.metric
        values = [value for phase in self.history_.values() for value in phase.get(metric, [])]
        constant = self._task.constant_guess(targets)
        if values and values[-1] <= constant + 0.05 and max(values) >= values[-1] + 0.1:
            warn_at_caller(
                f"{self._name}: the training {metric} on the labeled rows rose to {max(values):.2f} "
                f"and ended at {values[-1]:.2f}, no better than {self._task.constant_prediction} "
                f"({constant:.2f}), while the domain loss ramped up: the features "
                "have probably collapsed. Try domain_warmup='linear', a smaller "
                "domain_loss_weight, or a pretrained backbone with its head trained first "
                "(epochs > 0)."
            )

    def _target_outputs(self, fitting: _Fitting) -> np.ndarray:
        """The fitted network's outputs for the target rows of this fit."""
        target = fitting.rows.target
        if self._frozen_backbone:  # the head on the features computed for the fit
            return call_in_chunks(self.head_, fitting.features[target])
        return call_in_chunks(self.model_, fitting.x[target], rows=self.batch_size)

    def _warn_if_target_collapsed(self, proba: np.ndarray, codes: np.ndarray) -> None:
        """Warn when the target rows' predictions have collapsed onto one class.

        A domain or target loss can align the target features with those of a single class
        while the labeled rows stay well classified, which the training metric does not see.
        With at least ``MIN_COLLAPSE_ROWS`` target rows, the check warns when the most
        predicted class takes at least ``TARGET_COLLAPSE_SHARE`` of them and at least half
        of the way from the labeled rows' largest class share to all of them.
        """
        if len(proba) < MIN_COLLAPSE_ROWS:
            return
        shares = np.bincount(np.argmax(proba, axis=1), minlength=proba.shape[1]) / len(proba)
        largest = np.bincount(codes).max() / len(codes)
        top = int(np.argmax(shares))
        if shares[top] >= max(TARGET_COLLAPSE_SHARE, (1 + largest) / 2):
            warn_at_caller(
                f"{self._name}: {shares[top]:.0%} of the {len(proba)} target rows are predicted as "
                f"class {self._task.classes_.tolist()[top]!r}, while the labeled rows' largest class holds "
                f"{largest:.0%}: the domain or target loss has probably collapsed the target "
                "predictions onto one class. Try domain_warmup='linear', a smaller "
                "domain_loss_weight or target_loss_weight, or a pretrained backbone with its head "
                "trained first (epochs > 0)."
            )

    # ---------------------------------------------------------------- network

    def _build_network(self, image_shape, seed: int) -> _Network:
        """Build the frozen features (sets ``input_shape_``) and the augmented path of training.

        The backbone is cut at ``layer``, frozen, and called in inference mode
        (:class:`~skltransfer.keras._layers.InferenceMode`); augmentation layers are seeded
        by ``seed``. A signal or tabular network takes no image augmentation: its strong view
        (self-training's) drops features instead, as on cached features.
        """
        frozen, self.input_shape_ = build_frozen_features(self, image_shape, self._seed)
        takes_images = len(self.input_shape_) == 3
        if self.augmentation and not takes_images:
            kind = "1-D signals" if len(self.input_shape_) == 2 else "table rows"
            raise ValueError(
                f"augmentation transforms images, but base_model takes {kind} of shape "
                f"{self.input_shape_}: set augmentation=None."
            )
        in_inference_mode = InferenceMode(frozen.backbone, name="backbone")

        def through(layers):
            def features(x):
                for aug in layers:
                    x = aug(x)
                return frozen(x, in_inference_mode)

            return features

        if not takes_images:
            drop = keras.layers.Dropout(STRONG_FEATURE_DROPOUT, seed=seed + 1, name="strong_dropout")
            return _Network(frozen, through([]), lambda x: drop(through([])(x)))
        augment = augmentation_layers(self.augmentation, seed)
        strong = augmentation_layers(list(STRONG_AUGMENTATIONS), seed + 1, STRONG_AUGMENTATIONS, "strong")
        return _Network(frozen, through(augment), through(strong))

    def _assemble(self, features, head, seed: int):
        """Raw images -> ``features`` -> ``head`` (the sub-model named ``"head"`` in ``model_``)."""
        with scoped_seed(seed):
            inputs = keras.Input(self.image_shape_, name="images")
            return keras.Model(inputs, head(features(inputs)), name="finetuned_cnn")

    @property
    def model_(self):
        """The whole network: raw images in, the head's outputs out.

        Assembled on first access when ``fit`` did not need the backbone (every feature was
        in ``memory`` and nothing trained it).

        Returns
        -------
        model : keras.Model
        """
        model = self.__dict__.get("_model")
        if model is None:
            check_is_fitted(self, "head_")
            if self._cache_identity != self._backbone_identity(self._seed):
                raise ValueError(
                    f"{self._name}: base_model or weights changed since fit (the backbone's identity "
                    "differs from the one its cached features were computed with); fit again."
                )
            network = self._build_network(self.image_shape_, self._network_seed)
            model = self._model = self._assemble(network.features, self.head_, self._network_seed)
        return model

    def _compute_frozen(self, frozen: FrozenFeatures, x: np.ndarray) -> np.ndarray:
        """Pooled features of an array of images through ``frozen``, compiled once."""
        predictor = frozen.compiled(self._runtime, self.image_shape_, self.batch_size)
        return self._run_batches(predictor, Images(array=x), size=self.image_shape_[:2], engine=False)

    # --------------------------------------------------------------- predict

    def _outputs(self, X) -> np.ndarray:
        """``model_``'s outputs for images (the head's on cached features of a frozen backbone)."""
        check_is_fitted(self, "head_")
        images = self._images(X, reset=False)
        shape = images.shape or self.image_shape_
        check_fitted_shape(shape, self.image_shape_, self._name)
        cache = self._feature_cache() if self._frozen_backbone else None
        if cache is not None:  # the head on cached features of the frozen backbone

            def compute(x):  # only for images not in the cache: model_ may not be assembled yet
                frozen = self._runtime.get("frozen", lambda: FrozenFeatures.from_model(self.model_))
                return self._compute_frozen(frozen, x)

            return call_in_chunks(self.head_, cache.lookup(self._as_array(images, shape), compute))
        folded = self._runtime.get("folded", lambda: fold_batch_normalization(self.model_))
        predictor = self._runtime.predictor(
            ("model", self.image_shape_),
            lambda x: folded(x, training=False),
            self.image_shape_,
            self.batch_size,
        )
        return self._run_batches(predictor, images, size=shape[:2])

    def _score_labeled(self, score, X, y, sample_weight) -> float:
        """``score`` (the task mixin's) on the labeled rows: unlabeled target rows left out.

        Rows with ``y == -1`` of a classifier, rows with a NaN target of a regressor.
        """
        regression = is_regressor(self)
        if regression:  # floats: a target -1 is a value like any other
            y = float_targets(y, self._name)
        return score_labeled_rows(score, X, y, sample_weight, regression=regression)

    # ---------------------------------------------------------- persistence

    def __getstate__(self):
        state = super().__getstate__()
        blobs = state["_keras_model_bytes"]
        if "_model" in blobs:  # the head is inside the network: stored once
            blobs.pop("head_", None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if self.__dict__.get("_model") is not None:
            self.head_ = self._model.get_layer("head")
        self.__dict__.setdefault("_model", None)

    def export(self, path, format="keras"):
        """Save the fitted network for serving without scikit-learn.

        The network takes raw images of shape ``image_shape_`` (float32; 2-D rows reshaped)
        and returns what ``model_`` returns (see the estimator's ``model_``). When the guard
        kept a plain fit (``baseline_estimator_``), that fit predicts, and its network is the
        one saved.

        Parameters
        ----------
        path : str or path-like
            A ``.keras`` file, a SavedModel folder, a ``.tflite`` file or a ``.onnx`` file.
        format : {"keras", "saved_model", "tflite", "onnx"}, default="keras"
            ``"keras"``: a Keras archive, loaded with ``keras.saving.load_model`` once
            ``skltransfer.keras`` is imported (its custom layers are registered under
            ``skltransfer>``). ``"saved_model"``: a TensorFlow SavedModel with a ``serve``
            endpoint. ``"tflite"``: a TensorFlow Lite flat buffer. ``"onnx"``: an ONNX graph
            (one float32 input ``"images"`` with a dynamic batch size, one output
            ``"output"``), converted by tf2onnx: ``pip install "skltransfer[onnx]"``.

        Returns
        -------
        path : str
        """
        check_is_fitted(self, "head_")
        baseline = self.__dict__.get("baseline_estimator_")
        if baseline is not None:
            return baseline.export(path, format)
        return export_model(self.model_, path, format)

    def __skltransfer_tags__(self) -> DomainTags:
        return DomainTags(
            learns_from_unlabeled=self.domain_loss is not None
            or self.target_loss is not None
            or self.bn_statistics == "target"
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


def _standardization(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance (float64) of the training features; constant features get a variance of 1.

    A feature is constant when its variance is within the error of computing it: the bound
    of scikit-learn's ``StandardScaler`` for the float64 computation, plus the float32
    rounding of the features themselves. Both are relative to the feature's own scale, so
    that features of any magnitude, e.g. the 1e-12 of a randomly initialised deep network,
    are standardised.
    """
    n_samples = features.shape[0]
    eps64, eps32 = np.finfo(np.float64).eps, np.finfo(np.float32).eps
    features = np.asarray(features, dtype=np.float64)
    mean, variance = features.mean(axis=0), features.var(axis=0)
    bound = n_samples * eps64 * variance + (n_samples * eps64 * mean) ** 2 + (eps32 * mean) ** 2
    variance[variance <= bound] = 1.0
    return mean, variance
