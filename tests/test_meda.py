"""GFKAligner and MEDAClassifier against independent references."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import normalize

from skltransfer import GFKAligner, MEDAClassifier, stack_domains
from skltransfer.classifiers._meda import _normalized_laplacian, estimate_mu, proxy_a_distance
from tests._oc10 import load_oc10, needs_oc10


def _pca_basis(X, d):
    Xc = X - X.mean(0)
    w, V = np.linalg.eigh(Xc.T @ Xc)
    return V[:, np.argsort(w)[::-1][:d]]


def _geodesic_kernel_by_quadrature(Ps, Pt, n_nodes=200):
    """G = int_0^1 Phi(t) Phi(t)^T dt on the Grassmann geodesic (Edelman et al. 1998 form)."""
    tangent = (Pt - Ps @ (Ps.T @ Pt)) @ np.linalg.inv(Ps.T @ Pt)
    U, tan_theta, Vt = np.linalg.svd(tangent, full_matrices=False)
    theta = np.arctan(tan_theta)
    nodes, weights = np.polynomial.legendre.leggauss(n_nodes)
    nodes, weights = (nodes + 1) / 2, weights / 2
    G = np.zeros((Ps.shape[0],) * 2)
    for t, w in zip(nodes, weights, strict=True):
        Phi = Ps @ Vt.T @ np.diag(np.cos(t * theta)) + U @ np.diag(np.sin(t * theta))
        G += w * Phi @ Phi.T
    end = Ps @ Vt.T @ np.diag(np.cos(theta)) + U @ np.diag(np.sin(theta))
    np.testing.assert_allclose(end @ end.T, Pt @ Pt.T, atol=1e-8)  # the reference reaches Pt
    return G


@pytest.fixture
def shifted():
    rng = np.random.default_rng(0)
    ys = np.repeat([0, 1, 2], 30)
    centres = rng.normal(scale=3.0, size=(3, 8))
    Xs = centres[ys] + rng.normal(size=(90, 8))
    rotation = np.linalg.qr(rng.normal(size=(8, 8)))[0]
    Xt = (centres[ys] + rng.normal(size=(90, 8))) @ (0.6 * np.eye(8) + 0.4 * rotation) + 1.0
    return Xs, ys, Xt


def test_gfk_matches_geodesic_quadrature(shifted):
    Xs, ys, Xt = shifted
    X, y = stack_domains(Xs, ys, Xt)
    gfk = GFKAligner(n_components=3).fit(X, y)
    G_ref = _geodesic_kernel_by_quadrature(_pca_basis(Xs, 3), _pca_basis(Xt, 3))
    P = gfk.components_
    np.testing.assert_allclose(P @ P.T, G_ref, atol=1e-6)
    Z = gfk.fit_transform(X, y)
    np.testing.assert_allclose(Z @ Z.T, X @ G_ref @ X.T, atol=1e-5)
    np.testing.assert_allclose(gfk.transform(X), Z)
    assert Z.shape == (180, 6)


def test_gfk_identical_subspaces_is_the_projection():
    rng = np.random.default_rng(1)
    Xs = rng.normal(size=(50, 5)) * [5, 4, 1, 0.5, 0.1]
    X, y = stack_domains(Xs, np.tile([0, 1], 25), Xs.copy())
    P = GFKAligner(n_components=2).fit(X, y).components_
    basis = _pca_basis(Xs, 2)
    np.testing.assert_allclose(P @ P.T, basis @ basis.T, atol=1e-10)


def test_gfk_clips_n_components(shifted):
    Xs, ys, Xt = shifted
    X, y = stack_domains(Xs, ys, Xt)
    with pytest.warns(UserWarning, match="n_components=20 exceeds"):
        assert GFKAligner().fit(X, y).n_components_ == 8


def _meda_reference(Xs, ys, Xt, *, d, mu, gamma=0.5, lam=10.0, rho=1.0, eta=0.1, p=10, T=5):
    """MEDA by the dense formulas of Wang et al. (2018), with a fixed mu."""
    P = GFKAligner(n_components=d).fit(*stack_domains(Xs, ys, Xt)).components_
    X = normalize(np.vstack([Xs, Xt]) @ P)
    n, m = len(Xs), len(Xt)
    classes = np.unique(ys)
    C = classes.size
    Y = np.zeros((n + m, C))
    Y[np.arange(n), np.searchsorted(classes, ys)] = 1
    L = _normalized_laplacian(X, p)
    cls = KNeighborsClassifier(1).fit(X[:n], ys).predict(X[n:])
    K = rbf_kernel(X, gamma=gamma)
    E = np.diag(np.r_[np.ones(n), np.zeros(m)])
    for _ in range(T):
        e = np.r_[np.full(n, 1 / n), np.full(m, -1 / m)]
        M0 = np.outer(e, e) * C
        N = np.zeros_like(M0)
        for c in classes:
            e = np.zeros(n + m)
            e[:n][ys == c] = 1 / np.sum(ys == c)
            if np.any(cls == c):
                e[n:][cls == c] = -1 / np.sum(cls == c)
            N += np.outer(e, e)
        M = (1 - mu) * M0 + mu * N
        M /= np.linalg.norm(M, "fro")
        beta = np.linalg.solve((E + lam * M + rho * L) @ K + eta * np.eye(n + m), E @ Y)
        cls = classes[np.argmax(K[n:] @ beta, axis=1)]
    return beta, cls


@pytest.mark.parametrize("mu", [0.0, 0.5, 1.0])
def test_meda_matches_dense_reference(shifted, mu):
    Xs, ys, Xt = shifted
    X, y = stack_domains(Xs, ys, Xt)
    clf = MEDAClassifier(n_components=3, mu=mu, max_iter=5).fit(X, y)
    beta, cls = _meda_reference(Xs, ys, Xt, d=3, mu=mu)
    np.testing.assert_allclose(clf.dual_coef_[0], beta, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(clf.transduction_[90:], cls)
    np.testing.assert_array_equal(clf.predict(Xt), cls)
    np.testing.assert_array_equal(clf.transduction_[:90], ys)


def test_estimate_mu_definition(shifted):
    Xs, ys, Xt = shifted
    marginal = proxy_a_distance(Xs, Xt)
    conditional = np.mean([proxy_a_distance(Xs[ys == c], Xt[ys == c]) for c in range(3)])
    assert estimate_mu(Xs, ys, Xt, ys) == pytest.approx(conditional / (conditional + marginal))
    assert -2.0 <= marginal <= 2.0
    assert estimate_mu(Xs, ys, Xt, np.full(90, 7)) == 0.0  # no class shared: marginal only


def test_meda_adapts_better_than_source_only():
    rng = np.random.default_rng(2)
    ys = np.repeat([0, 1, 2], 40)
    centres = rng.normal(scale=2.0, size=(3, 6))
    Xs = centres[ys] + rng.normal(size=(120, 6))
    Xt = (centres[ys] + rng.normal(size=(120, 6))) * [1.5, 0.7, 1.2, 1, 1, 1] + 2.0
    X, y = stack_domains(Xs, ys, Xt)
    baseline = np.mean(KNeighborsClassifier(1).fit(Xs, ys).predict(Xt) == ys)  # 0.76
    adapted = np.mean(MEDAClassifier(n_components=3).fit(X, y).predict(Xt) == ys)  # 0.93
    assert adapted >= baseline + 0.1


def test_meda_without_embedding_string_labels_and_pickle(shifted):
    Xs, ys, Xt = shifted
    names = np.array(["cat", "dog", "eel"])
    X, y = stack_domains(Xs, names[ys], Xt)
    clf = MEDAClassifier(n_components=None, max_iter=3).fit(X, y)
    assert clf.embeddings_ == [None] and clf.classes_.tolist() == names.tolist()
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict(Xt), clf.predict(Xt))
    np.testing.assert_array_equal(clone(clf).fit(X, y).predict(Xt), clf.predict(Xt))
    assert 0.0 <= clf.mu_[0] <= 1.0 and clf.n_iter_ == 3


def test_meda_several_dimensions_average_scores(shifted):
    Xs, ys, Xt = shifted
    X, y = stack_domains(Xs, ys, Xt)
    both = MEDAClassifier(n_components=[2, 3], max_iter=3).fit(X, y)
    singles = [MEDAClassifier(n_components=d, max_iter=3).fit(X, y) for d in (2, 3)]
    expected = sum(clf.decision_function(Xt) for clf in singles)
    np.testing.assert_allclose(both.decision_function(Xt), expected, atol=1e-10)
    np.testing.assert_array_equal(both.predict(Xt), np.argmax(expected, axis=1))
    np.testing.assert_array_equal(both.transduction_[90:], both.predict(Xt))
    assert len(both.embeddings_) == len(both.dual_coef_) == len(both.mu_) == 2


def test_meda_binary_decision_function(shifted):
    Xs, ys, Xt = shifted
    keep = ys < 2
    X, y = stack_domains(Xs[keep], ys[keep], Xt[keep])
    clf = MEDAClassifier(n_components=2, kernel="linear").fit(X, y)
    scores = clf.decision_function(Xt[keep])
    assert scores.shape == (60,)
    np.testing.assert_array_equal(clf.predict(Xt[keep]), (scores > 0).astype(int))


def test_meda_errors(shifted):
    Xs, ys, Xt = shifted
    X, y = stack_domains(Xs, np.zeros(90, int), Xt)
    with pytest.raises(ValueError, match="at least 2 classes"):
        MEDAClassifier(n_components=3).fit(X, y)
    X, y = stack_domains(Xs, ys, Xt)
    with pytest.raises(ValueError, match="mu"):
        MEDAClassifier(mu=1.5).fit(X, y)
    for bad in ([], [2, 0], [2.5]):
        with pytest.raises(ValueError, match="non-empty list of positive ints"):
            MEDAClassifier(n_components=bad).fit(X, y)
    with pytest.raises(ValueError, match="no target rows"):
        MEDAClassifier(n_components=3).fit(Xs, ys)


@pytest.mark.slow
@needs_oc10
def test_meda_office_caltech_dslr_to_webcam_published():
    Xs, ys = load_oc10("dslr")
    Xt, yt = load_oc10("webcam")
    X, y = stack_domains(Xs, ys, Xt)
    accuracy = 100 * np.mean(MEDAClassifier().fit(X, y).predict(Xt) == yt)
    assert accuracy >= 85.0  # published 87.5 (Wang et al. 2018); 85.8 measured
