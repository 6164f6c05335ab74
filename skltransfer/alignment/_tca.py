"""Transfer Component Analysis (TCA): the solver dispatch, fit, transform."""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.metrics.pairwise import PAIRWISE_KERNEL_FUNCTIONS
from sklearn.utils import check_random_state

from ..utils._dask import is_dask_array
from ..utils._kernels import kernel_matrix, resolve_kernel_params
from ..utils._sklearn_compat import (
    Interval,
    StrOptions,
    _fit_context,
    check_is_fitted,
)
from ._base import BaseDomainAligner, clip_n_components
from ._nystroem import batches, fit_nystroem_blocks, nystroem_problem
from ._tca_solvers import ExactProblem, FeatureProblem, KernelProblem, mmd_columns

__all__ = ["MMDAligner"]

#: ``solver="auto"`` uses the exact solver up to this many fitted rows, Nyström above.
AUTO_EXACT_MAX_SAMPLES = 5000


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
    square root is known in closed form (Sherman-Morrison) and the components are the leading
    eigenvectors of a symmetric matrix, found in a block Krylov space of ``K`` (one product
    of ``K`` with a block of vectors per step: matrix-matrix products; formed densely up to
    600 rows). No ``n x n`` inverse and no dense generalized eigensolve are computed. The
    iterative solve stops on the objective, not on the accuracy of each eigenvector: when the
    growth still to come of ``eigenvalues_.sum()``, extrapolated from its growth so far, is
    below ``1e-6`` of it (``1e-4`` in float32). Where the leading eigenvalues cluster (an rbf
    kernel on isotropic data) their eigenvectors are barely determined by the data and the
    objective converges much sooner than they do; where the spectrum has gaps the
    components converge with it (tested against a dense generalized eigensolve: the
    objective within that tolerance, no eigenvalue above the dense one). The
    Nyström solver replaces ``K`` by its low-rank approximation on ``n_landmarks`` random
    rows, with which the problem reduces to ``n_landmarks x n_landmarks`` matrices: time and
    memory linear in the number of rows. A linear kernel with fewer features than rows is
    solved exactly the same way, in feature space. Float32 rows are solved in float32
    throughout (half the memory of the kernel matrix); float64 rows in float64.

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
        ``"exact"`` uses the full kernel matrix (time ``O(n^2)`` per block product, memory
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
        Seeds the start block of the exact eigensolver and the choice of Nyström landmarks.

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

    @property
    def _magnitude_power(self) -> int:
        # the solver multiplies kernel matrices (K M K): a linear kernel makes that a sum of
        # products of four values, a polynomial one of 4 * degree; other kernels are bounded
        if self.kernel == "linear":
            return 4
        if self.kernel in ("poly", "polynomial") and isinstance(self.degree, Real):
            return max(2, int(np.ceil(4 * self.degree)))
        return 2

    def _kernel(self, X, Y) -> np.ndarray:
        params = resolve_kernel_params(
            self.kernel,
            gamma=self.gamma,
            degree=self.degree,
            coef0=self.coef0,
            kernel_params=self.kernel_params,
        )
        return kernel_matrix(X, Y, self.kernel, params)

    # -- fit ------------------------------------------------------------------------------

    def _fit_domains(self, X, y, domains) -> int:
        solver = self.solver
        if solver == "auto":
            solver = "exact" if X.shape[0] <= AUTO_EXACT_MAX_SAMPLES else "nystroem"
        self.solver_ = solver
        random_state = check_random_state(self.random_state)
        if solver == "exact" and self.kernel == "linear" and X.shape[1] < X.shape[0]:
            # the linear kernel is X X^T: exact features X = kernel(X, I), landmarks I
            identity = np.eye(X.shape[1], dtype=X.dtype)
            problem = KernelProblem(identity, FeatureProblem(X.T @ X, X.sum(axis=0), X.shape[0], rows=X))
        elif solver == "exact":
            K = self._kernel(X, X)
            problem = KernelProblem(X, ExactProblem(K, random_state))
        else:
            problem = nystroem_problem(self, X, random_state)
        # Every solver gives the embedding of the fitted rows: fit_transform returns it, fit
        # drops it (transform needs only landmarks_ and projection_).
        self._fit_embedding = self._fit_components(X, y, domains, problem)
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
        if is_dask_array(X):
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
        if is_dask_array(X):
            raise ValueError(
                "fit_transform needs X in memory; for a Dask array call fit(X), then transform(X), "
                "which returns a lazy Dask array."
            )
        X, _ = self._fit(X, y, sample_domain)
        return self.__dict__.pop("_fit_embedding").astype(X.dtype, copy=False)

    def _fit_blocks(self, X, y, sample_domain) -> None:
        """Nyström fit of a Dask array (see :func:`fit_nystroem_blocks`)."""
        if self.solver == "exact":
            raise ValueError(
                "solver='exact' needs X in memory (the full kernel matrix); fit a Dask array with "
                "solver='nystroem' or 'auto'."
            )
        self.solver_ = "nystroem"
        landmarks, problem, E, cross = fit_nystroem_blocks(self, X, y, sample_domain)
        k = self._clip(problem.limit, problem.limit_reason)
        self.eigenvalues_, projection, _ = problem.solve(E, self.mu, k, self.component_norm, cross=cross)
        self.landmarks_, self.projection_ = landmarks, projection * _signs(projection)
        self._n_features_out = self.n_components_

    def _fit_components(self, X, y, domains, problem) -> np.ndarray:
        """Solve for the marginal MMD; return the embedding of ``X``."""
        return self._solve(mmd_columns(domains.source), problem)

    def _solve(self, E, problem) -> np.ndarray:
        """Solve TCA for the MMD columns ``E``, set the fitted attributes, return the embedding
        of the fitted rows."""
        k = self._clip(problem.solver.limit, problem.solver.limit_reason)
        self.eigenvalues_, projection, embedding = problem.solver.solve(E, self.mu, k, self.component_norm)
        signs = _signs(projection)
        self.landmarks_, self.projection_ = problem.landmarks, projection * signs
        return embedding * signs

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
        if not is_dask_array(X):
            return super().transform(X, sample_domain)
        check_is_fitted(self)
        X = X.rechunk({1: -1})
        dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)
        return X.map_blocks(super().transform, dtype=dtype, chunks=(X.chunks[0], (self.n_components_,)))

    def _transform_domains(self, X, source):
        out = np.empty((X.shape[0], self.n_components_), dtype=X.dtype)
        for batch in batches(X.shape[0], self.landmarks_.shape[0]):
            out[batch] = self._kernel(X[batch], self.landmarks_) @ self.projection_
        return out


def _signs(projection: np.ndarray) -> np.ndarray:
    """+-1 per column making the largest-magnitude entry positive (a deterministic sign)."""
    rows = np.argmax(np.abs(projection), axis=0)
    return np.where(projection[rows, np.arange(projection.shape[1])] < 0, -1.0, 1.0).astype(projection.dtype)
