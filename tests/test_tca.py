"""MMDAligner (TCA) and JointMMDAligner (JDA) against brute-force references."""

import pickle
import warnings

import joblib
import numpy as np
import pytest
from scipy import linalg
from sklearn.base import clone
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import Normalizer, normalize

from skltransfer import JointMMDAligner, MMDAligner, make_da_pipeline, stack_domains
from skltransfer.alignment._tca_solvers import (
    OBJECTIVE_TOL,
    ExactProblem,
    _apply,
    _dense_eigh,
    _kernel_krylov_eigh,
    _scale,
    _whitening,
    mmd_columns,
)
from tests._oc10 import load_oc10, needs_oc10


def _domains(n_source=60, n_target=50, n_features=6, seed=0):
    rng = np.random.default_rng(seed)
    ys, yt = rng.integers(0, 3, n_source), rng.integers(0, 3, n_target)
    Xs = rng.normal(size=(n_source, n_features)) + ys[:, None]
    Xt = rng.normal(size=(n_target, n_features)) + yt[:, None] + 1.5
    return Xs, ys, Xt, yt


def _brute_force(K, E, mu, k):
    """Dense generalized eigenproblem max tr(W'KHKW) s.t. W'(KLK + mu I)W = I, L = EE'/||E'E||."""
    n = K.shape[0]
    L = E @ E.T / np.linalg.norm(E.T @ E)
    H = np.eye(n) - np.ones((n, n)) / n
    values, W = linalg.eigh(K @ H @ K, K @ L @ K + mu * np.eye(n), subset_by_index=[n - k, n - 1])
    return values[::-1], W[:, ::-1]


def _assert_objective_close(values, reference, tol=OBJECTIVE_TOL["float64"]):
    """The exact solver's contract: the objective (the sum of the eigenvalues) within ``tol``
    of the dense solve's, and no eigenvalue above the dense one (Cauchy interlacing), so that
    each is within ``tol`` times the objective as well."""
    assert np.sum(reference) - np.sum(values) <= tol * np.sum(reference)
    np.testing.assert_array_less(values, reference * (1 + 1e-12))


def _max_angle(A, B):
    return np.rad2deg(linalg.subspace_angles(A, B)).max()


def _objective(K, E, mu, W):
    n = K.shape[0]
    L = E @ E.T / np.linalg.norm(E.T @ E)
    Kc = K - K.mean(axis=0)
    return np.trace(W.T @ Kc.T @ Kc @ W) / np.trace(W.T @ (K @ L @ K + mu * np.eye(n)) @ W)


def _reference_round(K, M, lam, k):
    """One round of the MATLAB reference code of Long et al. (linear kernel), densely.

    ``M = M / norm(M, 'fro')``, ``[A, ~] = eigs(K M K' + lam I, K H K', k, 'SM')``, ``Z = A' K``:
    the ``k`` generalized eigenvalues of smallest magnitude (``K H K`` is singular), eigenvectors of
    unit Euclidean norm as ``eigs`` returns them. Returns the embedding ``K A`` (rows are samples).
    """
    n = K.shape[0]
    M = M / np.linalg.norm(M)
    H = np.eye(n) - np.ones((n, n)) / n
    values, A = linalg.eig(K @ M @ K + lam * np.eye(n), K @ H @ K)
    finite = np.flatnonzero(np.isfinite(values))
    order = finite[np.argsort(np.abs(values[finite]))[:k]]  # 'SM': smallest magnitude
    A = A[:, order].real
    return K @ (A / np.linalg.norm(A, axis=0))


def _outer(E):
    return E @ E.T


def _same_up_to_signs(Z, Z_ref, rtol=1e-6):
    signs = np.sign(np.sum(Z * Z_ref, axis=0))
    np.testing.assert_allclose(Z, Z_ref * signs, atol=rtol * np.abs(Z_ref).max())


@pytest.mark.parametrize(
    ("kernel", "params", "n_features"),
    [
        ("linear", {}, 6),  # fewer features than rows: solved in feature space
        ("linear", {}, 150),  # more features than rows: solved on the kernel matrix
        ("rbf", {"gamma": 0.1}, 6),
        ("poly", {"degree": 2, "coef0": 1.0, "gamma": 0.2}, 6),
    ],
)
def test_exact_matches_dense_generalized_eigensolve(kernel, params, n_features):
    Xs, ys, Xt, _ = _domains(n_features=n_features)
    X, y = stack_domains(Xs, ys, Xt)
    aligner = MMDAligner(
        4, kernel=kernel, mu=0.5, solver="exact", component_norm="constraint", random_state=0, **params
    ).fit(X, y)
    K = pairwise_kernels(X, X, metric=kernel, **params)
    E = mmd_columns(np.arange(len(X)) < len(Xs))
    values, W = _brute_force(K, E, 0.5, 4)
    np.testing.assert_allclose(aligner.eigenvalues_, values, rtol=1e-6)
    assert _max_angle(aligner.transform(X), K @ W) < 1e-4
    W_ours = aligner.projection_
    if aligner.landmarks_.shape[0] != len(X):  # feature space: projection_ = X^T W, W in range(X)
        W_ours = np.linalg.pinv(X.T) @ W_ours
    np.testing.assert_allclose(_objective(K, E, 0.5, W_ours), _objective(K, E, 0.5, W), rtol=1e-6)
    # Components are A-orthonormal, as the constraint asks.
    A = K @ (E @ E.T / np.linalg.norm(E.T @ E)) @ K + 0.5 * np.eye(len(X))
    np.testing.assert_allclose(W_ours.T @ A @ W_ours, np.eye(4), atol=1e-8)
    # The default scales the same components to unit-norm coefficients W.
    unit = clone(aligner).set_params(component_norm="unit").fit(X, y)
    np.testing.assert_allclose(unit.eigenvalues_, aligner.eigenvalues_, rtol=1e-10)
    Z_unit, Z = unit.transform(X), aligner.transform(X)
    np.testing.assert_allclose(Z_unit, Z / np.linalg.norm(W_ours, axis=0), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("n_features", [6, 150])
def test_unit_components_match_reference_code(n_features):
    # The MATLAB reference solves the smallest eigenvalues of (K M K' + lam I, K H K') and
    # keeps the unit-norm eigenvectors of eigs: same components, same order, same scale.
    Xs, ys, Xt, yt = _domains(n_source=80, n_target=70, n_features=n_features)
    X, y = stack_domains(Xs, ys, Xt)
    source = np.arange(len(X)) < len(Xs)
    K = X @ X.T
    tca = MMDAligner(5, mu=1.0, solver="exact", random_state=0).fit(X, y)
    _same_up_to_signs(tca.transform(X), _reference_round(K, _outer(mmd_columns(source)), 1.0, 5))

    class Oracle(KNeighborsClassifier):
        def predict(self, Z):
            return yt.copy()

    jda = JointMMDAligner(5, n_iter=2, pseudo_labeler=Oracle(), random_state=0).fit(X, y)
    E = mmd_columns(
        source, np.r_[-np.ones(len(Xs), dtype=int), yt], np.r_[ys, -np.ones(len(Xt), dtype=int)], 3
    )
    _same_up_to_signs(jda.transform(X), _reference_round(K, _outer(E), 1.0, 5))


@pytest.mark.parametrize("n_classes", [0, 3])
def test_block_krylov_path_matches_dense_path(n_classes, monkeypatch):
    # Above _DENSE_MAX_ROWS rows the exact solver runs a block Krylov method on products of K
    # with blocks of vectors; the rank-1 (TCA) and rank C+1 (JDA) structures give the
    # objective and, where the spectrum has a gap, the subspace of a dense solve.
    from skltransfer.alignment import _tca_solvers

    monkeypatch.setattr(_tca_solvers, "_DENSE_MAX_ROWS", 50)
    rng = np.random.default_rng(1)
    n = 300
    X = rng.normal(size=(n, 5))
    source = np.arange(n) < 160
    classes = rng.integers(0, n_classes, n) if n_classes else None
    E = mmd_columns(source, classes, classes) if n_classes else mmd_columns(source)
    K = pairwise_kernels(X, metric="rbf", gamma=0.3)
    problem = ExactProblem(K, np.random.RandomState(0))
    values, W, embedding = problem.solve(E, 1.0, 5)
    ref_values, ref_W = _brute_force(K, E, 1.0, 5)
    _assert_objective_close(values, ref_values)
    assert _max_angle(K @ W, K @ ref_W) < 1e-2
    # the embedding of the fitted rows, read from the solver's products, is K W
    np.testing.assert_allclose(embedding, K @ W, rtol=1e-9, atol=1e-9 * np.abs(K @ W).max())
    # a second solve (the next JDA round) starts from the first solution and agrees as well
    E2 = mmd_columns(source, classes, classes, marginal_weight=2.0) if n_classes else 2.0 * E
    values, W, embedding = problem.solve(E2, 1.0, 5)
    ref_values, ref_W = _brute_force(K, E2, 1.0, 5)
    _assert_objective_close(values, ref_values)
    assert _max_angle(K @ W, K @ ref_W) < 1e-2
    np.testing.assert_allclose(embedding, K @ W, rtol=1e-9, atol=1e-9 * np.abs(K @ W).max())


def test_mmd_columns_class_conditional():
    source = np.array([True, True, True, False, False, False])
    classes = np.array([0, 1, 1, 1, 0, 2])
    E = mmd_columns(source, np.where(source, -1, classes), np.where(source, classes, -1))
    np.testing.assert_allclose(E[:, 0], [1 / 3] * 3 + [-1 / 3] * 3)
    np.testing.assert_allclose(E[:, 1], [1, 0, 0, 0, -1, 0])  # class 0
    np.testing.assert_allclose(E[:, 2], [0, 0.5, 0.5, -1, 0, 0])  # class 1
    np.testing.assert_allclose(E[:, 3], [0, 0, 0, 0, 0, -1])  # class 2: target side only
    weighted = mmd_columns(source, np.where(source, -1, classes), np.where(source, classes, -1), 4.0)
    np.testing.assert_allclose(weighted[:, 0], 2 * E[:, 0])
    np.testing.assert_allclose(weighted[:, 1:], E[:, 1:])


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
def test_nystroem_approaches_exact(kernel):
    Xs, ys, Xt, _ = _domains(n_source=100, n_target=100, n_features=8)
    X, y = stack_domains(Xs, ys, Xt)
    exact = MMDAligner(3, kernel=kernel, gamma=0.05 if kernel == "rbf" else None, solver="exact").fit(X, y)
    angles = []
    for m in (20, 80, 200):
        nys = clone(exact).set_params(solver="nystroem", n_landmarks=m, random_state=0).fit(X, y)
        angles.append(_max_angle(nys.transform(X), exact.transform(X)))
    assert angles[-1] < 1e-5  # all rows as landmarks: the kernel is exact
    if kernel == "rbf":
        assert angles[0] > angles[1] > angles[2]
    else:  # a linear kernel of 8 features has rank 8: 20 landmarks already span it
        assert angles[0] < 1e-5
    np.testing.assert_allclose(nys.eigenvalues_, exact.eigenvalues_, rtol=1e-8)


def test_auto_solver_threshold(monkeypatch):
    from skltransfer.alignment import _tca

    Xs, ys, Xt, _ = _domains()
    X, y = stack_domains(Xs, ys, Xt)
    assert MMDAligner(2).fit(X, y).solver_ == "exact"
    monkeypatch.setattr(_tca, "AUTO_EXACT_MAX_SAMPLES", 50)
    fitted = MMDAligner(2, n_landmarks=30).fit(X, y)
    assert fitted.solver_ == "nystroem"
    assert fitted.landmarks_.shape == (30, X.shape[1])


def test_transform_out_of_sample_and_stored_state():
    Xs, ys, Xt, _ = _domains()
    X, y = stack_domains(Xs, ys, Xt)
    aligner = MMDAligner(3, kernel="rbf", random_state=0)
    Z = aligner.fit_transform(X, y)
    np.testing.assert_allclose(aligner.transform(X), Z)
    np.testing.assert_allclose(aligner.transform(X[5:9]), Z[5:9])
    assert aligner.projection_.shape == (len(X), 3)
    assert not any(isinstance(v, np.ndarray) and v.shape == (len(X), len(X)) for v in vars(aligner).values())
    assert list(aligner.get_feature_names_out()) == ["mmdaligner0", "mmdaligner1", "mmdaligner2"]
    assert aligner.transform(X.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("dense_max_rows", [50, 1000])  # the Krylov and the dense solver
@pytest.mark.parametrize("Aligner", [MMDAligner, JointMMDAligner])
def test_fit_transform_is_the_transform_of_the_fitted_rows(monkeypatch, dense_max_rows, Aligner):
    # fit_transform reads the embedding from the solver's own products, transform from the
    # kernel of the rows to the landmarks: the two agree
    from skltransfer.alignment import _tca_solvers

    monkeypatch.setattr(_tca_solvers, "_DENSE_MAX_ROWS", dense_max_rows)
    Xs, ys, Xt, _ = _domains(n_source=120, n_target=100)
    X, y = stack_domains(Xs, ys, Xt)
    aligner = Aligner(4, kernel="rbf", random_state=0)
    Z = aligner.fit_transform(X, y)
    reference = aligner.transform(X)
    np.testing.assert_allclose(Z, reference, rtol=1e-7, atol=1e-9 * np.abs(reference).max())


def test_alignment_reduces_mean_gap():
    Xs, ys, Xt, _ = _domains(n_source=100, n_target=100)
    X, y = stack_domains(Xs, ys, Xt)
    Z = MMDAligner(2, mu=0.1).fit_transform(X, y)
    gap = np.linalg.norm(Z[:100].mean(axis=0) - Z[100:].mean(axis=0))
    assert gap < 0.05 * np.linalg.norm(X[:100].mean(axis=0) - X[100:].mean(axis=0))


def test_n_components_clipped_with_warning():
    Xs, ys, Xt, _ = _domains(n_source=6, n_target=5)
    X, y = stack_domains(Xs, ys, Xt)
    with pytest.warns(
        UserWarning, match=r"n_components=30 is larger than the number of fitted rows minus one \(10\)"
    ):
        aligner = MMDAligner(30, kernel="rbf").fit(X, y)
    assert aligner.n_components_ == 10 and aligner.transform(X).shape == (11, 10)
    Xs, ys, Xt, _ = _domains(n_source=60, n_target=60, n_features=3)
    X, y = stack_domains(Xs, ys, Xt)
    with pytest.warns(UserWarning, match=r"larger than the rank of the kernel features \(3\)") as record:
        aligner = MMDAligner(5, solver="nystroem", n_landmarks=40).fit(X, y)
    assert aligner.n_components_ == 3
    assert record[0].filename == __file__  # the user's line, not the library's


def test_clipping_warning_names_the_callers_line_through_a_pipeline():
    Xs, ys, Xt, _ = _domains(n_source=6, n_target=5)
    X, y = stack_domains(Xs, ys, Xt)
    pipe = make_da_pipeline(MMDAligner(30, kernel="rbf"), KNeighborsClassifier(1))
    with pytest.warns(UserWarning, match="n_components=30") as record:
        pipe.fit(X, y)
    assert [w.filename for w in record] == [__file__]


def test_errors():
    Xs, ys, Xt, _ = _domains()
    X, y = stack_domains(Xs, ys, Xt)
    with pytest.raises(ValueError, match="NaN"):
        MMDAligner(2).fit(np.where(np.arange(X.size).reshape(X.shape) == 3, np.nan, X), y)
    with pytest.raises(ValueError, match="target"):
        MMDAligner(2).fit(Xs, ys)
    with pytest.raises(ValueError, match="source"):
        MMDAligner(2).fit(Xt, -np.ones(len(Xt), dtype=int))
    aligner = MMDAligner(2).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        aligner.transform(X[:, :3])
    with pytest.raises(ValueError, match="class"):
        JointMMDAligner(2).fit(X, np.where(y == -1, -1, 0))
    with pytest.raises(ValueError, match="gamma, coef0 and degree apply to named kernels only"):
        MMDAligner(2, kernel=lambda a, b: a @ b, gamma=0.1).fit(X, y)


def test_callable_kernel_matches_named_kernel():
    Xs, ys, Xt, _ = _domains()
    X, y = stack_domains(Xs, ys, Xt)
    named = MMDAligner(3, kernel="rbf", gamma=0.2, random_state=0).fit(X, y)
    rbf = MMDAligner(
        3, kernel=lambda a, b, g: np.exp(-g * np.sum((a - b) ** 2)), kernel_params={"g": 0.2}, random_state=0
    ).fit(X, y)
    np.testing.assert_allclose(rbf.transform(Xt), named.transform(Xt), atol=1e-8)


@pytest.mark.parametrize(
    "aligner",
    [
        MMDAligner(3, kernel="rbf"),
        MMDAligner(3, solver="nystroem", n_landmarks=20),
        JointMMDAligner(3, n_iter=3),
    ],
    ids=["exact", "nystroem", "joint"],
)
def test_pickle_clone_and_random_state(aligner, tmp_path):
    Xs, ys, Xt, _ = _domains()
    X, y = stack_domains(Xs, ys, Xt)
    fitted = clone(aligner).set_params(random_state=0).fit(X, y)
    expected = fitted.transform(Xt)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fitted)).transform(Xt), expected)
    joblib.dump(fitted, tmp_path / "a.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "a.joblib").transform(Xt), expected)
    np.testing.assert_array_equal(clone(fitted).fit(X, y).transform(Xt), expected)


def test_joint_matches_brute_force_and_uses_classes():
    Xs, ys, Xt, yt = _domains(n_source=80, n_target=70)
    X, y = stack_domains(Xs, ys, Xt)
    one_round = JointMMDAligner(3, n_iter=1, random_state=0).fit(X, y)
    tca = MMDAligner(3, random_state=0).fit(X, y)
    np.testing.assert_allclose(one_round.transform(Xt), tca.transform(Xt), atol=1e-8)
    # Two rounds with a pseudo-labeler that returns the true target labels: the second
    # solve is the JDA problem with those labels, checked against the dense solve.

    class Oracle(KNeighborsClassifier):
        def predict(self, Z):
            return yt.copy()

    jda = JointMMDAligner(3, n_iter=2, pseudo_labeler=Oracle(), random_state=0).fit(X, y)
    source = np.arange(len(X)) < len(Xs)
    E = mmd_columns(
        source,
        np.r_[-np.ones(len(Xs), dtype=int), yt],
        np.r_[ys, -np.ones(len(Xt), dtype=int)],
        marginal_weight=3,  # the number of classes, as in the JDA reference code
    )
    K = X @ X.T
    values, W = _brute_force(K, E, 1.0, 3)
    np.testing.assert_allclose(jda.eigenvalues_, values, rtol=1e-8)
    assert _max_angle(jda.transform(X), K @ W) < 1e-4
    np.testing.assert_array_equal(jda.classes_, [0, 1, 2])


def test_joint_nystroem_matches_exact():
    Xs, ys, Xt, _ = _domains()
    X, y = stack_domains(Xs, ys, Xt)
    exact = JointMMDAligner(3, n_iter=3, solver="exact", random_state=0).fit(X, y)
    nys = JointMMDAligner(3, n_iter=3, solver="nystroem", n_landmarks=len(X), random_state=0).fit(X, y)
    assert _max_angle(nys.transform(X), exact.transform(X)) < 1e-4


@pytest.mark.slow
@needs_oc10
@pytest.mark.parametrize(
    ("source", "target", "published"), [("dslr", "webcam", 87.5), ("webcam", "dslr", 91.1)]
)
def test_office_caltech10_published_tca(source, target, published):
    # Published TCA (Long et al. 2013, Table 2), the setting of the reference code.
    Xs, ys = load_oc10(source)
    Xt, yt = load_oc10(target)
    X, y = stack_domains(Xs, ys, Xt)
    pipe = make_da_pipeline(
        Normalizer(),
        MMDAligner(n_components=30, kernel="linear", mu=1.0),
        Normalizer(),
        KNeighborsClassifier(1),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        accuracy = 100 * np.mean(pipe.fit(X, y).predict(Xt) == yt)
    assert abs(accuracy - published) <= 1.5


def _reference_jda(Xs, ys, Xt, k=100, lam=1.0, n_iter=10):
    """Target predictions of Long et al.'s JDA.m, linear kernel, ported line by line."""
    X = normalize(np.vstack([Xs, Xt]))
    ns, classes = len(Xs), np.unique(ys)
    source = np.arange(len(X)) < ns
    K, pseudo = X @ X.T, None
    for _ in range(n_iter):
        e = np.where(source, 1 / ns, -1 / (len(X) - ns))
        M = np.outer(e, e) * len(classes)
        if pseudo is not None:
            for c in classes:
                e = np.zeros(len(X))
                e[:ns][ys == c] = 1 / np.sum(ys == c)
                if np.any(pseudo == c):  # e(isinf(e)) = 0
                    e[ns:][pseudo == c] = -1 / np.sum(pseudo == c)
                M += np.outer(e, e)
        Z = normalize(_reference_round(K, M, lam, k))
        pseudo = KNeighborsClassifier(1).fit(Z[:ns], ys).predict(Z[ns:])
    return pseudo


@pytest.mark.slow
@needs_oc10
@pytest.mark.parametrize(
    ("source", "target", "n_components", "n_correct"),
    [
        # Long et al. 2013, Table 2 (100 components): 89.17% of dslr's 157 images
        ("webcam", "dslr", 100, 140),
        # the JDA row of the data README, with the 30 components of its TCA row: 89.2% of 295
        ("dslr", "webcam", 30, 263),
    ],
)
def test_office_caltech10_jda_matches_reference_code(source, target, n_components, n_correct):
    Xs, ys = load_oc10(source)
    Xt, yt = load_oc10(target)
    X, y = stack_domains(Xs, ys, Xt)
    pipe = make_da_pipeline(
        Normalizer(),
        JointMMDAligner(n_components, mu=1.0, n_iter=10, random_state=0),
        Normalizer(),
        KNeighborsClassifier(1),
    )
    predicted = pipe.fit(X, y).predict(Xt)
    np.testing.assert_array_equal(predicted, _reference_jda(Xs, ys, Xt, k=n_components))
    assert np.sum(predicted == yt) == n_correct


@pytest.mark.parametrize(("kernel", "dtype"), [("rbf", np.float64), ("linear", np.float32)])
def test_dask_fit_matches_in_memory_nystroem(kernel, dtype):
    da = pytest.importorskip("dask.array")
    Xs, ys, Xt, _ = _domains(n_source=300, n_target=250)
    X, y = stack_domains(Xs, ys, Xt)
    X = X.astype(dtype)
    sample_domain = np.where(y == -1, -1, np.arange(len(y)) % 2)  # two source domains, pooled
    params = dict(kernel=kernel, gamma=0.1 if kernel == "rbf" else None, solver="nystroem")
    memory = MMDAligner(3, n_landmarks=80, random_state=0, **params).fit(X, sample_domain=sample_domain)
    chunked = MMDAligner(3, n_landmarks=80, random_state=0, **params)
    chunked.fit(da.from_array(X, chunks=(97, 4)), sample_domain=da.from_array(sample_domain, chunks=97))
    np.testing.assert_array_equal(chunked.landmarks_, memory.landmarks_)
    assert chunked.solver_ == "nystroem" and chunked.n_features_in_ == X.shape[1]
    # float32 data is solved in float32: sums in another order differ by its rounding
    rtol, atol = (1e-9, 1e-5) if dtype == np.float64 else (1e-4, 1e-4)
    np.testing.assert_allclose(chunked.eigenvalues_, memory.eigenvalues_, rtol=rtol)
    expected = memory.transform(X)
    np.testing.assert_allclose(chunked.transform(X), expected, rtol=1e-4, atol=atol * np.abs(expected).max())
    lazy = chunked.transform(da.from_array(X, chunks=(100, 3)))
    assert isinstance(lazy, da.Array) and lazy.dtype == dtype
    np.testing.assert_array_equal(lazy.compute(), chunked.transform(X))
    # "auto" chooses Nyström for a Dask array whatever its size
    auto = MMDAligner(3, n_landmarks=80, random_state=0, **{**params, "solver": "auto"})
    assert auto.fit(da.from_array(X, chunks=200), y).solver_ == "nystroem"


def test_dask_errors():
    da = pytest.importorskip("dask.array")
    Xs, ys, Xt, _ = _domains()
    X, y = stack_domains(Xs, ys, Xt)
    lazy = da.from_array(X, chunks=40)
    with pytest.raises(ValueError, match="solver='exact' needs X in memory"):
        MMDAligner(2, solver="exact").fit(lazy, y)
    with pytest.raises(ValueError, match="JointMMDAligner needs X in memory"):
        JointMMDAligner(2).fit(lazy, y)
    with pytest.raises(ValueError, match="fit_transform needs X in memory"):
        MMDAligner(2).fit_transform(lazy, y)
    with pytest.raises(ValueError, match="NaN"):
        MMDAligner(2, n_landmarks=5, random_state=0).fit(da.from_array(np.where(X > 2.5, np.nan, X), 40), y)
    with pytest.raises(ValueError, match="target"):
        MMDAligner(2).fit(lazy, np.zeros(len(X), dtype=int))


@pytest.mark.parametrize(
    ("estimator", "n_features", "dense_max_rows"),
    [
        (MMDAligner(4, kernel="rbf", gamma=0.1, solver="exact", random_state=0), 6, 1000),  # dense
        (MMDAligner(4, kernel="rbf", gamma=0.1, solver="exact", random_state=0), 6, 50),  # block Krylov
        (MMDAligner(4, kernel="linear", solver="exact", random_state=0), 6, 1000),  # feature space
        (JointMMDAligner(4, kernel="rbf", gamma=0.1, n_iter=3, random_state=0), 6, 50),
        (JointMMDAligner(4, kernel="linear", n_iter=3, random_state=0), 6, 1000),
    ],
)
def test_float32_path_agrees_with_float64(estimator, n_features, dense_max_rows, monkeypatch):
    # float32 rows are solved in float32 (kernel, factorisations, eigensolver): the
    # components agree with the float64 solve to float32's accuracy, the labels exactly.
    from skltransfer.alignment import _tca_solvers

    monkeypatch.setattr(_tca_solvers, "_DENSE_MAX_ROWS", dense_max_rows)
    Xs, ys, Xt, _ = _domains(n_source=150, n_target=120, n_features=n_features)
    X, y = stack_domains(Xs, ys, Xt)
    double = clone(estimator).fit(X, y)
    single = clone(estimator).fit(X.astype(np.float32), y)
    assert single.projection_.dtype == np.float32 and double.projection_.dtype == np.float64
    np.testing.assert_allclose(single.eigenvalues_, double.eigenvalues_, rtol=1e-3)
    Z32, Z64 = single.transform(X.astype(np.float32)), double.transform(X)
    assert Z32.dtype == np.float32
    assert _max_angle(Z32.astype(np.float64), Z64) < 0.5  # degrees
    np.testing.assert_allclose(Z32, Z64, atol=1e-3 * np.abs(Z64).max())
    knn = KNeighborsClassifier(1)
    assert (
        np.mean(
            knn.fit(Z32[: len(Xs)], ys).predict(Z32[len(Xs) :])
            == knn.fit(Z64[: len(Xs)], ys).predict(Z64[len(Xs) :])
        )
        >= 0.98
    )


# ------------------------------------------------- the block Krylov method in the kernel


class _CountingKernel:
    """A kernel matrix that counts the columns it is multiplied with."""

    __array_ufunc__ = None  # ``ndarray @ kernel`` calls ``__rmatmul__``

    def __init__(self, K):
        self.K, self.shape, self.dtype, self.columns = K, K.shape, K.dtype, 0

    def __matmul__(self, other):
        self.columns += other.shape[1]
        return self.K @ other

    def __rmatmul__(self, other):  # rows times K: K (symmetric) times as many columns
        self.columns += other.shape[0]
        return other @ self.K


def _tca_problem(n, dtype=np.float64, seed=0):
    X = np.random.default_rng(seed).normal(size=(n, 5))
    X[n // 2 :] += 0.5  # the target half, shifted
    K = pairwise_kernels(X, metric="rbf", gamma=0.3).astype(dtype)
    E = mmd_columns(np.arange(n) < n // 2)
    Q, beta = _whitening(K @ E.astype(dtype) / _scale(E), 1.0)
    return K, Q, beta


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernel_krylov_matches_the_dense_solve_and_warm_start_saves_products(dtype):
    K, Q, beta = _tca_problem(400, dtype)
    counting = _CountingKernel(K)
    values, vectors, KPY = _kernel_krylov_eigh(
        counting, Q, beta, 1.0, 6, random_state=np.random.RandomState(0)
    )
    reference, reference_vectors, _ = _dense_eigh(K.astype(np.float64), Q.astype(np.float64), beta, 1.0, 6)
    rtol = 1e-7 if dtype == np.float64 else 1e-3
    assert vectors.dtype == KPY.dtype == dtype
    np.testing.assert_allclose(values, reference, rtol=rtol)
    np.testing.assert_allclose(np.abs(np.sum(vectors * reference_vectors, axis=0)), 1.0, rtol=rtol)
    # K P Y from the products already made equals the direct product
    direct = K @ _apply(Q, beta, vectors)
    np.testing.assert_allclose(
        KPY, direct, atol=(1e-10 if dtype == np.float64 else 1e-4) * np.abs(direct).max()
    )
    cold, counting.columns = counting.columns, 0
    _kernel_krylov_eigh(counting, Q, beta, 1.0, 6, random_state=np.random.RandomState(1), start=vectors)
    assert counting.columns < cold  # the warm start converges in fewer blocks


def test_kernel_krylov_reports_no_convergence():
    K, Q, beta = _tca_problem(400)
    with pytest.raises(RuntimeError, match="did not converge in 1 cycles"):
        _kernel_krylov_eigh(
            K, Q, beta, 1.0, 6, random_state=np.random.RandomState(0), blocks=3, max_restarts=1
        )


def test_kernel_krylov_without_room_for_three_blocks_solves_densely():
    K, Q, beta = _tca_problem(60)
    values, vectors, _ = _kernel_krylov_eigh(K, Q, beta, 1.0, 25, random_state=np.random.RandomState(0))
    reference, reference_vectors, _ = _dense_eigh(K, Q, beta, 1.0, 25)
    np.testing.assert_allclose(values, reference, rtol=1e-10)
    np.testing.assert_allclose(np.abs(np.sum(vectors * reference_vectors, axis=0)), 1.0, rtol=1e-8)


def test_kernel_krylov_on_a_low_rank_kernel_matches_the_dense_solve():
    # a linear kernel of 5 features has rank 5: the Krylov space is exhausted after one
    # block, and the directions that come out dependent are replaced by random ones
    X = np.random.default_rng(1).normal(size=(400, 5))
    X[200:] += 0.5
    K = X @ X.T
    E = mmd_columns(np.arange(400) < 200)
    Q, beta = _whitening(K @ E / _scale(E), 1.0)
    values, vectors, _ = _kernel_krylov_eigh(K, Q, beta, 1.0, 3, random_state=np.random.RandomState(0))
    reference, reference_vectors, _ = _dense_eigh(K, Q, beta, 1.0, 3)
    np.testing.assert_allclose(values, reference, rtol=1e-8)
    np.testing.assert_allclose(np.abs(np.sum(vectors * reference_vectors, axis=0)), 1.0, rtol=1e-7)


# ------------------------------------------ the stopping rule on the objective, against eigh


def _isotropic_problem(n=1000, n_features=200, seed=0):
    """rbf kernel of isotropic Gaussian rows, the target half shifted by 0.5: a nearly flat
    leading spectrum (the relative gap between the 10th and 11th eigenvalues is about 2%)."""
    X = np.random.default_rng(seed).normal(size=(n, n_features))
    X[n // 2 :] += 0.5
    K = pairwise_kernels(X, metric="rbf", gamma=1.0 / n_features)
    E = mmd_columns(np.arange(n) < n // 2)
    Q, beta = _whitening(K @ E / _scale(E), 1.0)
    return K, E, Q, beta


def _structured_problem(n=1000, seed=0):
    """rbf kernel of rows with three well-separated classes in 6 features: a fast decaying
    spectrum with gaps."""
    Xs, _, Xt, _ = _domains(n // 2, n - n // 2, 6, seed)
    K = pairwise_kernels(np.vstack([Xs, Xt]), metric="rbf", gamma=0.1)
    E = mmd_columns(np.arange(n) < n // 2)
    Q, beta = _whitening(K @ E / _scale(E), 1.0)
    return K, E, Q, beta


def _sin2_bound(reference, values, j):
    """Largest ``||sin Theta||_F^2`` between the first ``j`` computed and exact eigenvectors
    that the objective's deficit allows: each Ritz value is below its eigenvalue, so the
    deficit of the first ``j`` is at most the whole deficit, and ``tr(Y^T S Y)`` of an
    orthonormal ``Y`` falls short of the sum of the ``j`` leading eigenvalues by at least
    ``(lambda_j - lambda_{j+1}) ||sin Theta||_F^2``."""
    return (np.sum(reference[: len(values)]) - np.sum(values)) / (reference[j - 1] - reference[j])


@pytest.mark.parametrize("case", ["flat", "structured"])
def test_kernel_krylov_objective_and_subspace_match_dense_eigh(case):
    K, _, Q, beta = _isotropic_problem() if case == "flat" else _structured_problem()
    k = 10
    counting = _CountingKernel(K)
    values, vectors, _ = _kernel_krylov_eigh(counting, Q, beta, 1.0, k, random_state=np.random.RandomState(0))
    # the dense reference: S = P K H K P formed densely, every eigenvalue by scipy.linalg.eigh
    P = _apply(Q, beta, np.eye(K.shape[0]))
    KP = K @ P
    S = (KP - KP.mean(axis=0)).T @ (KP - KP.mean(axis=0))
    reference, reference_vectors = linalg.eigh(S)
    reference, reference_vectors = reference[::-1], reference_vectors[:, ::-1]
    _assert_objective_close(values, reference[:k])
    if case == "flat":
        assert (reference[k - 1] - reference[k]) / reference[k - 1] < 0.03  # the case is flat
    else:
        assert (reference[k - 1] - reference[k]) / reference[k - 1] > 0.05
    for j in range(1, k + 1):
        sin2 = np.sum(np.sin(linalg.subspace_angles(vectors[:, :j], reference_vectors[:, :j])) ** 2)
        assert sin2 <= _sin2_bound(reference, values, j) + 1e-12
    # where the gap is wide the subspace is accurate: the leading component, always, and
    # the whole subspace of the structured case (within 0.1 degree)
    assert np.abs(vectors[:, 0] @ reference_vectors[:, 0]) > 1 - 1e-8
    if case == "structured":
        assert _max_angle(vectors, reference_vectors[:, :k]) < 0.1
    assert counting.columns <= 20 * (k + 2)  # a few hundred products, not a restart loop


@pytest.mark.parametrize("case", ["flat", "structured"])
def test_exact_aligner_objective_matches_dense_generalized_eigh(case, monkeypatch):
    # the whole fit on the Krylov path: the objective tr(W^T K H K W) of the components, with
    # W^T (K L K + mu I) W = I, against scipy.linalg.eigh(K H K, K L K + mu I)
    from skltransfer.alignment import _tca_solvers

    monkeypatch.setattr(_tca_solvers, "_DENSE_MAX_ROWS", 100)
    n = 400
    K, E, _, _ = _isotropic_problem(n, 100) if case == "flat" else _structured_problem(n)
    problem = ExactProblem(K, np.random.RandomState(0))
    values, W, _ = problem.solve(E, 1.0, 10)
    ref_values, _ = _brute_force(K, E, 1.0, 10)
    _assert_objective_close(values, ref_values)
    L = E @ E.T / np.linalg.norm(E.T @ E)
    np.testing.assert_allclose(W.T @ (K @ L @ K + np.eye(n)) @ W, np.eye(10), atol=1e-8)
    Kc = K - K.mean(axis=0)
    objective = np.trace(W.T @ Kc.T @ Kc @ W)
    assert abs(objective - ref_values.sum()) <= OBJECTIVE_TOL["float64"] * ref_values.sum()


def test_trace_deficit_extrapolates_the_geometric_decay():
    from skltransfer.alignment._tca_solvers import _next_check, _trace_deficit

    # deficit 2^-j after j blocks of a trace converging to 1; checks unequally spaced
    checks = [(j, 1.0 - 0.5**j) for j in (2, 3, 5)]
    assert _trace_deficit(checks) == pytest.approx(0.5**5, rel=1e-9)
    assert _trace_deficit(checks[:2]) == np.inf  # no rate from two checks
    assert _trace_deficit([(2, 1.0), (3, 1.0)]) == 0.0  # no growth: converged or exhausted
    assert _trace_deficit([(2, 0.5), (3, 0.6), (4, 0.8)]) == np.inf  # growth speeding up
    # the next check: where the decay reaches the tolerance, at most a third more blocks
    assert _next_check(checks, 1e-2) == 6  # 7 predicted, 5 + 5 // 3 at most
    assert _next_check([(j, 1.0 - 0.5**j) for j in (20, 21, 22)], 1e-7) == 24  # predicted
    assert _next_check([(j, 1.0 - 0.5**j) for j in (10, 11, 12)], 1e-6) == 16  # 20 predicted
