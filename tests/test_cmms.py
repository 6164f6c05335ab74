"""CMMSClassifier against a dense reference of Tian et al. (2020)."""

import pickle

import numpy as np
import pytest
from scipy import linalg
from sklearn.base import clone
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import LinearSVC

from skltransfer import CMMSClassifier, stack_domains
from skltransfer.classifiers._cmms import project_rows_on_simplex
from tests._oc10 import load_oc10, needs_oc10


@pytest.fixture
def shifted():
    rng = np.random.default_rng(0)
    ys = np.repeat([0, 1, 2], 30)
    centres = rng.normal(scale=3.0, size=(3, 8))
    Xs = centres[ys] + rng.normal(size=(90, 8))
    rotation = np.linalg.qr(rng.normal(size=(8, 8)))[0]
    Xt = (centres[ys] + rng.normal(size=(90, 8))) @ (0.6 * np.eye(8) + 0.4 * rotation) + 1.0
    return Xs, ys, Xt


def _simplex_by_bisection(v, n_steps=200):
    """argmin ||s - v|| on the simplex: s = max(v - tau, 0) with sum(s) = 1, tau by bisection."""
    lo, hi = v.min() - 1.0, v.max()
    for _ in range(n_steps):
        tau = (lo + hi) / 2
        lo, hi = (tau, hi) if np.maximum(v - tau, 0).sum() > 1 else (lo, tau)
    return np.maximum(v - (lo + hi) / 2, 0)


def _sq_dist(A, B):
    return ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)


def _laplacian(S):
    S = (S + S.T) / 2
    L = np.diag(S.sum(1)) - S
    return L / np.linalg.norm(L)


def _cmms_reference(Xs, ys, Xt, yt0, *, d, norm, alpha=0.1, beta=0.2, gamma=5.0, k=5, T=4):
    """CMMS with the dense n x n matrices of the paper: columns are samples, as there."""
    X = np.vstack([Xs, Xt]).T
    X = X / np.linalg.norm(X, axis=0)
    m, ns = Xs.shape[1], Xs.shape[0]
    nt, n = Xt.shape[0], Xs.shape[0] + Xt.shape[0]
    C = np.unique(ys).size
    H = np.eye(n) - np.ones((n, n)) / n
    E = np.zeros((n, C))
    for c in range(C):
        E[:ns][ys == c, c] = 1 / np.sum(ys == c)
    V = np.diag(np.r_[np.zeros(ns), np.ones(nt)])
    same = ys[:, None] == ys[None, :]
    Ls = np.eye(ns) - same / np.array([np.sum(ys == c) for c in ys])[:, None]
    Ls /= np.linalg.norm(Ls)
    D = _sq_dist(X[:, ns:].T, X[:, ns:].T)
    S, rr = np.zeros((nt, nt)), np.zeros(nt)
    for i in range(nt):
        order = np.argsort(D[i])
        order = order[order != i][: k + 1]
        di = D[i, order]
        rr[i] = 0.5 * (k * di[k] - di[:k].sum())
        S[i, order] = (di[k] - di) / (k * di[k] - di[:k].sum() + np.finfo(float).eps)
    r = rr.mean()
    Lt = _laplacian(S)
    labels = yt0.copy()
    history = []
    for _ in range(T):
        G = np.zeros((n, C))
        G[ns + np.arange(nt), labels] = 1
        U = np.linalg.inv(alpha * G.T @ G + np.eye(C))
        W = E + alpha * V @ G
        R = E @ E.T - E @ U @ W.T + alpha * V @ V.T - alpha * V @ G @ U @ W.T
        R /= np.linalg.norm(R)
        L = linalg.block_diag(Ls, Lt)
        L /= np.linalg.norm(L)
        _, P = linalg.eigh(X @ (R + gamma * L) @ X.T + beta * np.eye(m), X @ H @ X.T)
        P = P[:, :d]  # smallest eigenvalues, P^T (X H X^T) P = I
        if norm == "unit":
            P = P / np.linalg.norm(P, axis=0)
        Z = P.T @ X
        Z = Z - Z.mean(1, keepdims=True)
        Z = Z / np.linalg.norm(Z, axis=0)
        F = (Z @ E + alpha * Z @ V @ G) @ U
        labels = np.argmin(_sq_dist(Z[:, ns:].T, F.T), axis=1)
        Dz = _sq_dist(Z[:, ns:].T, Z[:, ns:].T)
        S = np.zeros((nt, nt))
        for j in range(nt):
            order = np.argsort(Dz[j])
            order = order[order != j][:k]
            S[j, order] = _simplex_by_bisection(-Dz[j, order] / (2 * r))
        Lt = _laplacian(S)
        history.append((P, labels.copy()))
    return history


def test_simplex_projection_matches_bisection():
    rng = np.random.default_rng(3)
    V = rng.normal(scale=2.0, size=(40, 7))
    S = project_rows_on_simplex(V)
    np.testing.assert_allclose(S.sum(1), 1.0)
    assert (S >= 0).all()
    np.testing.assert_allclose(S, np.array([_simplex_by_bisection(v) for v in V]), atol=1e-10)


@pytest.mark.parametrize("norm", ["unit", "constraint"])
@pytest.mark.parametrize("max_iter", [1, 4])
def test_cmms_matches_dense_reference(shifted, max_iter, norm):
    Xs, ys, Xt = shifted
    X, y = stack_domains(Xs, ys, Xt)
    clf = CMMSClassifier(
        n_components=3, n_neighbors=5, max_iter=max_iter, component_norm=norm, random_state=0
    ).fit(X, y)
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    svm = LinearSVC(C=1.0, dual=True, tol=0.1, random_state=np.random.RandomState(0))
    yt0 = svm.fit(Xn[:90], ys).predict(Xn[90:])
    P, labels = _cmms_reference(Xs, ys, Xt, yt0, d=3, norm=norm, k=5, T=max_iter)[-1]
    np.testing.assert_allclose(clf.components_ @ clf.components_.T, P @ P.T, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(clf.transduction_[90:], labels)
    np.testing.assert_array_equal(clf.predict(Xt), labels)
    np.testing.assert_array_equal(clf.transduction_[:90], ys)
    assert clf.n_iter_ == max_iter and clf.centroids_.shape == (3, 3)


def test_cmms_adapts_better_than_source_only():
    rng = np.random.default_rng(2)
    ys = np.repeat([0, 1, 2], 40)
    centres = rng.normal(scale=2.0, size=(3, 6))
    Xs = centres[ys] + rng.normal(size=(120, 6))
    Xt = (centres[ys] + rng.normal(size=(120, 6))) * [1.5, 0.7, 1.2, 1, 1, 1] + 2.0
    X, y = stack_domains(Xs, ys, Xt)
    nearest = np.mean(KNeighborsClassifier(1).fit(Xs, ys).predict(Xt) == ys)  # 0.76
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    initial = np.mean(LinearSVC(tol=0.1).fit(Xn[:120], ys).predict(Xn[120:]) == ys)  # 0.80
    adapted = np.mean(CMMSClassifier(n_components=3, random_state=0).fit(X, y).predict(Xt) == ys)  # 0.94
    assert adapted >= max(nearest, initial) + 0.1


def test_cmms_string_labels_pickle_and_binary(shifted):
    Xs, ys, Xt = shifted
    names = np.array(["cat", "dog", "eel"])
    X, y = stack_domains(Xs, names[ys], Xt)
    clf = CMMSClassifier(n_components=3, max_iter=3, random_state=0).fit(X, y)
    assert clf.classes_.tolist() == names.tolist()
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict(Xt), clf.predict(Xt))
    np.testing.assert_array_equal(clone(clf).fit(X, y).predict(Xt), clf.predict(Xt))
    keep = ys < 2
    X, y = stack_domains(Xs[keep], ys[keep], Xt[keep])
    binary = CMMSClassifier(n_components=2, random_state=0).fit(X, y)
    scores = binary.decision_function(Xt[keep])
    assert scores.shape == (60,)
    np.testing.assert_array_equal(binary.predict(Xt[keep]), (scores > 0).astype(int))


def test_cmms_clips_components_and_neighbours(shifted):
    Xs, ys, Xt = shifted
    X, y = stack_domains(Xs, ys, Xt[:4])
    with pytest.warns(UserWarning, match="n_components=100 exceeds n_features=8") as record:
        clf = CMMSClassifier(random_state=0).fit(X, y)
    assert record[0].filename == __file__
    assert clf.n_components_ == 8 and clf.predict(Xt[:4]).shape == (4,)


def test_cmms_errors(shifted):
    Xs, ys, Xt = shifted
    X, y = stack_domains(Xs, np.zeros(90, int), Xt)
    with pytest.raises(ValueError, match="at least 2 classes"):
        CMMSClassifier(n_components=3).fit(X, y)
    X, y = stack_domains(Xs, ys, Xt)
    with pytest.raises(ValueError, match="cluster_weight"):
        CMMSClassifier(cluster_weight=0).fit(X, y)
    with pytest.raises(ValueError, match="no target rows"):
        CMMSClassifier(n_components=3).fit(Xs, ys)


@pytest.mark.slow
@needs_oc10
def test_cmms_office_caltech_caltech_to_amazon():
    Xs, ys = load_oc10("caltech")
    Xt, yt = load_oc10("amazon")
    X, y = stack_domains(Xs, ys, Xt)
    accuracy = 100 * np.mean(CMMSClassifier(random_state=0).fit(X, y).predict(Xt) == yt)
    assert accuracy >= 58.0  # 60.5 measured (57.1 with component_norm="constraint")
