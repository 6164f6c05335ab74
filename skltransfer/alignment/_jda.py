"""Joint distribution adaptation (JDA): TCA that also aligns each class, with pseudo-labels."""

from __future__ import annotations

from numbers import Integral
from typing import ClassVar

import numpy as np
from sklearn.base import clone
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer

from ..utils._sklearn_compat import HasMethods, Interval
from ._tca import MMDAligner
from ._tca_solvers import mmd_columns

__all__ = ["JointMMDAligner"]


class JointMMDAligner(MMDAligner):
    r"""Joint distribution adaptation (JDA): TCA that also aligns each class, with pseudo-labels.

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
        Weight of the ridge term :math:`\operatorname{tr}(W^\top W)`.
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
        Seeds the start block of the exact eigensolver and the choice of Nyström landmarks.

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

    def _fit_components(self, X, y, domains, problem) -> np.ndarray:
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
        # Every round solves with the same kernel: problem.solver holds its factored part
        # (features) or the previous round's eigenvectors as the next start (exact kernel).
        E = mmd_columns(source)
        for round_ in range(self.n_iter):
            embedding = self._solve(E, problem)
            if round_ == self.n_iter - 1 or not unlabeled.any():
                return embedding
            model = clone(labeler).fit(embedding[labeled], classes[labeled])
            target_classes[unlabeled] = model.predict(embedding[unlabeled])
            E = mmd_columns(source, target_classes, source_classes, marginal_weight=len(self.classes_))

    def _fit_blocks(self, X, y, sample_domain) -> None:
        raise ValueError(
            f"{type(self).__name__} needs X in memory: its rounds embed every fitted row; "
            "a Dask array can be fitted by MMDAligner."
        )
