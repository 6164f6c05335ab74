"""The fine-tuning recipe shared by :class:`FineTunedCNNClassifier` and :class:`FineTunedCNNRegressor`.

``fit`` is a sequence of small steps, each a method that a subclass may override (as
skorch's ``initialize_*``), passing one :class:`_Fit` record from step to step:

1. :meth:`~_FineTunedCNN._initialize_rows`: images, labeled and target rows, encoded
   targets, seeds, the validation split, sample weights;
2. :meth:`~_FineTunedCNN._initialize_budgets`: whether phase 1 is an exact solve, the
   epochs of each phase, whether the backbone must be built at all;
3. :meth:`~_FineTunedCNN._initialize_network`: the backbone and the layers before the head
   (skipped when ``memory`` holds every feature and nothing trains the backbone);
4. :meth:`~_FineTunedCNN._initialize_features`: the frozen backbone's pooled features,
   computed once or read from ``memory``;
5. :meth:`~_FineTunedCNN._initialize_head`: the head (standardised input, task output) and
   ``model_``;
6. :meth:`~_FineTunedCNN._initialize_training`: patience, batch order, domain-loss layer
   and its warm-up callback, the keyword arguments of every phase;
7. :meth:`~_FineTunedCNN._train_head` (phase 1: exact solve or stochastic steps) and
   :meth:`~_FineTunedCNN._fine_tune` (phase 2, progressive unfreezing, never worse than
   phase 1 on the monitored loss);
8. :meth:`~_FineTunedCNN._finish`: the collapse check of a domain loss.

The task is in hooks: :meth:`_encode_targets`, :meth:`_sample_weight`, :meth:`_stratify`,
:meth:`_auto_l2`, :meth:`_output_layer`, :meth:`_training_head`, :meth:`_solve_head`,
:meth:`_objective`, :meth:`_constant_guess`, and the class attributes ``_keras_loss``,
``_metric``.

What stays outside Keras' callbacks, and why: the validation split chooses the rows that
standardise the features and that the exact solve sees, before any training loop;
progressive unfreezing changes the trainable variables, which Keras reads when it traces
the training step, so each unfreezing step is a new ``compile``/``fit`` of the same phase
(:func:`~skltransfer.keras._finetune.train_phase`); the collapse check reads the whole
training's metric, including that of an exact phase 1, which runs no training loop. The
domain loss's warm-up is a callback (:func:`~skltransfer.keras.losses.warmup_callback`),
shared by both phases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any, ClassVar, NamedTuple

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state

from .._domains import resolve_domains
from ..utils._sklearn_compat import HasMethods, Interval, RealNotInt, StrOptions, check_is_fitted
from ..utils._tags import DomainTags
from ..utils._warnings import warn_at_caller
from ._backbone import feature_layer, known_input_shape, resolve_backbone
from ._base import CompiledPredictor, derive_seed, fold_batch_normalization, require_keras, scoped_seed
from ._estimator import KerasImageEstimator
from ._export import export_model
from ._finetune import OPTIMIZERS, auto_epochs, auto_patience, shuffled_batches, train_phase
from ._heads import (
    adaptation_model,
    augmentation_layers,
    build_head,
    pooling_layer,
    set_unfrozen,
    unfrozen_count,
)
from ._layers import ImagePreprocessing, InferenceMode
from .applications import get_application
from .images import check_channels
from .losses import AUTO_WEIGHTS, DOMAIN_LOSSES, WARMUP_SCHEDULES, domain_loss_layer, warmup_callback

__all__ = ["RECIPE_PARAMETER_CONSTRAINTS"]

# The "auto" training budgets: optimizer steps per phase, converted to epochs by
# auto_epochs (at least one epoch, at most the cap), and the plateau stop's patience.
HEAD_STEPS, MAX_HEAD_EPOCHS = 500, 200
FINE_TUNE_STEPS, MAX_FINE_TUNE_EPOCHS = 300, 100
PLATEAU_STEPS = 50

#: Constraints of the recipe's parameters (the backbone's are added by KerasImageEstimator).
RECIPE_PARAMETER_CONSTRAINTS: dict = {
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
    "discriminator_units": [tuple, list],
}


class _Network(NamedTuple):
    """The layers of ``model_`` before the head (see :meth:`_FineTunedCNN._build_network`)."""

    base: object
    features: Callable
    frozen_features: Callable


@dataclass
class _Fit:
    """What one ``fit`` passes from step to step (never stored on the estimator)."""

    images: Any
    labeled: np.ndarray  # rows with a target
    target: np.ndarray | None  # unlabeled target rows of a domain loss
    targets: np.ndarray  # encoded targets of the labeled rows
    rng: np.random.RandomState
    seed: int  # initial weights, dropout, augmentation
    train: np.ndarray = None  # positions in ``labeled``
    val: np.ndarray | None = None
    sample_weight: np.ndarray = None
    exact: bool = False  # phase 1 solved exactly
    head_epochs: int = 0
    fine_tune_epochs: int = 0
    through_network: bool = False  # phase 1 trains through the backbone (augmentation, no cache)
    image_size: tuple | None = None
    network: _Network | None = None
    x: np.ndarray = None  # the images as one array of image_shape_
    features: np.ndarray = None  # pooled frozen features of every row
    head: Any = None
    domain_layer: Any = None
    training: dict = field(default_factory=dict)  # keyword arguments of train_phase
    shuffle_rng: np.random.RandomState | None = None  # the batch order


class _FineTunedCNN(KerasImageEstimator):
    """The transfer-learning recipe: a new head on a pretrained backbone, trained in two phases.

    Not public: :class:`FineTunedCNNClassifier` and :class:`FineTunedCNNRegressor` are its
    task hooks (see the module's docstring for the steps).
    """

    _keras_models = ("_model", "head_")
    _unpicklable = ("_predictors", "_frozen_predictor")
    # scikit-learn checks this estimator cannot pass, with the reason (see tests/keras).
    _expected_failed_checks: ClassVar[dict] = {}
    #: Keras loss of the training head's output, and the training metric of ``history_``.
    _keras_loss: ClassVar[str]
    _metric: ClassVar[str]
    #: What a prediction that ignores the image is called in the collapse warning.
    _constant_prediction: ClassVar[str]
    #: How ``y`` marks unlabeled target rows (in error messages).
    _unlabeled_marker: ClassVar[str]

    @property
    def _name(self) -> str:
        return type(self).__name__

    # ------------------------------------------------------------ task hooks

    def _encode_targets(self, y, labeled: np.ndarray | None, n_images: int) -> np.ndarray:
        """Record the fitted target attributes (``classes_``, ...); return the training targets.

        ``labeled``: the rows of ``y`` that hold a target (None: every row of ``n_images``).
        """
        raise NotImplementedError

    def _n_outputs(self, targets: np.ndarray) -> int:
        """Units of the head's output layer."""
        raise NotImplementedError

    def _sample_weight(self, targets: np.ndarray) -> np.ndarray:
        """Per-row weights of the loss."""
        return np.ones(len(targets), dtype=np.float32)

    def _stratify(self, targets: np.ndarray) -> np.ndarray | None:
        """What the validation split is stratified by (None: not stratified)."""
        return None

    def _auto_l2(self, n_train: int) -> float:
        """The ``l2="auto"`` penalty for ``n_train`` training rows."""
        raise NotImplementedError

    def _output_layer(self) -> dict:
        """Keyword arguments of :func:`build_head` that make the head's output."""
        raise NotImplementedError

    def _training_head(self, head):
        """The part of ``head`` that the loss is computed on (the head itself by default)."""
        return head

    def _solve_head(self, head, features: np.ndarray, targets: np.ndarray, sample_weight, l2: float) -> dict:
        """Phase 1 of a linear head on cached features, solved exactly and written into ``head``."""
        raise NotImplementedError

    def _objective(self, outputs: np.ndarray, targets: np.ndarray, sample_weight: np.ndarray) -> float:
        """The training loss (mean of the weighted row losses, as Keras') of ``model_``'s ``outputs``."""
        raise NotImplementedError

    def _constant_guess(self, targets: np.ndarray) -> float:
        """The training metric of the best prediction that ignores the images."""
        raise NotImplementedError

    # ------------------------------------------------------------------ fit

    def _fit(self, X, y, sample_domain):
        """The recipe: every step below, in order."""
        require_keras(self._name)
        fit = self._initialize_rows(X, y, sample_domain)
        self._initialize_budgets(fit)
        self._initialize_network(fit)
        self._initialize_features(fit)
        self._initialize_head(fit)
        self._initialize_training(fit)
        self.history_ = {"head": self._train_head(fit), "fine_tune": self._fine_tune(fit)}
        self._finish(fit)
        return self

    def _initialize_rows(self, X, y, sample_domain) -> _Fit:
        """Images, labeled and target rows, encoded targets, seeds, validation split, weights."""
        images = self._images(X, reset=True)
        labeled, target = self._rows(y, sample_domain, len(images))
        targets = self._encode_targets(y, None if target is None else labeled, len(images))
        rng = check_random_state(self.random_state)
        self._seed = derive_seed(rng)  # the backbone's random initialisation (weights=None)
        seed = self._network_seed = derive_seed(rng)
        fit = _Fit(images=images, labeled=labeled, target=target, targets=targets, rng=rng, seed=seed)
        fit.train, fit.val = self._split(targets, rng)
        fit.sample_weight = self._sample_weight(targets)
        self.__dict__.update(_model=None, _predictors={}, _frozen_predictor=None, _litert={})
        return fit

    def _initialize_budgets(self, fit: _Fit) -> None:
        """How each phase trains, which decides whether the backbone must be built at all."""
        n_train = len(fit.train)
        fit.exact = self.epochs == "auto" and self.hidden_units == 0 and not self.augmentation
        fit.head_epochs = 0 if fit.exact else self._epochs(self.epochs, n_train, HEAD_STEPS, MAX_HEAD_EPOCHS)
        fit.fine_tune_epochs = self._epochs(
            self.fine_tune_epochs, n_train, FINE_TUNE_STEPS, MAX_FINE_TUNE_EPOCHS
        )
        fit.through_network = fit.head_epochs > 0 and (bool(self.augmentation) or not self.cache_features)
        self._frozen_backbone = fit.fine_tune_epochs == 0

    def _initialize_network(self, fit: _Fit) -> None:
        """The backbone, unless ``memory`` may serve every feature and nothing trains it; the images."""
        shape = fit.images.shape
        fit.image_size = None if shape is None else shape[:2]
        self._record_backbone_identity(self._seed)
        self.input_shape_ = known_input_shape(
            self.base_model, input_size=self.input_size, image_size=fit.image_size
        )
        needed = fit.fine_tune_epochs or fit.through_network or self._feature_cache() is None
        if needed or self.input_shape_ is None:
            fit.network = self._build_network(fit.image_size, fit.seed)
        self.image_shape_ = shape or self.input_shape_
        check_channels(self.image_shape_[-1], self.input_shape_[-1])
        fit.x = self._as_array(fit.images, self.image_shape_)

    def _initialize_features(self, fit: _Fit) -> None:
        """The frozen backbone's pooled features of every row, computed once or read from ``memory``."""

        def compute(rows):
            if fit.network is None:
                fit.network = self._build_network(fit.image_size, fit.seed)
            return self._frozen_features(fit.network.base, fit.network.frozen_features, rows)

        cache = self._feature_cache()
        fit.features = compute(fit.x) if cache is None else cache.lookup(fit.x, compute)

    def _initialize_head(self, fit: _Fit) -> None:
        """``head_`` (standardised by the training rows' features) and, with a backbone, ``model_``."""
        mean, variance = _standardization(fit.features[fit.labeled[fit.train]])
        if self._trains_features_from_scratch(fit):
            mean, variance = np.zeros_like(mean), np.ones_like(variance)
        fit.head = self.head_ = build_head(
            fit.features.shape[1],
            self._n_outputs(fit.targets),
            mean=mean,
            variance=variance,
            hidden_units=self.hidden_units,
            dropout=self.dropout,
            l1=self.l1,
            l2=self._l2(len(fit.train)),
            seed=fit.seed,
            **self._output_layer(),
        )
        if fit.network is not None:
            self._model = self._assemble(fit.network.features, fit.head, fit.seed)

    def _trains_features_from_scratch(self, fit: _Fit) -> bool:
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
            and fit.fine_tune_epochs > 0
            and fit.network is not None
            and unfrozen_count(fit.network.base, self.unfreeze) > 0
        )

    def _initialize_training(self, fit: _Fit) -> None:
        """Patience, batch order, the domain-loss layer and its warm-up: what every phase shares."""
        n_train = len(fit.train)
        patience = (
            auto_patience(n_train, self.batch_size, PLATEAU_STEPS)
            if self.patience == "auto"
            else self.patience
        )
        fit.training = {
            "optimizer": self.optimizer,
            "lr_schedule": self.lr_schedule,
            "early_stopping": self.early_stopping,
            "patience": patience,
            "callbacks": self.callbacks or [],
            "verbose": self.verbose,
            "own_callbacks": [],
            "loss": self._keras_loss,
            "metrics": (self._metric,),
        }
        fit.shuffle_rng = np.random.RandomState(derive_seed(fit.rng))
        if fit.target is not None:
            fit.domain_layer = domain_loss_layer(
                self.domain_loss,
                weight=AUTO_WEIGHTS[self.domain_loss]
                if self.domain_loss_weight == "auto"
                else self.domain_loss_weight,
                discriminator_units=self.discriminator_units,
                seed=derive_seed(fit.rng),
            )
            steps = max(1, n_train // self.batch_size) * (fit.head_epochs + fit.fine_tune_epochs)
            fit.training["own_callbacks"] = [warmup_callback(fit.domain_layer, self.domain_warmup, steps)]

    def _train_head(self, fit: _Fit) -> dict:
        """Phase 1: the head on the frozen backbone, solved exactly or by stochastic steps."""
        rows = fit.labeled[fit.train]
        if fit.exact:
            return self._solve_head(
                fit.head,
                fit.features[rows],
                fit.targets[fit.train],
                fit.sample_weight[fit.train],
                self._l2(len(rows)),
            )
        if not fit.head_epochs:
            return {}
        if fit.through_network:
            net, batches, validation = self._phase(
                fit, self._training_model(fit), fit.x, fit.network.features
            )
        else:
            head = self._training_head(fit.head)
            net, batches, validation = self._phase(fit, head, fit.features, lambda f: f)
        return self._train(
            net,
            batches,
            validation,
            fit,
            steps=[(fit.head_epochs, lambda: None)],
            learning_rate=self.learning_rate,
            budget="epochs" if self.epochs == "auto" else None,
        )

    def _fine_tune(self, fit: _Fit) -> dict:
        """Phase 2: the top ``unfreeze`` layers and the head, in ``unfreeze_steps`` runs.

        Without a domain loss, the model never ends worse than phase 1 on the monitored
        objective (the validation loss with early stopping, else the training loss): phase
        1's weights are kept if it would.
        """
        epochs = fit.fine_tune_epochs
        if not epochs:
            return {}
        base = fit.network.base
        count = unfrozen_count(base, self.unfreeze)
        n_steps = min(self.unfreeze_steps, epochs)
        steps = [
            (
                round(epochs * k / n_steps),
                lambda k=k: set_unfrozen(base, max(1, round(count * k / n_steps)) if count else 0),
            )
            for k in range(1, n_steps + 1)
        ]
        rows = fit.train if fit.val is None else fit.val
        monitored = (fit.x[fit.labeled[rows]], fit.targets[rows], fit.sample_weight[rows])
        guard = None if fit.domain_layer is not None else (self._loss(*monitored), self.model_.get_weights())
        net, batches, validation = self._phase(fit, self._training_model(fit), fit.x, fit.network.features)
        history = self._train(
            net,
            batches,
            validation,
            fit,
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
        return history

    def _finish(self, fit: _Fit) -> None:
        """After training: with a domain loss, warn when the features have collapsed."""
        if fit.domain_layer is not None:
            self._warn_if_collapsed(fit.targets[fit.train])

    # ------------------------------------------------------- fit, helpers

    def _rows(self, y, sample_domain, n_images: int):
        """Indices of the labeled rows (every row without a domain loss) and of the target rows (or None)."""
        if self.domain_loss is None:
            if sample_domain is not None:
                raise ValueError(
                    "sample_domain marks target rows for a domain loss, but domain_loss is None; "
                    "set domain_loss (and domain_loss_weight=0 for training without its term)."
                )
            return np.arange(n_images), None
        domains = self._resolve_domains(y, sample_domain, n_images)
        labeled, target = np.flatnonzero(domains.labeled), np.flatnonzero(domains.target)
        if len(target) < 2:
            raise ValueError(
                f"domain_loss={self.domain_loss!r} needs at least 2 target rows ({self._unlabeled_marker} or "
                f"sample_domain < 0); got {len(target)}."
            )
        return labeled, target

    def _resolve_domains(self, y, sample_domain, n_samples: int):
        return resolve_domains(y, sample_domain, n_samples=n_samples)

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
        stratify = self._stratify(targets)
        try:
            return train_test_split(everything, test_size=n_val, stratify=stratify, random_state=seed)
        except ValueError:  # too few images of a class to stratify
            return train_test_split(everything, test_size=n_val, random_state=seed)

    def _l2(self, n_train: int) -> float:
        return self._auto_l2(n_train) if self.l2 == "auto" else float(self.l2)

    def _epochs(self, value, n_train: int, target_steps: int, max_epochs: int) -> int:
        return auto_epochs(n_train, self.batch_size, target_steps, max_epochs) if value == "auto" else value

    def _as_array(self, images, shape) -> np.ndarray:
        batches = images.batches(self.batch_size, size=shape[:2], channels=shape[-1])
        return np.concatenate([np.asarray(b, dtype=np.float32) for b in batches])

    def _training_model(self, fit: _Fit):
        """The network whose output the loss sees: ``model_``, or ``model_`` up to the training head."""
        head = self._training_head(fit.head)
        return self.model_ if head is fit.head else self._assemble(fit.network.features, head, fit.seed)

    def _phase(self, fit: _Fit, net, inputs, input_features):
        """The network to train and its batches; with a domain loss, the two-input graph."""
        train, val, labeled = fit.train, fit.val, fit.labeled
        validation = None if val is None else (inputs[labeled[val]], fit.targets[val])
        target_inputs = None
        if fit.domain_layer is not None:
            head = self._training_head(fit.head)
            net = adaptation_model(head, input_features, inputs.shape[1:], fit.domain_layer)
            target_inputs = inputs[fit.target]
            if validation is not None:
                validation = ((validation[0], validation[0]), validation[1])
        batches = shuffled_batches(
            inputs[labeled[train]],
            fit.targets[train],
            fit.sample_weight[train],
            self.batch_size,
            fit.shuffle_rng,
            target=target_inputs,
        )
        return net, batches, validation

    def _train(self, net, batches, validation, fit: _Fit, **phase) -> dict:
        return train_phase(net, batches, validation, **fit.training, **phase)

    def _loss(self, x: np.ndarray, targets: np.ndarray, sample_weight: np.ndarray) -> float:
        """The training objective of ``model_`` (in inference mode) on these images.

        The mean weighted loss plus the head's penalties, as Keras reports the loss.
        """
        keras = require_keras(self._name)
        outputs = self.model_.predict(x, batch_size=self.batch_size, verbose=0)
        penalty = sum(float(keras.ops.convert_to_numpy(loss)) for loss in self.model_.losses)
        return self._objective(outputs, targets, sample_weight) + penalty

    def _warn_if_collapsed(self, targets: np.ndarray) -> None:
        """Warn when the training metric, after rising, fell to that of a constant prediction.

        A constant embedding has no domain gap, so a domain loss that grows faster than the
        task is learned can collapse the features: the labeled rows' metric drops to that of
        a prediction that ignores the images.
        """
        metric = self._metric
        values = [value for phase in self.history_.values() for value in phase.get(metric, [])]
        constant = self._constant_guess(targets)
        if values and values[-1] <= constant + 0.05 and max(values) >= values[-1] + 0.1:
            warn_at_caller(
                f"{self._name}: the training {metric} on the labeled rows rose to {max(values):.2f} "
                f"and ended at {values[-1]:.2f}, no better than {self._constant_prediction} "
                f"({constant:.2f}), while the domain loss ramped up: the features "
                "have probably collapsed. Try domain_warmup='linear', a smaller "
                "domain_loss_weight, or a pretrained backbone with its head trained first "
                "(epochs > 0)."
            )

    # ---------------------------------------------------------------- network

    def _preprocessing_layer(self, own_preprocess):
        """The network's first layer: raw pixels to what the backbone takes."""
        application, function = None, None
        if self.preprocessing == "auto":
            application = None if own_preprocess is None else get_application(self.base_model).name
        elif isinstance(self.preprocessing, str):
            application = get_application(self.preprocessing).name
        else:
            function = self.preprocessing
        return ImagePreprocessing(
            self.input_shape_[:2], self.input_shape_[-1], application, function, name="preprocess"
        )

    def _build_network(self, image_size, seed: int) -> _Network:
        """Build the backbone (sets ``input_shape_``) and the layers of ``model_`` before the head.

        The backbone is cut at ``layer``, frozen, and called in inference mode
        (:class:`~skltransfer.keras._layers.InferenceMode`); augmentation layers are seeded
        by ``seed``.
        """
        keras = require_keras(self._name)
        backbone, self.input_shape_, own_preprocess = resolve_backbone(
            self.base_model,
            self.weights,
            input_size=self.input_size,
            image_size=image_size,
            random_state=self._seed,
            purpose=self._name,
        )
        layer = feature_layer(backbone, self.layer)
        base = backbone if layer is backbone.layers[-1] else keras.Model(backbone.inputs, layer.output)
        base.trainable = False
        preprocessing = self._preprocessing_layer(own_preprocess)
        pool = pooling_layer(len(base.outputs[0].shape), self.pooling)
        augment = augmentation_layers(self.augmentation, seed)

        def frozen_features(x, backbone):
            out = backbone(preprocessing(x), training=False)
            return out if pool is None else pool(out)

        in_inference_mode = InferenceMode(base, name="backbone")

        def features(x):
            for aug in augment:
                x = aug(x)
            return frozen_features(x, in_inference_mode)

        return _Network(base, features, frozen_features)

    def _assemble(self, features, head, seed: int):
        """Raw images -> ``features`` -> ``head`` (the sub-model named ``"head"`` in ``model_``)."""
        keras = require_keras(self._name)
        with scoped_seed(seed):
            inputs = keras.Input(self.image_shape_, name="images")
            return keras.Model(inputs, head(features(inputs)), name="finetuned_cnn")

    @property
    def model_(self):
        model = self.__dict__.get("_model")
        if model is None:
            check_is_fitted(self, "head_")
            if self._cache_identity != self._backbone_identity(self._seed):
                raise ValueError(
                    f"{self._name}: base_model or weights changed since fit (the backbone's identity "
                    "differs from the one its cached features were computed with); fit again."
                )
            network = self._build_network(self.image_shape_[:2], self._network_seed)
            model = self._model = self._assemble(network.features, self.head_, self._network_seed)
        return model

    def _frozen_features(self, base, frozen_features, x: np.ndarray) -> np.ndarray:
        """Pooled features of images through the frozen backbone (its batch normalizations folded)."""
        folded = fold_batch_normalization(base)
        extract = CompiledPredictor(
            lambda images: frozen_features(images, folded), self.image_shape_, self.batch_size
        )
        return np.concatenate([extract(b) for b in _chunks(x, self.batch_size)])

    def _frozen_predictor_features(self, x: np.ndarray) -> np.ndarray:
        """Frozen-backbone features through ``model_`` (up to the head's input), compiled once."""
        if self.__dict__.get("_frozen_predictor") is None:
            keras = require_keras(self._name)
            model = self.model_
            names = {layer.name for layer in model.layers}
            pooled = model.get_layer("pooling" if "pooling" in names else "backbone").output
            truncated = fold_batch_normalization(keras.Model(model.inputs, pooled))
            self._frozen_predictor = CompiledPredictor(
                lambda images: truncated(images, training=False), self.image_shape_, self.batch_size
            )
        return np.concatenate([self._frozen_predictor(b) for b in _chunks(x, self.batch_size)])

    # --------------------------------------------------------------- predict

    def _predictor(self, image_shape) -> CompiledPredictor:
        """The compiled ``model_`` for images of this shape, its backbone's batch normalizations folded."""
        predictors = self.__dict__.setdefault("_predictors", {})
        if image_shape not in predictors:
            model = fold_batch_normalization(self.model_)

            def outputs(x):
                return model(x, training=False)

            predictors[image_shape] = CompiledPredictor(outputs, image_shape, self.batch_size)
        return predictors[image_shape]

    def _outputs(self, X) -> np.ndarray:
        """``model_``'s outputs for images (the head's on cached features of a frozen backbone)."""
        check_is_fitted(self, "head_")
        images = self._images(X, reset=False)
        shape = images.shape or self.image_shape_
        if shape != self.image_shape_:
            raise ValueError(
                f"X holds images of shape {shape}, but {self._name} was fitted on images of shape "
                f"{self.image_shape_}; resize them (or pass image files, which are resized)."
            )
        cache = self._feature_cache() if self._frozen_backbone else None
        if cache is not None:  # the head on cached features of the frozen backbone
            features = cache.lookup(self._as_array(images, shape), self._frozen_predictor_features)
            return self.head_.predict(features, batch_size=max(self.batch_size, 256), verbose=0)
        predictor = self._predictor(self.image_shape_)
        batches = images.batches(self.batch_size, size=shape[:2], channels=shape[-1])
        run = self._runner(predictor, len(images))
        return np.concatenate([run(batch) for batch in batches])

    # ---------------------------------------------------------- persistence

    def __getstate__(self):
        # First in the state, so that unpickling (e.g. in a joblib worker) sets TensorFlow's
        # thread counts before any Keras object in the parameters or model_ starts its runtime.
        state = {"_configure_threads": _ConfigureThreadsFirst(self._name), **super().__getstate__()}
        blobs = state["_keras_model_bytes"]
        if "_model" in blobs:  # the head is inside the network: stored once
            blobs.pop("head_", None)
        return state

    def __setstate__(self, state):
        state = dict(state)
        state.pop("_configure_threads", None)
        super().__setstate__(state)
        if self.__dict__.get("_model") is not None:
            self.head_ = self._model.get_layer("head")
        self.__dict__.setdefault("_model", None)

    def export(self, path, format="keras"):
        """Save the fitted network for serving without scikit-learn.

        The network takes raw images of shape ``image_shape_`` (float32; 2-D rows reshaped)
        and returns what ``model_`` returns (see the estimator's ``model_``).

        Parameters
        ----------
        path : str or path-like
            A ``.keras`` file, a SavedModel folder or a ``.tflite`` file.
        format : {"keras", "saved_model", "tflite"}, default="keras"
            ``"keras"``: a Keras archive, loaded with ``keras.saving.load_model`` once
            ``skltransfer.keras`` is imported (its custom layers are registered under
            ``skltransfer>``). ``"saved_model"``: a TensorFlow SavedModel with a ``serve``
            endpoint. ``"tflite"``: a TensorFlow Lite flat buffer.

        Returns
        -------
        path : str
        """
        check_is_fitted(self, "head_")
        return export_model(self.model_, path, format)

    def __skltransfer_tags__(self) -> DomainTags:
        return DomainTags(learns_from_unlabeled=self.domain_loss is not None)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


class _ConfigureThreadsFirst:
    """Unpickles as :func:`require_keras`, which sets TensorFlow's threads from joblib's budget."""

    def __init__(self, purpose: str):
        self.purpose = purpose

    def __reduce__(self):
        return (require_keras, (self.purpose,))


def _standardization(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of the training features; constant features get a variance of 1."""
    features = np.asarray(features, dtype=np.float64)
    variance = features.var(axis=0)
    variance[variance < 1e-12] = 1.0
    return features.mean(axis=0).astype(np.float32), variance.astype(np.float32)


def _chunks(x: np.ndarray, size: int):
    for start in range(0, len(x), size):
        yield x[start : start + size]
