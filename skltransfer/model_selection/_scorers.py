"""Unsupervised domain adaptation scorers: choose hyperparameters without target labels.

Each scorer is a plain callable ``scorer(estimator, X, y, sample_domain=None) -> float``
usable as ``scoring=`` in ``GridSearchCV`` / ``cross_val_score``, higher is better. The rows
of ``X`` are split into labeled source rows and target rows by the domain convention
(``y == -1`` marks target rows, NaN for a regressor's float targets; ``sample_domain < 0``
does when given). Target labels are never read. The importance-weighted and deep embedded
validation scorers also score regressors, with the squared error as their loss; the scorers
of the target rows' predicted probabilities (prediction entropy, information maximization,
soft neighborhood density) score classifiers with ``predict_proba``. A test
fold needs target rows: use a splitter with ``unlabeled_in_test=True``
(:class:`~skltransfer.model_selection.DomainAwareSplit`).
"""

from __future__ import annotations

import inspect
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import clone, is_regressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from sklearn.utils.metadata_routing import MetadataRequest

from .._domains import estimator_regression, resolve_domains, stack_domains, unlabeled_mask
from ..utils._sklearn_compat import Interval, _safe_indexing, validate_parameter_constraints

__all__ = [
    "CircularValidationScorer",
    "DeepEmbeddedValidationScorer",
    "ImportanceWeightedScorer",
    "InformationMaximizationScorer",
    "PredictionEntropyScorer",
    "SoftNeighborhoodDensityScorer",
]

_EPS = 1e-12


def _split_rows(estimator, y, sample_domain, n_samples: int, owner: str, *, need_source: bool):
    """Indices of the labeled source rows and of the target rows of a test fold.

    ``y`` is read as ``estimator``'s targets: NaN marks a regressor's unlabeled rows.
    """
    y = np.asarray(y) if y is not None else None
    regression = estimator_regression(estimator)
    if sample_domain is None:
        if y is None:
            raise ValueError(f"{owner} needs y (-1 for target rows) or sample_domain.")
        target = unlabeled_mask(y, regression=regression)
        source = ~target
    else:
        domains = resolve_domains(
            y,
            sample_domain,
            n_samples=n_samples,
            require_source=False,
            require_target=False,
            regression=regression,
        )
        target = domains.target
        source = domains.source & domains.labeled
    if not target.any():
        raise ValueError(
            f"{owner} found no target row in the rows it scores: use a splitter that puts the "
            "unlabeled rows in the test folds, e.g. DomainAwareSplit(cv, unlabeled_in_test=True)."
        )
    if need_source and not source.any():
        raise ValueError(f"{owner} found no labeled source row in the rows it scores.")
    return np.flatnonzero(source), np.flatnonzero(target)


def _target_proba(estimator, X, target, owner: str) -> np.ndarray:
    """Predicted class probabilities of the target rows ``target`` of ``X``."""
    if not hasattr(estimator, "predict_proba"):
        raise ValueError(f"{owner} needs predict_proba, which {type(estimator).__name__} lacks.")
    return estimator.predict_proba(_safe_indexing(X, target))


def _entropy(proba: np.ndarray) -> np.ndarray:
    """Entropy (natural log) of each row of ``proba``, or of ``proba`` itself when 1-D."""
    return -np.sum(proba * np.log(np.clip(proba, _EPS, 1.0)), axis=-1)


def transform_by_domain(estimator, X, source_rows):
    """Features of ``X`` after the transformers of a pipeline, each row mapped by its domain.

    Steps whose ``transform`` takes ``sample_domain`` (the aligners) map the source rows
    with the source map. Returns ``X`` itself for an estimator that is not a ``Pipeline``.
    """
    if not isinstance(estimator, Pipeline) or len(estimator.steps) < 2:
        return X
    sample_domain = np.full(X.shape[0], -1, dtype=np.int64)
    sample_domain[source_rows] = 0
    for _, step in estimator.steps[:-1]:
        if step is None or step == "passthrough":
            continue
        if "sample_domain" in inspect.signature(step.transform).parameters:
            X = step.transform(X, sample_domain=sample_domain)
        else:
            X = step.transform(X)
    return X


def _density_ratio(domain_classifier, features, source, target) -> np.ndarray:
    """``p_target(x) / p_source(x)`` at the source rows, from a probabilistic domain classifier."""
    Z = np.concatenate([_safe_indexing(features, source), _safe_indexing(features, target)])
    d = np.concatenate([np.zeros(source.shape[0]), np.ones(target.shape[0])])
    clf = clone(domain_classifier if domain_classifier is not None else LogisticRegression(max_iter=1000))
    p = clf.fit(Z, d).predict_proba(Z[: source.shape[0]])[:, list(clf.classes_).index(1.0)]
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return (p / (1 - p)) * (source.shape[0] / target.shape[0])


class _DomainScorer:
    """Shared machinery: metadata routing of ``sample_domain``, parameters, repr.

    ``get_params`` / ``set_params`` read the parameters from ``__init__``'s signature, as
    scikit-learn's estimators do, so that ``sklearn.base.clone`` copies a scorer.
    """

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return sorted(
            name
            for name, p in signature.parameters.items()
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        )

    def get_params(self, deep: bool = True) -> dict:
        """Get the parameters of the scorer; with ``deep``, also those of estimator parameters.

        Parameters
        ----------
        deep : bool, default=True
            Also return ``name__param`` of every parameter that has ``get_params``.

        Returns
        -------
        params : dict
        """
        params = {name: getattr(self, name) for name in self._param_names()}
        if deep:
            for name, value in list(params.items()):
                if hasattr(value, "get_params") and not isinstance(value, type):
                    params.update({f"{name}__{key}": v for key, v in value.get_params().items()})
        return params

    def set_params(self, **params):
        """Set parameters (``name__param`` reaches an estimator parameter).

        Parameters
        ----------
        **params : dict

        Returns
        -------
        self : the scorer
        """
        valid = self._param_names()
        for key, value in params.items():
            name, _, nested = key.partition("__")
            if name not in valid:
                raise ValueError(f"Invalid parameter {name!r} for {type(self).__name__}; valid: {valid}.")
            if nested:
                getattr(self, name).set_params(**{nested: value})
            else:
                setattr(self, name, value)
        return self

    def get_metadata_routing(self) -> MetadataRequest:
        """Request ``sample_domain`` for scoring (used when metadata routing is enabled).

        Returns
        -------
        routing : MetadataRequest
            The request of ``sample_domain`` by ``score``.
        """
        request = MetadataRequest(owner=self)
        request.score.add_request(param="sample_domain", alias=True)
        return request

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({params})"


class PredictionEntropyScorer(_DomainScorer):
    """Negative mean entropy of the predicted class probabilities on the target rows.

    Confident predictions on the target domain score high (Morerio et al. 2018). Higher
    is better; 0 is the maximum.

    Assumes the classes are well separated in the target domain (cluster assumption), so
    a good adaptation makes confident target predictions. Caveats: a model can be
    confidently wrong (collapsing onto one class scores 0), and it cannot rank models
    whose probabilities are all 0 or 1 (e.g. a 1-nearest-neighbour classifier).

    See Also
    --------
    InformationMaximizationScorer : Add a diversity term, so that collapsing onto one class
        does not score best.
    SoftNeighborhoodDensityScorer : Reward consistent predictions of neighbouring target rows.

    References
    ----------
    P. Morerio, J. Cavazza and V. Murino, "Minimal-Entropy Correlation Alignment for
    Unsupervised Deep Domain Adaptation", ICLR 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skltransfer import make_da_pipeline, stack_domains
    >>> from skltransfer.metrics import PredictionEntropyScorer
    >>> rng = np.random.default_rng(0)
    >>> Xs = rng.normal(size=(40, 2)); ys = (Xs[:, 0] > 0).astype(int)
    >>> X, y = stack_domains(Xs, ys, Xs + 0.1)
    >>> pipe = make_da_pipeline(LogisticRegression()).fit(X, y)
    >>> bool(PredictionEntropyScorer()(pipe, X, y) < 0)
    True
    """

    def __call__(self, estimator, X, y=None, sample_domain=None) -> float:
        """Score ``estimator`` on the target rows of ``X``.

        Parameters
        ----------
        estimator : fitted classifier with ``predict_proba``
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), default=None
            ``-1`` marks target rows; other values are not read.
        sample_domain : array-like of int of shape (n_samples,), default=None
            ``< 0`` marks target rows (overrides ``y``).

        Returns
        -------
        score : float

        Raises
        ------
        ValueError
            When no row is a target row or the estimator has no ``predict_proba``.
        """
        _, target = _split_rows(
            estimator, y, sample_domain, len(X), "PredictionEntropyScorer", need_source=False
        )
        proba = _target_proba(estimator, X, target, "PredictionEntropyScorer")
        return float(-np.mean(_entropy(proba)))


class InformationMaximizationScorer(_DomainScorer):
    r"""Information maximization: diversity minus conditional entropy of the target predictions.

    With ``p_i`` the predicted class probabilities of target row ``i`` and ``H`` the
    entropy (natural log), the score is ``H(mean_i p_i) - mean_i H(p_i)``: the empirical
    mutual information between the target rows and their predicted class (Gomes et al.
    2010), and minus the information maximization loss of SHOT (Liang et al. 2020). Higher
    is better; it lies in :math:`[0, \log K]` for :math:`K` classes.

    The second term rewards confident predictions, as :class:`PredictionEntropyScorer`
    does; the first rewards predictions spread over the classes, so that a model collapsing
    onto one class scores 0 instead of the maximum. Assumes the classes are well separated
    in the target domain and roughly balanced there: under a strong class imbalance of the
    target the diversity term favours models that spread the rows too evenly. With
    probabilities all 0 or 1 (e.g. a 1-nearest-neighbour classifier) the score is the
    entropy of the predicted class frequencies.

    See Also
    --------
    PredictionEntropyScorer : The conditional entropy term alone.
    SoftNeighborhoodDensityScorer : Reward consistent predictions of neighbouring target rows.

    References
    ----------
    R. Gomes, A. Krause and P. Perona, "Discriminative Clustering by Regularized Information
    Maximization", NeurIPS 2010.
    J. Liang, D. Hu and J. Feng, "Do We Really Need to Access the Source Data? Source
    Hypothesis Transfer for Unsupervised Domain Adaptation", ICML 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skltransfer import make_da_pipeline, stack_domains
    >>> from skltransfer.model_selection import InformationMaximizationScorer
    >>> rng = np.random.default_rng(0)
    >>> Xs = rng.normal(size=(40, 2)); ys = (Xs[:, 0] > 0).astype(int)
    >>> X, y = stack_domains(Xs, ys, Xs + 0.1)
    >>> pipe = make_da_pipeline(LogisticRegression()).fit(X, y)
    >>> bool(0 < InformationMaximizationScorer()(pipe, X, y) <= np.log(2))
    True
    """

    def __call__(self, estimator, X, y=None, sample_domain=None) -> float:
        r"""Score ``estimator`` on the target rows of ``X``.

        Parameters
        ----------
        estimator : fitted classifier with ``predict_proba``
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), default=None
            ``-1`` marks target rows; other values are not read.
        sample_domain : array-like of int of shape (n_samples,), default=None
            ``< 0`` marks target rows (overrides ``y``).

        Returns
        -------
        score : float
            In :math:`[0, \log K]` for :math:`K` classes.

        Raises
        ------
        ValueError
            When no row is a target row or the estimator has no ``predict_proba``.
        """
        _, target = _split_rows(
            estimator, y, sample_domain, len(X), "InformationMaximizationScorer", need_source=False
        )
        proba = _target_proba(estimator, X, target, "InformationMaximizationScorer")
        return float(_entropy(np.mean(proba, axis=0)) - np.mean(_entropy(proba)))


class SoftNeighborhoodDensityScorer(_DomainScorer):
    r"""Soft neighborhood density (SND, Saito et al. 2021): how densely the target predictions cluster.

    The predicted class probabilities of the target rows are L2-normalised; ``S`` is the
    matrix of their cosine similarities. Each row ``i`` gets a soft neighbourhood, the
    softmax of ``S[i, j] / temperature`` over the other rows ``j != i`` (its own similarity
    excluded), and the score is the mean entropy (natural log) of these distributions. A
    high score means each target row has many near neighbours in the space of predictions:
    the target rows form dense clusters, as the cluster assumption expects of a good
    adaptation. Higher is better; it lies in :math:`[0, \log(m - 1)]` for :math:`m` scored rows.

    Unlike :class:`PredictionEntropyScorer` it rewards consistent predictions of
    neighbouring rows rather than confidence alone. Caveat: a model predicting the same
    probabilities for every row gives every row uniform neighbourhoods, the maximum score,
    and a model putting most target rows in a few classes scores high too; check it against
    :class:`InformationMaximizationScorer`, which scores a collapse 0.

    The paper's code fills the diagonal of ``S / temperature`` with ``-1 / temperature``
    instead of excluding it; as probabilities are non-negative (``S`` in ``[0, 1]``), the
    self weight is then below :math:`e^{-1 / T} / (m - 1)` (:math:`T` the temperature), negligible at the
    default temperature.

    The similarity matrix takes :math:`O(m^2)` memory: at most ``max_rows`` target rows of
    the scored fold, drawn without replacement, are scored. Scores over different numbers
    of rows are not comparable (the maximum grows with ``m``); a search compares its
    candidates on the same folds, hence on the same number of rows.

    Parameters
    ----------
    temperature : float, default=0.05
        Softmax temperature of the similarities (the paper's value); smaller values
        concentrate each neighbourhood on the nearest rows.
    max_rows : int or None, default=1000
        Most target rows scored per call; more are subsampled. None scores every row.
    random_state : int, RandomState instance or None, default=0
        Draws the subsample. An int scores every candidate of a search on the same rows of
        a fold; a RandomState instance or None draws new rows at each call.

    See Also
    --------
    PredictionEntropyScorer : Reward confident target predictions.
    InformationMaximizationScorer : Reward confident and diverse target predictions.

    References
    ----------
    K. Saito, D. Kim, P. Teterwak, S. Sclaroff, T. Darrell and K. Saenko, "Tune it the Right
    Way: Unsupervised Validation of Domain Adaptation via Soft Neighborhood Density",
    ICCV 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skltransfer import make_da_pipeline, stack_domains
    >>> from skltransfer.model_selection import SoftNeighborhoodDensityScorer
    >>> rng = np.random.default_rng(0)
    >>> Xs = rng.normal(size=(40, 2)); ys = (Xs[:, 0] > 0).astype(int)
    >>> X, y = stack_domains(Xs, ys, Xs + 0.1)
    >>> pipe = make_da_pipeline(LogisticRegression()).fit(X, y)
    >>> bool(0 < SoftNeighborhoodDensityScorer()(pipe, X, y) <= np.log(39))
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "max_rows": [Interval(Integral, 2, None, closed="left"), None],
        "random_state": ["random_state"],
    }

    def __init__(self, temperature=0.05, max_rows=1000, random_state=0):
        self.temperature = temperature
        self.max_rows = max_rows
        self.random_state = random_state

    def __call__(self, estimator, X, y=None, sample_domain=None) -> float:
        r"""Score ``estimator`` on the target rows of ``X``.

        Parameters
        ----------
        estimator : fitted classifier with ``predict_proba``
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), default=None
            ``-1`` marks target rows; other values are not read.
        sample_domain : array-like of int of shape (n_samples,), default=None
            ``< 0`` marks target rows (overrides ``y``).

        Returns
        -------
        score : float
            In :math:`[0, \log(m - 1)]` for :math:`m` scored target rows.

        Raises
        ------
        ValueError
            When fewer than two rows are target rows, the estimator has no
            ``predict_proba``, or a parameter is out of range.
        """
        owner = "SoftNeighborhoodDensityScorer"
        validate_parameter_constraints(
            self._parameter_constraints, self.get_params(deep=False), caller_name=owner
        )
        _, target = _split_rows(estimator, y, sample_domain, len(X), owner, need_source=False)
        if target.shape[0] < 2:
            raise ValueError(f"{owner} needs at least 2 target rows to compare, got {target.shape[0]}.")
        if self.max_rows is not None and target.shape[0] > self.max_rows:
            rng = check_random_state(self.random_state)
            target = np.sort(rng.choice(target, size=self.max_rows, replace=False))
        proba = _target_proba(estimator, X, target, owner)
        unit = proba / np.linalg.norm(proba, axis=1, keepdims=True)  # rows sum to 1: norms > 0
        logits = (unit @ unit.T) / self.temperature
        np.fill_diagonal(logits, -np.inf)
        logits -= logits.max(axis=1, keepdims=True)
        neighbours = np.exp(logits)
        neighbours /= neighbours.sum(axis=1, keepdims=True)
        return float(np.mean(_entropy(neighbours)))


class ImportanceWeightedScorer(_DomainScorer):
    r"""Importance-weighted accuracy (or minus squared error) on the labeled source rows (IWCV).

    The accuracy of the held-out source rows, each weighted by the density ratio
    :math:`w(x) = p_t(x) / p_s(x)`, estimates the target accuracy (Sugiyama et al.
    2007). For a regressor the score is minus the weighted mean squared error, which
    estimates minus the target mean squared error. The ratio comes from
    a probabilistic domain classifier trained to tell the source rows from the target rows
    of the scored fold: :math:`w = \frac{P(t \mid x)}{P(s \mid x)} \cdot \frac{n_s}{n_t}`.

    Assumes covariate shift: the input distribution changes but ``p(y | x)`` is shared,
    and the target rows lie where the source rows do (bounded density ratio). The ratio is
    estimated on the input features ``X`` as given to the estimator. The default domain
    classifier, a logistic regression, models a log-linear density ratio (exact for Gaussian
    domains of equal covariance); give a richer one (e.g. polynomial features) otherwise.

    Parameters
    ----------
    domain_classifier : classifier with predict_proba, default=None
        Tells source (0) from target (1) rows; None uses
        ``LogisticRegression(max_iter=1000)``.

    See Also
    --------
    DeepEmbeddedValidationScorer : The density ratio in the embedded space, with a control
        variate.
    CircularValidationScorer : Score the way back from the pseudo-labeled target.

    References
    ----------
    M. Sugiyama, M. Krauledat and K.-R. Müller, "Covariate Shift Adaptation by Importance
    Weighted Cross Validation", Journal of Machine Learning Research 8, 2007.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skltransfer import make_da_pipeline, stack_domains
    >>> from skltransfer.metrics import ImportanceWeightedScorer
    >>> rng = np.random.default_rng(0)
    >>> Xs = rng.normal(size=(40, 2)); ys = (Xs[:, 0] > 0).astype(int)
    >>> X, y = stack_domains(Xs, ys, Xs + 0.1)
    >>> pipe = make_da_pipeline(LogisticRegression()).fit(X, y)
    >>> bool(0.9 <= ImportanceWeightedScorer()(pipe, X, y) <= 1.0)
    True
    """

    def __init__(self, domain_classifier=None):
        self.domain_classifier = domain_classifier

    def __call__(self, estimator, X, y, sample_domain=None) -> float:
        """Score ``estimator``: importance-weighted accuracy on the labeled source rows.

        Parameters
        ----------
        estimator : fitted classifier or regressor
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Source labels; ``-1`` marks target rows, whose values are never read.
        sample_domain : array-like of int of shape (n_samples,), default=None
            ``>= 0`` source, ``< 0`` target rows (overrides ``y``).

        Returns
        -------
        score : float
            In [0, 1] for a classifier; minus a mean squared error for a regressor.

        Raises
        ------
        ValueError
            When the rows hold no target row or no labeled source row.
        """
        source, target = _split_rows(
            estimator, y, sample_domain, len(X), "ImportanceWeightedScorer", need_source=True
        )
        weights = _density_ratio(self.domain_classifier, X, source, target)
        prediction, y_source = estimator.predict(_safe_indexing(X, source)), np.asarray(y)[source]
        if is_regressor(estimator):
            return float(-np.sum(weights * (prediction - y_source) ** 2) / np.sum(weights))
        return float(np.sum(weights * (prediction == y_source)) / np.sum(weights))


class DeepEmbeddedValidationScorer(_DomainScorer):
    r"""Deep embedded validation (DEV, You et al. 2019): a control-variate importance-weighted loss.

    The held-out source rows are weighted by the density ratio estimated in the
    *embedded* space (the output of the pipeline's transformers, each row mapped by its
    domain), which is where the adapted classifier works. The weighted loss :math:`L = w l`
    gets the control variate :math:`w` (whose mean is 1):
    :math:`\text{risk} = \bar{L} + \eta \bar{w} - \eta` with
    :math:`\eta = -\operatorname{Cov}(L, w) / \operatorname{Var}(w)`, which lowers the variance
    of the estimate. Returns :math:`-\text{risk}`, so higher is better. The loss :math:`l` is
    the squared error for a regressor, the log loss for a classifier with ``predict_proba``,
    else the 0-1 loss.

    Assumes covariate shift in the embedded space (shared ``p(y | z)``) and a density ratio
    a domain classifier can estimate there. The domain classifier is trained on the scored
    fold's source and target rows (the paper uses the training rows).

    Parameters
    ----------
    domain_classifier : classifier with predict_proba, default=None
        Tells source (0) from target (1) embedded rows; None uses
        ``LogisticRegression(max_iter=1000)``.

    See Also
    --------
    ImportanceWeightedScorer : The density ratio on the input features, without control
        variate.
    CircularValidationScorer : Score the way back from the pseudo-labeled target.

    References
    ----------
    K. You, X. Wang, M. Long and M. I. Jordan, "Towards Accurate Model Selection in Deep
    Unsupervised Domain Adaptation", ICML 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skltransfer import make_da_pipeline, stack_domains
    >>> from skltransfer.metrics import DeepEmbeddedValidationScorer
    >>> rng = np.random.default_rng(0)
    >>> Xs = rng.normal(size=(40, 2)); ys = (Xs[:, 0] > 0).astype(int)
    >>> X, y = stack_domains(Xs, ys, Xs + 0.1)
    >>> pipe = make_da_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    >>> bool(DeepEmbeddedValidationScorer()(pipe, X, y) < 0)
    True
    """

    def __init__(self, domain_classifier=None):
        self.domain_classifier = domain_classifier

    def __call__(self, estimator, X, y, sample_domain=None) -> float:
        """Score ``estimator``: minus the DEV risk on the labeled source rows.

        Parameters
        ----------
        estimator : fitted classifier or regressor (a ``Pipeline`` to use its embedding)
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Source labels; ``-1`` marks target rows, whose values are never read.
        sample_domain : array-like of int of shape (n_samples,), default=None
            ``>= 0`` source, ``< 0`` target rows (overrides ``y``).

        Returns
        -------
        score : float

        Raises
        ------
        ValueError
            When the rows hold no target row or no labeled source row.
        """
        source, target = _split_rows(
            estimator, y, sample_domain, len(X), "DeepEmbeddedValidationScorer", need_source=True
        )
        features = transform_by_domain(estimator, np.asarray(X), source)
        weights = _density_ratio(self.domain_classifier, features, source, target)
        X_source, y_source = _safe_indexing(X, source), np.asarray(y)[source]
        if is_regressor(estimator):
            loss = (estimator.predict(X_source) - y_source) ** 2
        elif hasattr(estimator, "predict_proba"):
            proba = estimator.predict_proba(X_source)
            classes = list(estimator.classes_)
            p_true = np.array(
                [
                    proba[i, classes.index(label)] if label in classes else 0.0
                    for i, label in enumerate(y_source)
                ]
            )
            loss = -np.log(np.clip(p_true, _EPS, 1.0))
        else:
            loss = (estimator.predict(X_source) != y_source).astype(np.float64)
        weighted = weights * loss
        variance = np.var(weights, ddof=1) if weights.shape[0] > 1 else 0.0
        eta = -np.cov(weighted, weights)[0, 1] / variance if variance > 0 else 0.0
        risk = np.mean(weighted) + eta * np.mean(weights) - eta
        return float(-risk)


class CircularValidationScorer(_DomainScorer):
    """Circular (reverse) validation: train back from the pseudo-labeled target to the source.

    The fitted model labels the target rows; a clone of it is fitted on the reversed
    problem (the pseudo-labeled target rows as the labeled source, the held-out source rows
    as the unlabeled target) and predicts the held-out source rows. Its accuracy there is
    the score (Bruzzone & Marconcini 2010; Zhong et al. 2010): if the forward model labeled
    the target well, the way back works too.

    Assumes the adaptation is symmetric enough to run from target to source, and that the
    estimator follows the domain convention (``y == -1`` marks unlabeled rows, e.g. a
    ``make_da_pipeline``). It costs one extra fit per call. When the pseudo-labels hold a
    single class, the reversed model is that constant prediction.

    See Also
    --------
    ImportanceWeightedScorer : Importance-weighted accuracy on the labeled source rows.
    PredictionEntropyScorer : Confidence of the target predictions, without an extra fit.

    References
    ----------
    L. Bruzzone and M. Marconcini, "Domain Adaptation Problems: A DASVM Classification
    Technique and a Circular Validation Strategy", IEEE TPAMI 32(5), 2010.
    E. Zhong, W. Fan, Q. Yang, O. Verscheure and J. Ren, "Cross Validation Framework to
    Choose amongst Models and Datasets for Transfer Learning", ECML PKDD 2010.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skltransfer import make_da_pipeline, stack_domains
    >>> from skltransfer.metrics import CircularValidationScorer
    >>> rng = np.random.default_rng(0)
    >>> Xs = rng.normal(size=(40, 2)); ys = (Xs[:, 0] > 0).astype(int)
    >>> X, y = stack_domains(Xs, ys, Xs + 0.1)
    >>> pipe = make_da_pipeline(LogisticRegression()).fit(X, y)
    >>> bool(CircularValidationScorer()(pipe, X, y) > 0.9)
    True
    """

    def __call__(self, estimator, X, y, sample_domain=None) -> float:
        """Score ``estimator``: accuracy of the reversed model on the labeled source rows.

        Parameters
        ----------
        estimator : fitted domain adaptation classifier
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Source labels; ``-1`` marks target rows, whose values are never read.
        sample_domain : array-like of int of shape (n_samples,), default=None
            ``>= 0`` source, ``< 0`` target rows (overrides ``y``).

        Returns
        -------
        score : float
            In [0, 1].

        Raises
        ------
        ValueError
            When the rows hold no target row or no labeled source row, or ``estimator``
            is a regressor.
        """
        if is_regressor(estimator):
            raise ValueError(
                "CircularValidationScorer scores classifiers (the accuracy of the reversed "
                "model); for a regressor use ImportanceWeightedScorer or DeepEmbeddedValidationScorer."
            )
        source, target = _split_rows(
            estimator, y, sample_domain, len(X), "CircularValidationScorer", need_source=True
        )
        X_source, y_source = _safe_indexing(X, source), np.asarray(y)[source]
        X_target = _safe_indexing(X, target)
        pseudo = estimator.predict(X_target)
        if np.unique(pseudo).shape[0] < 2:
            return float(np.mean(y_source == pseudo[0]))
        X_rev, y_rev = stack_domains(X_target, pseudo, X_source)
        reverse = clone(estimator).fit(X_rev, y_rev)
        return float(np.mean(reverse.predict(X_source) == y_source))
