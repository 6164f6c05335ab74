"""Transfer Component Analysis (TCA) and its joint, class-conditional variant (JDA)."""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar, NamedTuple

import numpy as np
from scipy import linalg
from sklearn.base import clone
from sklearn.metrics.pairwise import KERNEL_PARAMS, PAIRWISE_KERNEL_FUNCTIONS, pairwise_kernels
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer
from sklearn.utils import check_random_state, gen_batches

from ..utils._sklearn_compat import (
    HasMethods,
    Interval,
    StrOptions,
    _fit_context,
    check_is_fitted,
    validate_data,
)
from ._base import BaseDomainAligner, clip_n_components
from ._tca_solvers import mmd_columns, solve_exact, solve_features

__all__ = ["JointMMDAligner", "MMDAligner"]

#: ``solver="auto"`` uses the exact solver up to this many fitted rows, Nyström above.
AUTO_EXACT_MAX_SAMPLES = 5000

# Kernel evaluations against the landmarks are done in batches of about this many entries.
_BATCH_ENTRIES = 1 << 22


class MMDAligner(BaseDomainAligner):
    """Transfer Component Analysis: a kernel embedding that aligns the domains' means.

    TCA (Pan et al. 2011) embeds source and target rows with the same map
    ``x -> kernel(x, X_fit) @ W``, where ``W`` maximises the variance of the embedded rows
    ``tr(W^T K H K W)`` while keeping small the maximum mean discrepancy (MMD) between the
    embedded domains plus a ridge term, ``tr(W^T (K L K + mu I) W)``. Here ``K`` is the kernel
    matrix of the fitted rows, ``H`` the centering matrix and ``L`` the MMD matrix, scaled to
    unit Frobenius norm as in the reference code of Pan et al. and Long et al. (so ``mu``
    does not depend on the domain sizes). A classifier trained on the embedded source rows
    then applies to the embedded target rows.

    ``L`` has rank one, so the constraint matrix is a rank-one update of ``mu I``: its inverse
    square root is known in closed form (Sherman-Morrison) and the components are the
    leading eigenvectors of a symmetric matrix applied through products with ``K``
    (``scipy.sparse.linalg.eigsh``; formed densely below 1000 rows). No ``n x n`` inverse and
    no dense generalized eigensolve are computed. The Nyström solver replaces ``K`` by its
    low-rank approximation on ``n_landmarks`` random rows, with which the problem reduces to
    ``n_landmarks x n_landmarks`` matrices: time and memory linear in the number of rows. A
    linear kernel with fewer features than rows is solved exactly the same way, in feature
    space.

    All rows, source or target, are mapped the same way. Rows of several source domains
    (``sample_domain >= 0``) are pooled into one source, rows of several target domains into
    one target.

    Data larger than memory: ``fit`` accepts a 2-D Dask array (``dask.array``) with the
    Nyström solver. The landmarks are drawn exactly as for an in-memory array (the same
    ``random_state`` gives the same rows), gathered in one pass; a second pass computes one
    block of rows at a time and accumulates the ``n_landmarks x n_landmarks`` statistics of
    the solver, so memory is one block plus ``O(n_landmarks^2)`` whatever the number of rows,
    and the result equals the in-memory fit up to floating-point rounding. ``y`` and
    ``sample_domain`` (one integer per row) are read into memory. ``transform`` of a Dask
    array returns a lazy Dask array, mapped block by block.

    Parameters
    ----------
    n_components : int, default=30
        Dimension of the embedding. Clipped, with a warning, to the number of fitted rows
        minus one (exact solver) or to the rank of the Nyström features; the value used is
        ``n_components_``.
    kernel : str or callable, default="linear"
        Any kernel of :func:`sklearn.metrics.pairwise.pairwise_kernels` (``"linear"``,
        ``"rbf"``, ``"poly"``, ``"sigmoid"``, ``"laplacian"``, ``"cosine"``, ...) or a callable
        ``kernel(x, y, **kernel_params) -> float``.
    gamma : float > 0, default=None
        Parameter of the rbf, laplacian, polynomial, exponential chi2 and sigmoid kernels;
        None uses scikit-learn's default of each kernel (``1 / n_features`` for rbf).
    degree : float, default=None
        Degree of the polynomial kernel (None: scikit-learn's default, 3).
    coef0 : float, default=None
        Zero coefficient of the polynomial and sigmoid kernels (None: scikit-learn's default, 1).
    kernel_params : dict, default=None
        Further keyword arguments of the kernel (for a callable kernel, all of them).
    mu : float, default=1.0
        Weight of the ridge term ``tr(W^T W)``: larger values favour variance over the
        alignment of the domains.
    component_norm : {"unit", "constraint"}, default="unit"
        Scale of each component. ``"unit"``: every column of the coefficients ``W`` has
        unit Euclidean norm, the eigenvectors of the reference code of Pan et al. and Long
        et al. (MATLAB ``eigs``), with which the published Office-Caltech10 rows are
        reproduced. ``"constraint"``: ``W^T (K L K + mu I) W = I``, the normalisation of
        the generalized eigenproblem. Both span the same subspace; the scale of each
        component matters to distance-based classifiers on the embedding. With ``"unit"``
        the embedded values grow with the scale of the kernel matrix (for a linear kernel,
        with the squared norm of the rows): scale the rows first, or standardise the
        embedding, before an estimator sensitive to scale.
    solver : {"auto", "exact", "nystroem"}, default="auto"
        ``"exact"`` uses the full kernel matrix (time ``O(n^2)`` per Lanczos product, memory
        ``O(n^2)``); ``"nystroem"`` the Nyström approximation on ``n_landmarks`` rows (time
        and memory linear in ``n``: the ``n x n_landmarks`` kernel to the landmarks is held
        during ``fit``, or one block of it for a Dask array); ``"auto"`` is exact up to
        ``AUTO_EXACT_MAX_SAMPLES`` (5000) fitted rows and Nyström above, and Nyström for a
        Dask array.
    n_landmarks : int, default=500
        Number of random rows (drawn uniformly without replacement, as
        :class:`~sklearn.kernel_approximation.Nystroem` does) on which the Nyström solver
        evaluates the kernel; all rows when there are fewer.
    random_state : int, RandomState instance or None, default=None
        Seeds the Lanczos start vector and the choice of Nyström landmarks.

    Attributes
    ----------
    n_components_ : int
        Number of components computed.
    solver_ : str
        Solver used, ``"exact"`` or ``"nystroem"``.
    landmarks_ : ndarray of shape (n_landmarks_, n_features_in_)
        Rows against which ``transform`` evaluates the kernel: every fitted row for the exact
        solver, the Nyström landmarks otherwise. A linear kernel with fewer features than
        fitted rows is solved exactly in feature space (``K = X X^T``): ``landmarks_`` is
        then the identity, and ``transform(X) = X @ projection_``.
    projection_ : ndarray of shape (n_landmarks_, n_components_)
        ``transform(X) = kernel(X, landmarks_) @ projection_``.
    eigenvalues_ : ndarray of shape (n_components_,)
        Objective of each component (embedded variance over MMD plus ridge), decreasing.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during :meth:`fit`, when ``X`` has string column names.

    See Also
    --------
    JointMMDAligner : Align the class-conditional distributions too, with target pseudo-labels.
    CORALAligner : Align second-order statistics instead.

    References
    ----------
    .. [1] S. J. Pan, I. W. Tsang, J. T. Kwok and Q. Yang, "Domain Adaptation via Transfer
       Component Analysis", IEEE Transactions on Neural Networks 22(2), 2011.
    .. [2] C. Williams and M. Seeger, "Using the Nyström Method to Speed Up Kernel Machines",
       NIPS 2001.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from sklearn.preprocessing import Normalizer
    >>> from skltransfer import MMDAligner, make_da_pipeline, stack_domains
    >>> rng = np.random.default_rng(0)
    >>> ys, yt = rng.integers(0, 2, 100), rng.integers(0, 2, 100)
    >>> Xs = rng.normal(size=(100, 5)) + 3 * ys[:, None]
    >>> Xt = rng.normal(size=(100, 5)) + 3 * yt[:, None] + [4, 0, 0, 0, 0]
    >>> X, y = stack_domains(Xs, ys, Xt)
    >>> aligner = MMDAligner(n_components=2, random_state=0).fit(X, y)
    >>> aligner.transform(Xt).shape
    (100, 2)
    >>> pipe = make_da_pipeline(MMDAligner(n_components=2), KNeighborsClassifier(1)).fit(X, y)
    >>> float(np.mean(pipe.predict(Xt) == yt)) > 0.9
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "kernel": [StrOptions(set(PAIRWISE_KERNEL_FUNCTIONS) - {"precomputed"}), callable],
        "gamma": [Interval(Real, 0, None, closed="neither"), None],
        "degree": [Interval(Real, 1, None, closed="left"), None],
        "coef0": [Interval(Real, None, None, closed="neither"), None],
        "kernel_params": [dict, None],
        "mu": [Interval(Real, 0, None, closed="neither")],
        "component_norm": [StrOptions({"unit", "constraint"})],
        "solver": [StrOptions({"auto", "exact", "nystroem"})],
        "n_landmarks": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_components=30,
        *,
        kernel="linear",
        gamma=None,
        degree=None,
        coef0=None,
        kernel_params=None,
        mu=1.0,
        component_norm="unit",
        solver="auto",
        n_landmarks=500,
        random_state=None,
    ):
        self.n_components = n_components
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.kernel_params = kernel_params
        self.mu = mu
        self.component_norm = component_norm
        self.solver = solver
        self.n_landmarks = n_landmarks
        self.random_state = random_state

    # -- kernel ---------------------------------------------------------------------------

    def _get_kernel_params(self) -> dict:
        params = dict(self.kernel_params or {})
        if callable(self.kernel):
            if self.gamma is not None or self.coef0 is not None or self.degree is not None:
                raise ValueError(
                    "gamma, coef0 and degree apply to named kernels only; pass the parameters of a "
                    "callable kernel in kernel_params."
                )
        else:
            for name in KERNEL_PARAMS[self.kernel]:
                if getattr(self, name) is not None:
                    params[name] = getattr(self, name)
        return params

    def _kernel(self, X, Y) -> np.ndarray:
        return pairwise_kernels(X, Y, metric=self.kernel, filter_params=True, **self._get_kernel_params())

    def _batches(self, n_rows: int, n_columns: int):
        return gen_batches(n_rows, max(1, _BATCH_ENTRIES // max(n_columns, 1)))

    # -- fit ------------------------------------------------------------------------------

    def _fit_domains(self, X, y, domains) -> int:
        X = X.astype(np.float64, copy=False)
        solver = self.solver
        if solver == "auto":
            solver = "exact" if X.shape[0] <= AUTO_EXACT_MAX_SAMPLES else "nystroem"
        self.solver_ = solver
        random_state = check_random_state(self.random_state)
        if solver == "exact" and self.kernel == "linear" and X.shape[1] < X.shape[0]:
            problem = self._linear_features(X)
        elif solver == "exact":
            problem = self._kernel(X, X)
        else:
            problem = self._nystroem_features(X, random_state)
        # Every solver gives the embedding of the fitted rows: fit_transform returns it, fit
        # drops it (transform needs only landmarks_ and projection_).
        self._fit_embedding = self._fit_components(X, y, domains, problem, random_state)
        return self.n_components_

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, sample_domain=None):
        """Learn the transfer components of the source and target rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Source and target rows together.
        y : array-like of shape (n_samples,), default=None
            Labels, ``-1`` for unlabeled target rows.
        sample_domain : array-like of int of shape (n_samples,), default=None
            Domain of each row: ``>= 0`` source, ``< 0`` target. Overrides the ``-1`` rule.

        Returns
        -------
        self : object
        """
        if _is_dask_array(X):
            self._fit_blocks(X, y, sample_domain)
            return self
        self._fit(X, y, sample_domain)
        del self._fit_embedding
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None, *, sample_domain=None):
        """Fit, then embed every fitted row (without evaluating the kernel twice).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Source and target rows together.
        y : array-like of shape (n_samples,), default=None
            Labels, ``-1`` for unlabeled target rows.
        sample_domain : array-like of int of shape (n_samples,), default=None
            Domain of each row: ``>= 0`` source, ``< 0`` target.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components_)
        """
        if _is_dask_array(X):
            raise ValueError(
                "fit_transform needs X in memory; for a Dask array call fit(X), then transform(X), "
                "which returns a lazy Dask array."
            )
        X, _ = self._fit(X, y, sample_domain)
        return self.__dict__.pop("_fit_embedding").astype(X.dtype, copy=False)

    def _linear_features(self, X):
        """The linear kernel is ``X X^T``: exact features ``X = kernel(X, I)``, landmarks ``I``."""
        identity = np.eye(X.shape[1])
        return identity, identity, _Features.of(X)

    def _nystroem_features(self, X, random_state):
        """Landmarks, the Nyström map ``N`` (features ``kernel(x, landmarks) @ N.T``) and the
        kernel of the rows to the landmarks (memory ``n * n_landmarks``, reused by
        ``fit_transform`` and by every round of JDA).

        ``N = diag(s)^{-1/2} U^T`` over the eigenpairs of the landmarks' kernel matrix above a
        relative tolerance (a rank-revealing pseudo-inverse square root), so that
        rank-deficient kernels, such as a linear kernel with fewer features than landmarks,
        give well-conditioned features.
        """
        n = X.shape[0]
        landmarks = X[self._landmark_rows(n, random_state)]
        C = np.empty((n, landmarks.shape[0]))
        for batch in self._batches(*C.shape):
            C[batch] = self._kernel(X[batch], landmarks)
        return landmarks, self._nystroem_map(landmarks), _Features.of(C)

    def _landmark_rows(self, n: int, random_state) -> np.ndarray:
        """Sorted indices of the Nyström landmarks among ``n`` rows."""
        return np.sort(random_state.permutation(n)[: min(self.n_landmarks, n)])

    def _nystroem_map(self, landmarks: np.ndarray) -> np.ndarray:
        s, U = linalg.eigh(self._kernel(landmarks, landmarks))
        keep = s > s.max(initial=0.0) * landmarks.shape[0] * np.finfo(float).eps
        return (U[:, keep] / np.sqrt(s[keep])).T

    def _fit_blocks(self, X, y, sample_domain) -> None:
        """Nyström fit of a Dask array: gather the landmarks, then accumulate the solver's
        statistics over one block of rows at a time."""
        if type(self)._fit_components is not MMDAligner._fit_components:
            raise ValueError(
                f"{type(self).__name__} needs X in memory: its rounds embed every fitted row; "
                "a Dask array can be fitted by MMDAligner."
            )
        if self.solver == "exact":
            raise ValueError(
                "solver='exact' needs X in memory (the full kernel matrix); fit a Dask array with "
                "solver='nystroem' or 'auto'."
            )
        X = X.rechunk({1: -1})
        n = X.shape[0]
        random_state = check_random_state(self.random_state)
        landmarks = np.asarray(X[self._landmark_rows(n, random_state)])
        landmarks = validate_data(self, landmarks, dtype=[np.float64, np.float32]).astype(np.float64)
        domains = self._resolve_domains(
            None if y is None else np.asarray(y),
            None if sample_domain is None else np.asarray(sample_domain),
            n,
        )
        E = mmd_columns(domains.source)
        m = landmarks.shape[0]
        gram, sums, cross = np.zeros((m, m)), np.zeros(m), np.zeros((m, E.shape[1]))
        start = 0
        for i in range(X.numblocks[0]):
            block = validate_data(self, X.blocks[i].compute(), dtype=[np.float64, np.float32], reset=False)
            stop = start + block.shape[0]
            C = self._kernel(block.astype(np.float64, copy=False), landmarks)
            gram += C.T @ C
            sums += C.sum(axis=0)
            cross += C.T @ E[start:stop]
            start = stop
        self.solver_ = "nystroem"
        projection = self._solve_statistics(self._nystroem_map(landmarks), gram, sums, cross, E, n)
        self.landmarks_, self.projection_ = landmarks, projection * _signs(projection)
        self._n_features_out = self.n_components_

    def _fit_components(self, X, y, domains, problem, random_state) -> np.ndarray:
        """Solve for the marginal MMD; return the embedding of ``X``."""
        return self._solve(X, mmd_columns(domains.source), problem, random_state)

    def _solve(self, X, E, problem, random_state) -> np.ndarray:
        """Solve TCA for the MMD columns ``E``, set the fitted attributes, return the embedding of ``X``.

        ``problem`` is the kernel matrix of ``X`` (exact solver) or the output of
        :meth:`_linear_features` / :meth:`_nystroem_features`.
        """
        n = X.shape[0]
        if isinstance(problem, np.ndarray):
            k = self._clip(n - 1, "the number of fitted rows minus one")
            self.eigenvalues_, projection = solve_exact(
                problem, E, self.mu, k, random_state, self.component_norm
            )
            self.landmarks_, rows_to_landmarks = X, problem
        else:
            landmarks, normalization, features = problem
            projection = self._solve_statistics(
                normalization, features.gram, features.sums, features.C.T @ E, E, n
            )
            self.landmarks_, rows_to_landmarks = landmarks, features.C
        self.projection_ = projection * _signs(projection)
        return rows_to_landmarks @ self.projection_

    def _solve_statistics(self, normalization, gram, sums, cross, E, n: int) -> np.ndarray:
        """Solve TCA from the statistics ``C^T C``, ``C^T 1``, ``C^T E`` of the kernel ``C`` of the
        ``n`` fitted rows to the landmarks; set ``eigenvalues_``, return the projection."""
        eigenvalues, coef, rank = solve_features(
            normalization @ gram @ normalization.T,
            normalization @ sums,
            normalization @ cross,
            n,
            float(np.sqrt(np.linalg.norm(E.T @ E))),
            self.mu,
            self.n_components,
            self.component_norm,
        )
        k = self._clip(min(rank, n - 1), "the rank of the kernel features")
        self.eigenvalues_ = eigenvalues[:k]
        return normalization.T @ coef[:, :k]

    def _clip(self, possible: int, what: str) -> int:
        self.n_components_ = clip_n_components(
            self.n_components, possible, f"is larger than {what} ({possible})"
        )
        return self.n_components_

    # -- transform ------------------------------------------------------------------------

    def transform(self, X, sample_domain=None):
        """Embed rows; every row is mapped the same way, source or target.

        Parameters
        ----------
        X : array-like or Dask array of shape (n_samples, n_features)
            Rows to embed. A Dask array gives a lazy Dask array, embedded block by block.
        sample_domain : array-like of int of shape (n_samples,), default=None
            Domain of each row (accepted for the common interface; it does not change the map).

        Returns
        -------
        X_new : ndarray or Dask array of shape (n_samples, n_components_)
        """
        if not _is_dask_array(X):
            return super().transform(X, sample_domain)
        check_is_fitted(self)
        X = X.rechunk({1: -1})
        dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)
        return X.map_blocks(super().transform, dtype=dtype, chunks=(X.chunks[0], (self.n_components_,)))

    def _transform_domains(self, X, source):
        out = np.empty((X.shape[0], self.n_components_), dtype=X.dtype)
        for batch in self._batches(X.shape[0], self.landmarks_.shape[0]):
            out[batch] = (
                self._kernel(X[batch].astype(np.float64, copy=False), self.landmarks_) @ self.projection_
            )
        return out


def _is_dask_array(X) -> bool:
    """Whether ``X`` is a Dask array (checked without importing Dask)."""
    return type(X).__module__.partition(".")[0] == "dask" and hasattr(X, "blocks")


class _Features(NamedTuple):
    """Kernel ``C`` of the fitted rows to the landmarks, with ``C^T C`` and its column sums."""

    C: np.ndarray
    gram: np.ndarray
    sums: np.ndarray

    @classmethod
    def of(cls, C: np.ndarray) -> _Features:
        return cls(C, C.T @ C, C.sum(axis=0))


def _signs(projection: np.ndarray) -> np.ndarray:
    """+-1 per column making the largest-magnitude entry positive (a deterministic sign)."""
    rows = np.argmax(np.abs(projection), axis=0)
    return np.where(projection[rows, np.arange(projection.shape[1])] < 0, -1.0, 1.0)


class JointMMDAligner(MMDAligner):
    """Joint distribution adaptation (JDA): TCA that also aligns each class, with pseudo-labels.

    JDA (Long et al. 2013) adds to the marginal MMD of :class:`MMDAligner` one MMD term per
    class between the source rows of that class and the target rows predicted to be of that
    class; as in the reference code of Long et al., the marginal term has weight
    ``n_classes`` relative to each class term. Target labels are unknown, so they are
    pseudo-labels, refined over ``n_iter`` rounds: the first round solves plain TCA, each
    later one uses the pseudo-labels that ``pseudo_labeler`` (fitted on the embedded
    labeled rows) predicts for the embedded unlabeled target rows of the previous round.
    Labeled target rows (given through ``sample_domain``) keep their labels. The MMD matrix
    now has rank ``n_classes + 1``, and the same low-rank (Woodbury) solvers apply.

    Parameters
    ----------
    n_components : int, default=30
        Dimension of the embedding, clipped as in :class:`MMDAligner`.
    kernel : str or callable, default="linear"
        Any kernel of :func:`sklearn.metrics.pairwise.pairwise_kernels` or a callable.
    gamma : float, default=None
        Parameter of the rbf, laplacian, polynomial, exponential chi2 and sigmoid kernels.
    degree : float, default=None
        Degree of the polynomial kernel (None: 3).
    coef0 : float, default=None
        Zero coefficient of the polynomial and sigmoid kernels (None: 1).
    kernel_params : dict, default=None
        Further keyword arguments of the kernel.
    mu : float, default=1.0
        Weight of the ridge term ``tr(W^T W)``.
    component_norm : {"unit", "constraint"}, default="unit"
        Scale of each component, as in :class:`MMDAligner`.
    solver : {"auto", "exact", "nystroem"}, default="auto"
        As in :class:`MMDAligner`.
    n_landmarks : int, default=500
        Number of Nyström landmarks.
    n_iter : int, default=10
        Number of rounds (eigensolves); ``n_iter=1`` is plain TCA.
    pseudo_labeler : classifier, default=None
        Predicts the target pseudo-labels from the embedding; cloned every round. None is a
        1-nearest-neighbour classifier on the embedded rows scaled to unit L2 norm, the
        choice of Long et al.'s reference code.
    random_state : int, RandomState instance or None, default=None
        Seeds the Lanczos start vectors and the choice of Nyström landmarks.

    Attributes
    ----------
    n_components_ : int
        Number of components computed.
    solver_ : str
        Solver used, ``"exact"`` or ``"nystroem"``.
    landmarks_ : ndarray of shape (n_landmarks_, n_features_in_)
        Rows against which ``transform`` evaluates the kernel.
    projection_ : ndarray of shape (n_landmarks_, n_components_)
        ``transform(X) = kernel(X, landmarks_) @ projection_``.
    eigenvalues_ : ndarray of shape (n_components_,)
        Objective of each component in the last round, decreasing.
    classes_ : ndarray of shape (n_classes,)
        Labels of the labeled rows.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during :meth:`fit`, when ``X`` has string column names.

    See Also
    --------
    MMDAligner : Align the marginal distributions only (no labels needed).

    References
    ----------
    .. [1] M. Long, J. Wang, G. Ding, J. Sun and P. S. Yu, "Transfer Feature Learning with
       Joint Distribution Adaptation", ICCV 2013.
    .. [2] S. J. Pan, I. W. Tsang, J. T. Kwok and Q. Yang, "Domain Adaptation via Transfer
       Component Analysis", IEEE Transactions on Neural Networks 22(2), 2011.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from skltransfer import JointMMDAligner, make_da_pipeline, stack_domains
    >>> rng = np.random.default_rng(0)
    >>> ys, yt = rng.integers(0, 2, 100), rng.integers(0, 2, 100)
    >>> Xs = rng.normal(size=(100, 5)) + 3 * ys[:, None]
    >>> Xt = rng.normal(size=(100, 5)) + 3 * yt[:, None] + [4, 0, 0, 0, 0]
    >>> X, y = stack_domains(Xs, ys, Xt)
    >>> jda = JointMMDAligner(n_components=3, n_iter=5, random_state=0)
    >>> pipe = make_da_pipeline(jda, KNeighborsClassifier(1)).fit(X, y)
    >>> float(np.mean(pipe.predict(Xt) == yt)) > 0.9
    True
    """

    _requires_labels = True

    _parameter_constraints: ClassVar[dict] = {
        **MMDAligner._parameter_constraints,
        "n_iter": [Interval(Integral, 1, None, closed="left")],
        "pseudo_labeler": [HasMethods(["fit", "predict"]), None],
    }

    def __init__(
        self,
        n_components=30,
        *,
        kernel="linear",
        gamma=None,
        degree=None,
        coef0=None,
        kernel_params=None,
        mu=1.0,
        component_norm="unit",
        solver="auto",
        n_landmarks=500,
        n_iter=10,
        pseudo_labeler=None,
        random_state=None,
    ):
        super().__init__(
            n_components,
            kernel=kernel,
            gamma=gamma,
            degree=degree,
            coef0=coef0,
            kernel_params=kernel_params,
            mu=mu,
            component_norm=component_norm,
            solver=solver,
            n_landmarks=n_landmarks,
            random_state=random_state,
        )
        self.n_iter = n_iter
        self.pseudo_labeler = pseudo_labeler

    def _fit_components(self, X, y, domains, problem, random_state) -> np.ndarray:
        source, labeled = domains.source, domains.labeled
        self.classes_, codes = np.unique(y[labeled], return_inverse=True)
        classes = np.full(X.shape[0], -1)
        classes[labeled] = codes
        source_classes = np.where(source, classes, -1)
        target_classes = np.where(source, -1, classes)
        unlabeled = ~source & ~labeled
        labeler = self.pseudo_labeler
        if labeler is None:
            labeler = make_pipeline(Normalizer(), KNeighborsClassifier(n_neighbors=1))
        E = mmd_columns(source)
        for round_ in range(self.n_iter):
            embedding = self._solve(X, E, problem, random_state)
            if round_ == self.n_iter - 1 or not unlabeled.any():
                return embedding
            model = clone(labeler).fit(embedding[labeled], classes[labeled])
            target_classes[unlabeled] = model.predict(embedding[unlabeled])
            E = mmd_columns(source, target_classes, source_classes, marginal_weight=len(self.classes_))
