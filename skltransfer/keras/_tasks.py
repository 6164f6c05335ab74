"""The task of a fine-tuned estimator: classification or regression.

As the loss objects of scikit-learn's gradient boosting and the target encoders of
scikeras, a task owns what the fine-tuning recipe does differently for its targets: which
rows are unlabeled, how targets are encoded for the network (class codes, standardised
floats), the sample weights and the stratification of the validation split, the output
layer, the Keras loss and metric, the exact solve of a linear head on fixed features, and
the training objective as Keras reports it. A task is made at ``fit`` and keeps what it
learned of the targets (the classes, the targets' scale).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import keras
import numpy as np
from scipy.special import logsumexp
from sklearn.metrics import r2_score
from sklearn.utils import check_array, column_or_1d
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length

from .._domains import Domains, resolve_domains, unlabeled_mask
from ._logistic_head import MAX_ITER as LOGISTIC_MAX_ITER
from ._logistic_head import logistic_penalty, solve_logistic_head
from ._ridge_head import MAX_ITER as ELASTIC_NET_MAX_ITER
from ._ridge_head import ridge_penalty, solve_ridge_head

__all__ = ["Classification", "Regression", "Task"]


class Task(ABC):
    """What the recipe of a fine-tuned estimator asks of its targets.

    Parameters
    ----------
    owner : str
        The estimator's name, for error messages.
    """

    #: Keras loss of the training head's output and training metric of ``history_``.
    keras_loss: ClassVar[str]
    metric: ClassVar[str]
    #: What a prediction that ignores the image is called in the collapse warning.
    constant_prediction: ClassVar[str]
    #: How ``y`` marks unlabeled target rows (in error messages).
    unlabeled_marker: ClassVar[str]
    #: Whether the targets are floats (NaN marks unlabeled rows) rather than class labels.
    regression: ClassVar[bool]

    def __init__(self, owner: str):
        self.owner = owner

    def domains(self, y, sample_domain, n_samples: int) -> Domains:
        """The source, target and labeled rows of ``y`` (or of ``sample_domain``)."""
        return resolve_domains(y, sample_domain, n_samples=n_samples)

    @abstractmethod
    def unlabeled(self, y, n_samples: int) -> np.ndarray:
        """Boolean mask of the rows of ``y`` without a target (the domain convention's marker)."""

    @abstractmethod
    def encode(self, y, labeled: np.ndarray) -> np.ndarray:
        """Learn the targets' form (classes, scale); return the training targets of the ``labeled`` rows."""

    @property
    @abstractmethod
    def n_outputs(self) -> int:
        """Units of the head's output layer."""

    def sample_weight(self, targets: np.ndarray) -> np.ndarray:
        """Per-row weights of the loss."""
        return np.ones(len(targets), dtype=np.float32)

    def stratify(self, targets: np.ndarray) -> np.ndarray | None:
        """What the validation split is stratified by (None: not stratified)."""
        return None

    @abstractmethod
    def auto_l2(self, n_train: int) -> float:
        """The ``l2="auto"`` penalty for ``n_train`` training rows."""

    @abstractmethod
    def output_layer(self) -> dict:
        """Keyword arguments of :func:`~skltransfer.keras._heads.build_head` that make the output."""

    def training_head(self, head):
        """The part of ``head`` that the loss is computed on (the head itself by default)."""
        return head

    @abstractmethod
    def solve_head(self, head, features, targets, sample_weight, *, l1: float, l2: float) -> dict:
        """Phase 1 of a linear head on fixed features, solved exactly and written into ``head``."""

    @abstractmethod
    def objective(self, outputs: np.ndarray, targets: np.ndarray, sample_weight: np.ndarray) -> float:
        """The training loss (mean of the weighted row losses, as Keras') of the network's ``outputs``."""

    @abstractmethod
    def constant_guess(self, targets: np.ndarray) -> float:
        """The training metric of the best prediction that ignores the images."""


class Classification(Task):
    """Class labels: softmax output, cross-entropy, accuracy, the exact logistic regression.

    Parameters
    ----------
    owner : str
    class_weight : "balanced", dict or None
        Weights of the classes in the loss (a dict maps labels to weights).

    Attributes
    ----------
    classes_ : ndarray
        The class labels, set by :meth:`encode`.
    """

    keras_loss = "sparse_categorical_crossentropy"
    metric = "accuracy"
    constant_prediction = "always predicting the most frequent class"
    unlabeled_marker = "y == -1"
    regression = False

    def __init__(self, owner: str, class_weight=None):
        super().__init__(owner)
        self.class_weight = class_weight

    def unlabeled(self, y, n_samples: int) -> np.ndarray:
        """Rows labeled ``-1`` (or NaN, or None in an object array): class labels, never values."""
        y = column_or_1d(y, warn=True)
        check_consistent_length(np.empty(n_samples), y)
        return unlabeled_mask(y, regression=False)

    def encode(self, y, labeled) -> np.ndarray:
        """Learn ``classes_``; return the class codes of the labeled rows."""
        y = column_or_1d(y, warn=True)[labeled]
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{self.owner} needs samples of at least 2 classes in y; got only one class: "
                f"{self.classes_[0]!r}."
            )
        return codes.astype(np.int64)

    @property
    def n_outputs(self) -> int:
        return len(self.classes_)

    def sample_weight(self, codes: np.ndarray) -> np.ndarray:
        """Per-row weights from ``class_weight``."""
        per_class = np.ones(len(self.classes_))
        if isinstance(self.class_weight, str):
            per_class = compute_class_weight("balanced", classes=np.arange(len(self.classes_)), y=codes)
        elif self.class_weight is not None:
            unknown = [c for c in self.class_weight if c not in set(self.classes_.tolist())]
            if unknown:
                raise ValueError(
                    f"class_weight names classes not in y: {unknown}; "
                    f"the classes are {self.classes_.tolist()}."
                )
            for i, c in enumerate(self.classes_):
                per_class[i] = self.class_weight.get(c, 1.0)
        return per_class[codes].astype(np.float32)

    def stratify(self, codes: np.ndarray) -> np.ndarray:
        return codes

    def auto_l2(self, n_train: int) -> float:
        """``1 / (2 n)``: the penalty of scikit-learn's ``LogisticRegression(C=1.0)``."""
        return 1.0 / (2 * n_train)

    def output_layer(self) -> dict:
        return {"activation": "softmax", "output_name": "probabilities"}

    def solve_head(self, head, features, codes, sample_weight, *, l1: float, l2: float) -> dict:
        """The exact logistic regression of a linear head, written into ``head``."""
        z = np.asarray(head.get_layer("standardize")(features), dtype=np.float64)
        C, l1_ratio = logistic_penalty(l1, l2, len(codes), len(self.classes_))
        kernel, bias, n_iter = solve_logistic_head(
            z, codes, sample_weight, len(self.classes_), C=C, l1_ratio=l1_ratio
        )
        head.get_layer("probabilities").set_weights([kernel, bias])
        logits = z @ kernel + bias
        return {
            "loss": [_cross_entropy(logits, codes, sample_weight)],
            "accuracy": [float(np.mean(np.argmax(logits, axis=1) == codes))],
            "steps": [n_iter],
            "stop_reason": "budget" if n_iter >= LOGISTIC_MAX_ITER else "converged",
        }

    def objective(self, proba: np.ndarray, codes: np.ndarray, sample_weight: np.ndarray) -> float:
        """The mean weighted cross-entropy of the probabilities, as Keras reports the loss."""
        return _cross_entropy(np.log(np.clip(proba, 1e-12, None)), codes, sample_weight)

    def constant_guess(self, codes: np.ndarray) -> float:
        """The accuracy of always predicting the most frequent class."""
        return np.bincount(codes).max() / len(codes)


class Regression(Task):
    """Float targets, standardised inside: linear output, squared error, R^2, the exact ridge.

    Attributes
    ----------
    n_outputs_ : int
    mean_, scale_ : ndarray of shape (n_outputs_,)
        The training targets' mean and standard deviation (1 for a constant target).
    one_dimensional_ : bool
        Whether ``y`` was 1-D (predictions take its shape).
    """

    keras_loss = "mean_squared_error"
    metric = "r2_score"
    constant_prediction = "always predicting the mean"
    unlabeled_marker = "NaN in y"
    regression = True

    def domains(self, y, sample_domain, n_samples: int) -> Domains:
        """Domains from NaN targets (a row of a 2-D ``y`` with any NaN is unlabeled)."""
        marker = np.where(unlabeled_mask(float_targets(y, self.owner), regression=True), np.nan, 0.0)
        return resolve_domains(marker, sample_domain, n_samples=n_samples, regression=True)

    def unlabeled(self, y, n_samples: int) -> np.ndarray:
        """Rows with a NaN target (any NaN of a 2-D ``y``); ``-1.0`` is a value like any other."""
        y = float_targets(y, self.owner)
        check_consistent_length(np.empty(n_samples), y)
        return unlabeled_mask(y, regression=True)

    def encode(self, y, labeled) -> np.ndarray:
        """Learn the targets' shape and scale; return the standardised 2-D targets of the labeled rows."""
        y = float_targets(y, self.owner)[labeled]
        self.one_dimensional_ = y.ndim == 1
        y = y.reshape(len(y), -1)
        self.n_outputs_ = y.shape[1]
        scale = y.std(axis=0)
        scale[scale < 1e-12] = 1.0
        self.mean_, self.scale_ = y.mean(axis=0), scale
        return ((y - self.mean_) / scale).astype(np.float32)

    @property
    def n_outputs(self) -> int:
        return self.n_outputs_

    def auto_l2(self, n_train: int) -> float:
        """``1 / (n k)``: the penalty of scikit-learn's ``Ridge(alpha=1.0)`` (see ``_ridge_head``)."""
        return 1.0 / (n_train * self.n_outputs_)

    def output_layer(self) -> dict:
        rescale = (self.scale_.astype(np.float32), self.mean_.astype(np.float32))
        return {"activation": None, "output_name": "predictions", "rescale": rescale}

    def training_head(self, head):
        """The head up to ``"predictions"``: the loss compares standardised targets."""
        return keras.Model(head.inputs, head.get_layer("predictions").output, name="standardized_head")

    def solve_head(self, head, features, targets, sample_weight, *, l1: float, l2: float) -> dict:
        """The exact ridge (or elastic net) solution of a linear head, written into ``head``."""
        z = np.asarray(head.get_layer("standardize")(features), dtype=np.float64)
        alpha, l1_ratio = ridge_penalty(l1, l2, len(targets), targets.shape[1])
        kernel, bias, n_iter = solve_ridge_head(z, targets, sample_weight, alpha=alpha, l1_ratio=l1_ratio)
        head.get_layer("predictions").set_weights([kernel, bias])
        predicted = z @ kernel + bias
        return {
            "loss": [_squared_error(predicted, targets, sample_weight)],
            "r2_score": [float(r2_score(targets, predicted, sample_weight=sample_weight))],
            "steps": [n_iter],
            "stop_reason": "budget" if n_iter >= ELASTIC_NET_MAX_ITER else "converged",
        }

    def objective(self, outputs: np.ndarray, targets: np.ndarray, sample_weight: np.ndarray) -> float:
        """The mean squared error of the standardised targets, as Keras reports the loss."""
        standardized = (np.reshape(outputs, targets.shape) - self.mean_) / self.scale_
        return _squared_error(standardized, targets, sample_weight)

    def constant_guess(self, targets: np.ndarray) -> float:
        """R^2 of always predicting the mean: 0."""
        return 0.0


def float_targets(y, owner: str) -> np.ndarray:
    """``y`` as a 1-D or 2-D float array, NaN (unlabeled rows) allowed, infinity not."""
    if y is None:
        raise ValueError(f"{owner} requires y to be passed, but the target y is None.")
    return check_array(y, ensure_2d=False, dtype=np.float64, ensure_all_finite="allow-nan", input_name="y")


def _cross_entropy(logits: np.ndarray, codes: np.ndarray, sample_weight: np.ndarray) -> float:
    """Keras' sparse categorical cross-entropy of ``logits`` (mean of the weighted row losses)."""
    log_proba = logits - logsumexp(logits, axis=1, keepdims=True)
    return float(np.mean(-log_proba[np.arange(len(codes)), codes] * sample_weight))


def _squared_error(predicted, targets, sample_weight) -> float:
    return float(np.mean(np.mean((predicted - targets) ** 2, axis=1) * sample_weight))
