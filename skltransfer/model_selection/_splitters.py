"""Cross-validation splitters that respect the domains of stacked source + target rows."""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.model_selection import BaseCrossValidator, check_cv
from sklearn.utils import check_random_state

from .._domains import resolve_domains, unlabeled_mask
from ..utils._sklearn_compat import _num_samples

__all__ = ["BootstrapSplit", "DomainAwareSplit", "LeaveOneDomainOut"]


def _unlabeled_rows(y, sample_domain, n_samples: int, owner: str) -> np.ndarray:
    """Boolean mask of the rows that are never tested: unlabeled in ``y``, else target rows.

    ``y`` is read by ``unlabeled_mask`` with no estimator at hand: ``-1`` marks class
    labels' unlabeled rows, NaN float targets'.
    """
    if y is not None:
        mask = unlabeled_mask(y)
        if mask.shape[0] != n_samples:
            raise ValueError(f"{owner}: y has {mask.shape[0]} rows but X has {n_samples}.")
        return mask
    if sample_domain is not None:
        return resolve_domains(
            None, sample_domain, n_samples=n_samples, require_source=False, require_target=False
        ).target
    raise ValueError(
        f"{owner}.split needs y (with -1 for unlabeled target rows) or sample_domain to know "
        "which rows are unlabeled."
    )


def _check_bool(value, name: str, owner: str) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{owner}: {name} must be a bool, got {value!r}.")


class _DomainSplitter(BaseCrossValidator):
    """Shared behaviour: unlabeled rows join every training fold (and test folds on request)."""

    # the splitters consume sample_domain (and groups) when metadata routing is enabled
    __metadata_request__split: ClassVar[dict] = {"groups": True, "sample_domain": True}

    def _emit(self, train_labeled, test_labeled, unlabeled):
        train = np.sort(np.concatenate([train_labeled, unlabeled]))
        test = np.sort(np.concatenate([test_labeled, unlabeled])) if self.unlabeled_in_test else test_labeled
        return train, test


class DomainAwareSplit(_DomainSplitter):
    """Split the labeled rows with any splitter; keep every unlabeled row in every training fold.

    The rows of a domain adaptation fit are labeled (source rows, and labeled target rows
    if any) and unlabeled (target rows, ``y == -1``). Unlabeled rows are information for the
    fit, not test data: every training fold holds all of them, and only the labeled rows are
    split by ``cv``. With ``unlabeled_in_test=True`` the test folds hold them too, which is
    what the unsupervised scorers of :mod:`skltransfer.metrics` read (they never read a
    target label).

    Parameters
    ----------
    cv : int, cross-validation generator or iterable, default=5
        How to split the labeled rows: an int (``StratifiedKFold`` for class labels,
        ``KFold`` otherwise, as :func:`sklearn.model_selection.check_cv`) or any scikit-learn
        splitter (``KFold(5)``, ``LeaveOneOut()``, ``GroupKFold(3)``, ...). It sees only the
        labeled rows, with their ``y`` and ``groups``.
    unlabeled_in_test : bool, default=False
        Also put every unlabeled row in every test fold. Needed by the unsupervised
        scorers; harmless for ``LabeledOnly.score`` (a ``make_da_pipeline``'s default score
        ignores them). Leave it False with plain scikit-learn metrics such as
        ``scoring="accuracy"``, which would count ``-1`` as a label.

    See Also
    --------
    LeaveOneDomainOut : Hold out one source domain at a time.
    BootstrapSplit : Bootstrap the labeled rows, test on the out-of-bag rows.

    Notes
    -----
    The unlabeled rows are those with ``y == -1``, or NaN for a float regression target
    (whose ``-1.0`` is a value; see :func:`skltransfer.stack_domains`). When ``split`` gets
    no ``y``, they are the target rows of ``sample_domain`` (``< 0``), given as a keyword
    (with metadata routing enabled, ``GridSearchCV.fit(X, y, sample_domain=...)`` routes it
    here). ``groups`` are passed on to ``cv`` restricted to the labeled rows, so
    ``GridSearchCV.fit(X, y, groups=sample_domain)`` with
    ``cv=DomainAwareSplit(GroupKFold(2))`` splits by domain.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import KFold
    >>> from skltransfer.model_selection import DomainAwareSplit
    >>> y = np.array([0, 1, 0, 1, -1, -1])
    >>> for train, test in DomainAwareSplit(KFold(2)).split(np.zeros((6, 1)), y):
    ...     print(train.tolist(), test.tolist())
    [2, 3, 4, 5] [0, 1]
    [0, 1, 4, 5] [2, 3]
    """

    def __init__(self, cv=5, *, unlabeled_in_test: bool = False):
        self.cv = cv
        self.unlabeled_in_test = unlabeled_in_test

    def _labeled(self, X, y, groups, sample_domain):
        n_samples = _num_samples(X)
        unlabeled = _unlabeled_rows(y, sample_domain, n_samples, type(self).__name__)
        labeled = np.flatnonzero(~unlabeled)
        if labeled.shape[0] == 0:
            raise ValueError("DomainAwareSplit: no labeled row to split (every y is -1 or NaN).")
        y_lab = None if y is None else np.asarray(y)[labeled]
        groups_lab = None if groups is None else np.asarray(groups)[labeled]
        cv = check_cv(self.cv, y_lab, classifier=y_lab is not None and y_lab.dtype.kind != "f")
        return labeled, np.flatnonzero(unlabeled), y_lab, groups_lab, cv

    def split(self, X, y=None, groups=None, *, sample_domain=None):
        """Generate train / test indices.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), default=None
            Labels, ``-1`` for unlabeled rows (NaN for float regression targets).
        groups : array-like of shape (n_samples,), default=None
            Passed to ``cv`` (labeled rows only).
        sample_domain : array-like of int of shape (n_samples,), default=None
            Domain of each row; used to find the unlabeled rows when ``y`` is None.

        Yields
        ------
        train : ndarray
            The training labeled rows of the fold and every unlabeled row.
        test : ndarray
            The test labeled rows of the fold (and every unlabeled row with
            ``unlabeled_in_test=True``).

        Raises
        ------
        ValueError
            When neither ``y`` nor ``sample_domain`` is given, or no row is labeled.
        """
        _check_bool(self.unlabeled_in_test, "unlabeled_in_test", type(self).__name__)
        labeled, unlabeled, y_lab, groups_lab, cv = self._labeled(X, y, groups, sample_domain)
        for train, test in cv.split(np.zeros((labeled.shape[0], 1)), y_lab, groups_lab):
            yield self._emit(labeled[train], labeled[test], unlabeled)

    def get_n_splits(self, X=None, y=None, groups=None, *, sample_domain=None) -> int:
        """Number of splits: that of ``cv`` over the labeled rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), default=None
            As in :meth:`split`; needed, with the other arguments, when ``cv``'s count
            depends on the data (``LeaveOneOut``, ``LeaveOneGroupOut``).
        y : array-like of shape (n_samples,), default=None
            As in :meth:`split`.
        groups : array-like of shape (n_samples,), default=None
            As in :meth:`split`.
        sample_domain : array-like of int of shape (n_samples,), default=None
            As in :meth:`split`.

        Returns
        -------
        n_splits : int
        """
        if X is None:
            return check_cv(self.cv).get_n_splits()
        labeled, _, y_lab, groups_lab, cv = self._labeled(X, y, groups, sample_domain)
        return cv.get_n_splits(np.zeros((labeled.shape[0], 1)), y_lab, groups_lab)


class LeaveOneDomainOut(_DomainSplitter):
    """Hold out the labeled rows of one source domain at a time (multi-source data).

    Each split tests on one source domain (its labeled rows) and trains on the other source
    domains and every target row, so the held-out source stands in for an unseen domain.
    The domains come from ``sample_domain`` (``>= 0`` source domains, ``< 0`` target),
    given as ``groups`` or, with metadata routing enabled, as ``sample_domain``.

    Parameters
    ----------
    unlabeled_in_test : bool, default=False
        Also put every unlabeled row (``y == -1``) in every test fold, for the unsupervised
        scorers.

    See Also
    --------
    DomainAwareSplit : Split the labeled rows with any splitter.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.model_selection import LeaveOneDomainOut
    >>> y = np.array([0, 1, 0, 1, -1, -1])
    >>> sample_domain = np.array([0, 0, 1, 1, -1, -1])
    >>> for train, test in LeaveOneDomainOut().split(np.zeros((6, 1)), y, groups=sample_domain):
    ...     print(train.tolist(), test.tolist())
    [2, 3, 4, 5] [0, 1]
    [0, 1, 4, 5] [2, 3]
    """

    def __init__(self, *, unlabeled_in_test: bool = False):
        self.unlabeled_in_test = unlabeled_in_test

    def _domains(self, X, y, groups, sample_domain):
        domain = sample_domain if sample_domain is not None else groups
        if domain is None:
            raise ValueError(
                "LeaveOneDomainOut.split needs the domain of each row: pass sample_domain "
                "(>= 0 source domains, < 0 target) as groups, or as sample_domain with metadata "
                "routing enabled."
            )
        n_samples = _num_samples(X)
        domains = resolve_domains(y, domain, n_samples=n_samples, require_source=False, require_target=False)
        unlabeled = ~domains.labeled if y is not None else domains.target
        sources = np.unique(domains.sample_domain[domains.source & ~unlabeled])
        if sources.shape[0] < 2:
            raise ValueError(
                f"LeaveOneDomainOut needs at least 2 source domains with labeled rows, got "
                f"{sources.shape[0]} ({sources.tolist()})."
            )
        return domains.sample_domain, unlabeled, sources

    def split(self, X, y=None, groups=None, *, sample_domain=None):
        """Generate train / test indices, one split per source domain.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), default=None
            Labels, ``-1`` for unlabeled rows (NaN for float regression targets).
        groups : array-like of int of shape (n_samples,), default=None
            The domain of each row, when ``sample_domain`` is not given.
        sample_domain : array-like of int of shape (n_samples,), default=None
            The domain of each row (``>= 0`` source, ``< 0`` target).

        Yields
        ------
        train, test : ndarray
            Test: the labeled rows of one source domain (plus every unlabeled row with
            ``unlabeled_in_test=True``). Train: every other row.

        Raises
        ------
        ValueError
            When no domain is given or fewer than 2 source domains hold labeled rows.
        """
        _check_bool(self.unlabeled_in_test, "unlabeled_in_test", type(self).__name__)
        domain, unlabeled, sources = self._domains(X, y, groups, sample_domain)
        for held_out in sources:
            test = (domain == held_out) & ~unlabeled
            yield self._emit(
                np.flatnonzero(~test & ~unlabeled), np.flatnonzero(test), np.flatnonzero(unlabeled)
            )

    def get_n_splits(self, X=None, y=None, groups=None, *, sample_domain=None) -> int:
        """Number of source domains with labeled rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), default=None
            As in :meth:`split`.
        y : array-like of shape (n_samples,), default=None
            As in :meth:`split`.
        groups : array-like of shape (n_samples,), default=None
            As in :meth:`split`.
        sample_domain : array-like of int of shape (n_samples,), default=None
            As in :meth:`split`.

        Returns
        -------
        n_splits : int
        """
        return self._domains(X, y, groups, sample_domain)[2].shape[0]


class BootstrapSplit(_DomainSplitter):
    """Bootstrap the labeled rows; test on the out-of-bag labeled rows.

    Each split draws ``train_size`` labeled rows with replacement (the training indices
    repeat rows) and tests on the labeled rows never drawn (out of bag, about 36.8% of them
    when ``train_size`` is the number of labeled rows). Every unlabeled row (``y == -1``)
    joins every training fold once. Draws whose out-of-bag set is empty, or whose training
    rows hold a single class, are redrawn, so every split can be fitted and scored.

    Parameters
    ----------
    n_splits : int, default=100
        Number of bootstrap samples.
    train_size : int, float or None, default=None
        Rows drawn per sample: an int, a fraction of the labeled rows, or None for all of
        them (the classical bootstrap).
    random_state : int, RandomState instance or None, default=None
        Seeds the draws. With an int, ``split`` yields the same splits on every call.
    unlabeled_in_test : bool, default=False
        Also put every unlabeled row in every test fold, for the unsupervised scorers.

    See Also
    --------
    bootstrap_632_score : Efron's .632 estimate from these splits.

    Notes
    -----
    The out-of-bag score is pessimistic (each model sees about 63.2% of the distinct rows);
    :func:`bootstrap_632_score` blends it with the resubstitution score (Efron 1983).

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.model_selection import BootstrapSplit
    >>> y = np.array([0, 1, 0, 1, 0, 1, -1])
    >>> train, test = next(BootstrapSplit(n_splits=1, random_state=0).split(np.zeros((7, 1)), y))
    >>> 6 in train, bool(np.isin(test, train).any()), len(train)
    (True, False, 7)
    """

    _MAX_REDRAWS = 100

    def __init__(
        self, n_splits: int = 100, *, train_size=None, random_state=None, unlabeled_in_test: bool = False
    ):
        self.n_splits = n_splits
        self.train_size = train_size
        self.random_state = random_state
        self.unlabeled_in_test = unlabeled_in_test

    def _n_draws(self, n_labeled: int) -> int:
        size = self.train_size
        if size is None:
            return n_labeled
        if isinstance(size, Integral) and not isinstance(size, bool) and size >= 1:
            return int(size)
        if isinstance(size, Real) and not isinstance(size, (Integral, bool)) and 0 < size <= 1:
            return max(1, round(size * n_labeled))
        raise ValueError(
            f"BootstrapSplit: train_size must be None, an int >= 1 or a float in (0, 1], got {size!r}."
        )

    def split(self, X, y=None, groups=None, *, sample_domain=None):
        """Generate bootstrap train indices and out-of-bag test indices.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), default=None
            Labels, ``-1`` for unlabeled rows (NaN for float regression targets).
        groups : object
            Ignored.
        sample_domain : array-like of int of shape (n_samples,), default=None
            Used to find the unlabeled rows (target rows) when ``y`` is None.

        Yields
        ------
        train : ndarray
            Drawn labeled rows (with repeats) and every unlabeled row.
        test : ndarray
            Out-of-bag labeled rows (plus unlabeled rows with ``unlabeled_in_test=True``).

        Raises
        ------
        ValueError
            On invalid parameters, fewer than 2 labeled rows, or when no usable draw is found
            in 100 tries (e.g. a class with a single row and tiny ``train_size``).
        """
        if not isinstance(self.n_splits, Integral) or isinstance(self.n_splits, bool) or self.n_splits < 1:
            raise ValueError(f"BootstrapSplit: n_splits must be an int >= 1, got {self.n_splits!r}.")
        _check_bool(self.unlabeled_in_test, "unlabeled_in_test", "BootstrapSplit")
        n_samples = _num_samples(X)
        unlabeled = _unlabeled_rows(y, sample_domain, n_samples, "BootstrapSplit")
        labeled = np.flatnonzero(~unlabeled)
        if labeled.shape[0] < 2:
            raise ValueError(f"BootstrapSplit needs at least 2 labeled rows, got {labeled.shape[0]}.")
        n_draws = self._n_draws(labeled.shape[0])
        y_lab = None if y is None else np.asarray(y)[labeled]
        several_classes = y_lab is not None and np.unique(y_lab).shape[0] > 1
        rng = check_random_state(self.random_state)
        for _ in range(self.n_splits):
            for _ in range(self._MAX_REDRAWS):
                drawn = rng.randint(0, labeled.shape[0], size=n_draws)
                out_of_bag = np.setdiff1d(np.arange(labeled.shape[0]), drawn)
                if out_of_bag.shape[0] > 0 and (not several_classes or np.unique(y_lab[drawn]).shape[0] > 1):
                    break
            else:
                raise ValueError(
                    f"BootstrapSplit found no draw of train_size={n_draws} rows out of "
                    f"{labeled.shape[0]} labeled rows with a non-empty out-of-bag set and two classes."
                )
            train = np.concatenate([np.sort(labeled[drawn]), np.flatnonzero(unlabeled)])
            test = labeled[out_of_bag]
            if self.unlabeled_in_test:
                test = np.sort(np.concatenate([test, np.flatnonzero(unlabeled)]))
            yield train, test

    def get_n_splits(self, X=None, y=None, groups=None, *, sample_domain=None) -> int:
        """Number of bootstrap samples (``n_splits``).

        Parameters
        ----------
        X, y, groups, sample_domain : object
            Ignored.

        Returns
        -------
        n_splits : int
        """
        return self.n_splits
