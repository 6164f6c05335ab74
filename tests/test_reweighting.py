"""Instance-based domain adaptation: KMM, domain-classifier weights, uLSIF, TrAdaBoost."""

import math
import pickle
import warnings

import numpy as np
import pytest
from scipy.optimize import minimize
from sklearn import config_context
from sklearn.base import BaseEstimator, ClassifierMixin, clone, is_classifier, is_regressor
from sklearn.linear_model import LogisticRegression, Ridge, RidgeClassifier
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from skltransfer import (
    DomainClassifierWeighting,
    KernelMeanMatching,
    LeastSquaresImportanceFitting,
    TrAdaBoostClassifier,
    stack_domains,
)
from skltransfer.reweighting import kmm_qp, ulsif_loo_score
from skltransfer.reweighting._tradaboost import _decision_to_proba
from tests._checks import with_alternate_domains


def _shifted(n_source=80, n_target=60, seed=0):
    rng = np.random.default_rng(seed)
    Xs = rng.normal(size=(n_source, 2))
    ys = (Xs[:, 0] + 0.3 * Xs[:, 1] > 0).astype(int)
    Xt = rng.normal(0.8, 0.6, size=(n_target, 2))
    return Xs, ys, Xt


def _kmm_problem(n=25, n_target=20, seed=0):
    Xs, _, Xt = _shifted(n, n_target, seed)
    K = rbf_kernel(Xs, gamma=0.5)
    kappa = n / n_target * rbf_kernel(Xs, Xt, gamma=0.5).sum(axis=1)
    return K, kappa


def _objective(K, kappa, b):
    return 0.5 * b @ K @ b - kappa @ b


# --- kernel mean matching -------------------------------------------------------------


@pytest.mark.parametrize("B, eps", [(1000.0, 0.8), (2.0, 0.1), (5.0, 0.0)])
def test_kmm_apg_matches_slsqp(B, eps):
    K, kappa = _kmm_problem()
    b_apg = kmm_qp(K, kappa, B=B, eps=eps, tol=1e-10, max_iter=20000)
    b_ref = kmm_qp(K, kappa, B=B, eps=eps, solver="slsqp", tol=1e-12, max_iter=1000)
    assert _objective(K, kappa, b_apg) <= _objective(K, kappa, b_ref) + 1e-6 * abs(
        _objective(K, kappa, b_ref)
    )
    np.testing.assert_allclose(b_apg, b_ref, atol=1e-3 * max(1.0, b_ref.max()))


@pytest.mark.parametrize("B, eps", [(1000.0, 0.8), (2.0, 0.1), (5.0, 0.0)])
def test_kmm_apg_satisfies_kkt(B, eps):
    K, kappa = _kmm_problem(seed=1)
    n = K.shape[0]
    b = kmm_qp(K, kappa, B=B, eps=eps, tol=1e-12, max_iter=50000)
    assert np.all(b >= 0) and np.all(b <= B)
    assert n * (1 - eps) - 1e-8 <= b.sum() <= n * (1 + eps) + 1e-8
    grad = K @ b - kappa
    free = (b > 1e-6) & (b < B - 1e-6)
    assert free.any()
    # Stationarity: one multiplier nu of the sum constraint makes grad + nu vanish on the free
    # weights, non-negative at the lower bound, non-positive at the upper bound.
    nu = -np.median(grad[free])
    scale = np.abs(kappa).max()
    np.testing.assert_allclose(grad[free] + nu, 0.0, atol=1e-5 * scale)
    assert np.all(grad[b <= 1e-6] + nu >= -1e-5 * scale)
    assert np.all(grad[b >= B - 1e-6] + nu <= 1e-5 * scale)
    if n * (1 - eps) + 1e-6 < b.sum() < n * (1 + eps) - 1e-6:
        assert abs(nu) <= 1e-5 * scale


def test_kmm_qp_against_scipy_general_solver_on_identity():
    # K = I: the problem separates into projecting kappa onto the feasible set.
    kappa = np.array([3.0, 2.0, 0.5, -1.0])
    b = kmm_qp(np.eye(4), kappa, B=2.5, eps=0.1, tol=1e-12)
    ref = minimize(
        lambda v: 0.5 * v @ v - kappa @ v,
        np.ones(4),
        method="SLSQP",
        bounds=[(0, 2.5)] * 4,
        constraints=[
            {"type": "ineq", "fun": lambda v: 4.4 - v.sum()},
            {"type": "ineq", "fun": lambda v: v.sum() - 3.6},
        ],
    ).x
    np.testing.assert_allclose(b, ref, atol=1e-6)
    np.testing.assert_allclose(b, [2.5, 1.7, 0.2, 0.0], atol=1e-9)  # clip(kappa - 0.3, 0, B)


def test_kmm_qp_returns_n_iter():
    K, kappa = _kmm_problem()
    b, n_iter = kmm_qp(K, kappa, eps=0.5, max_iter=7, tol=0.0, return_n_iter=True)
    assert n_iter == 7 and b.shape == (25,)


def test_kmm_qp_infeasible_raises():
    with pytest.raises(ValueError, match=r"KMM constraints are infeasible: with B=0\.5"):
        kmm_qp(np.eye(4), np.ones(4), B=0.5, eps=0.1)


def test_kmm_estimator_weights_are_the_qp_solution():
    Xs, ys, Xt = _shifted()
    X, y = stack_domains(Xs, ys, Xt)
    kmm = KernelMeanMatching(LogisticRegression(), gamma=0.5, eps=0.3, tol=1e-10, max_iter=5000).fit(X, y)
    K = rbf_kernel(Xs, gamma=0.5)
    kappa = 80 / 60 * rbf_kernel(Xs, Xt, gamma=0.5).sum(axis=1)
    expected = kmm_qp(K, kappa, eps=0.3, tol=1e-10, max_iter=5000)
    expected /= expected.mean()  # the fitted weights are scaled to mean 1
    np.testing.assert_allclose(kmm.weights_[:80], expected, rtol=1e-6, atol=1e-8)
    assert np.all(kmm.weights_[80:] == 0)
    assert 1 <= kmm.n_iter_ <= 5000
    # The weighted source mean moves towards the target mean.
    weighted_mean = np.average(Xs, axis=0, weights=kmm.weights_[:80])
    assert np.linalg.norm(weighted_mean - Xt.mean(0)) < np.linalg.norm(Xs.mean(0) - Xt.mean(0))
    ref = LogisticRegression().fit(Xs, ys, sample_weight=expected)
    np.testing.assert_allclose(kmm.predict_proba(Xt), ref.predict_proba(Xt), rtol=1e-5)


def test_kmm_batches_each_satisfy_their_constraint():
    Xs, ys, Xt = _shifted(90, 40)
    X, y = stack_domains(Xs, ys, Xt)
    kmm = KernelMeanMatching(LogisticRegression(), batch_size=30, eps=0.0, random_state=0).fit(X, y)
    # eps = 0: each batch's weights sum to its size, so the total is the number of source rows.
    np.testing.assert_allclose(kmm.weights_.sum(), 90.0, rtol=1e-9)
    again = KernelMeanMatching(LogisticRegression(), batch_size=30, eps=0.0, random_state=0).fit(X, y)
    np.testing.assert_array_equal(kmm.weights_, again.weights_)
    other = KernelMeanMatching(LogisticRegression(), batch_size=30, eps=0.0, random_state=1).fit(X, y)
    assert not np.allclose(kmm.weights_, other.weights_)


def test_kmm_callable_kernel_and_slsqp():
    Xs, ys, Xt = _shifted(30, 20)
    X, y = stack_domains(Xs, ys, Xt)
    a = KernelMeanMatching(LogisticRegression(), kernel=lambda u, v: np.exp(-0.5 * np.sum((u - v) ** 2))).fit(
        X, y
    )
    b = KernelMeanMatching(LogisticRegression(), gamma=0.5, solver="slsqp").fit(X, y)
    np.testing.assert_allclose(a.weights_, b.weights_, atol=1e-2 * b.weights_.max())


# --- domain classifier -------------------------------------------------------------


def test_domain_classifier_recovers_gaussian_density_ratio():
    # Source N(0, 1), target N(1, 1): p_t(x) / p_s(x) = exp(x - 1/2), and the logistic model
    # of the domain posterior is well specified. Unequal sizes test the n_s / n_t factor.
    rng = np.random.default_rng(0)
    Xs, Xt = rng.normal(0.0, 1.0, (20000, 1)), rng.normal(1.0, 1.0, (10000, 1))
    ys = (Xs[:, 0] > 0).astype(int)
    X, y = stack_domains(Xs, ys, Xt)
    clf = DomainClassifierWeighting(LogisticRegression(C=1e6)).fit(X, y)
    grid = (Xs[:, 0] > -1.5) & (Xs[:, 0] < 2.5)
    np.testing.assert_allclose(clf.weights_[:20000][grid], np.exp(Xs[grid, 0] - 0.5), rtol=0.06)
    assert np.all(clf.weights_[20000:] == 0)
    assert clf.domain_classifier_.classes_.tolist() == [0, 1]


def test_domain_classifier_max_weight_clips():
    Xs, ys, Xt = _shifted()
    X, y = stack_domains(Xs, ys, Xt)
    free = DomainClassifierWeighting(LogisticRegression()).fit(X, y)
    clipped = DomainClassifierWeighting(LogisticRegression(), max_weight=1.5).fit(X, y)
    ratio = free.domain_classifier_.predict_proba(Xs)[:, 1]
    ratio = ratio / (1 - ratio) * 80 / 60
    assert ratio.max() > 1.5
    clipped_ratio = np.minimum(ratio, 1.5)  # the ratio is clipped, then scaled to mean 1
    np.testing.assert_allclose(clipped.weights_[:80], clipped_ratio / clipped_ratio.mean())
    np.testing.assert_allclose(free.weights_[:80], ratio / ratio.mean())


def test_domain_classifier_uses_the_given_classifier():
    Xs, ys, Xt = _shifted()
    X, y = stack_domains(Xs, ys, Xt)
    clf = DomainClassifierWeighting(
        LogisticRegression(), domain_classifier=DecisionTreeClassifier(max_depth=2)
    )
    clf.fit(X, y)
    assert isinstance(clf.domain_classifier_, DecisionTreeClassifier)


# --- uLSIF -----------------------------------------------------------------------------


def _brute_force_loo(phi_s, phi_t, alpha):
    n_de, n_nu = phi_s.shape[1], phi_t.shape[1]
    losses = []
    for i in range(min(n_de, n_nu)):
        keep_s, keep_t = np.arange(n_de) != i, np.arange(n_nu) != i
        H = phi_s[:, keep_s] @ phi_s[:, keep_s].T / (n_de - 1)
        h = phi_t[:, keep_t].mean(axis=1)
        theta = np.maximum(0.0, np.linalg.solve(H + alpha * np.eye(H.shape[0]), h))
        losses.append(0.5 * (phi_s[:, i] @ theta) ** 2 - phi_t[:, i] @ theta)
    return np.mean(losses)


@pytest.mark.parametrize("alpha", [1e-3, 0.1, 1.0])
@pytest.mark.parametrize("n_source, n_target", [(30, 20), (15, 25)])
def test_ulsif_loo_score_matches_brute_force(alpha, n_source, n_target):
    Xs, _, Xt = _shifted(n_source, n_target)
    centers = Xt[:8]
    phi_s, phi_t = rbf_kernel(centers, Xs, gamma=0.7), rbf_kernel(centers, Xt, gamma=0.7)
    assert ulsif_loo_score(phi_s, phi_t, alpha) == pytest.approx(
        _brute_force_loo(phi_s, phi_t, alpha), rel=1e-9
    )


def test_ulsif_weights_are_the_closed_form():
    Xs, ys, Xt = _shifted()
    X, y = stack_domains(Xs, ys, Xt)
    clf = LeastSquaresImportanceFitting(LogisticRegression(), gamma=0.4, alpha=0.05, n_centers=500).fit(X, y)
    # Every target row is a center: theta minimises 1/2 t'Ht - h't + alpha/2 t't over t >= 0 ... up to the
    # clipping of uLSIF, which takes max(0, .) of the unconstrained minimiser.
    phi_s, phi_t = rbf_kernel(Xs, Xt, gamma=0.4), rbf_kernel(Xt, Xt, gamma=0.4)
    H, h = phi_s.T @ phi_s / 80, phi_t.mean(axis=0)
    theta = np.maximum(0.0, np.linalg.solve(H + 0.05 * np.eye(60), h))
    ratio = phi_s @ theta
    np.testing.assert_allclose(clf.weights_[:80], ratio / ratio.mean(), rtol=1e-8)
    assert (clf.gamma_, clf.alpha_) == (0.4, 0.05)


def test_ulsif_chooses_the_loo_minimiser_and_tracks_the_true_ratio():
    rng = np.random.default_rng(0)
    Xs, Xt = rng.normal(0.0, 1.0, (400, 1)), rng.normal(0.5, 0.7, (300, 1))
    X, y = stack_domains(Xs, (Xs[:, 0] > 0).astype(int), Xt)
    gammas, alphas = [0.05, 0.5, 5.0], [1e-3, 0.1, 1.0]
    clf = LeastSquaresImportanceFitting(LogisticRegression(), gamma=gammas, alpha=alphas, random_state=0)
    clf.fit(X, y)
    rng_ref = np.random.RandomState(0)
    centers = Xt[rng_ref.permutation(300)[:100]]
    s_order, t_order = rng_ref.permutation(400), rng_ref.permutation(300)
    scores = {
        (g, a): ulsif_loo_score(
            rbf_kernel(centers, Xs[s_order], gamma=g), rbf_kernel(centers, Xt[t_order], gamma=g), a
        )
        for g in gammas
        for a in alphas
    }
    assert (clf.gamma_, clf.alpha_) == min(scores, key=scores.get)
    true_ratio = 1 / 0.7 * np.exp(-((Xs[:, 0] - 0.5) ** 2) / (2 * 0.49) + Xs[:, 0] ** 2 / 2)
    inside = np.abs(Xs[:, 0]) < 1.5
    assert np.corrcoef(clf.weights_[:400][inside], true_ratio[inside])[0, 1] > 0.9


def test_ulsif_default_grid_and_random_state():
    Xs, ys, Xt = _shifted()
    X, y = stack_domains(Xs, ys, Xt)
    a = LeastSquaresImportanceFitting(LogisticRegression(), n_centers=30, random_state=0).fit(X, y)
    b = LeastSquaresImportanceFitting(LogisticRegression(), n_centers=30, random_state=0).fit(X, y)
    np.testing.assert_array_equal(a.weights_, b.weights_)
    assert a.alpha_ in np.logspace(-3, 1, 9)


@pytest.mark.parametrize("params", [{"gamma": []}, {"alpha": [0.1, -1.0]}, {"gamma": [[0.1, 0.2]]}])
def test_ulsif_bad_candidates_raise(params):
    Xs, ys, Xt = _shifted(20, 10)
    X, y = stack_domains(Xs, ys, Xt)
    with pytest.raises(ValueError, match="must be a positive float or a non-empty 1-D list"):
        LeastSquaresImportanceFitting(LogisticRegression(), **params).fit(X, y)


def test_ulsif_loo_needs_two_target_rows():
    Xs, ys, Xt = _shifted(20, 1)
    X, y = stack_domains(Xs, ys, Xt)
    with pytest.raises(ValueError, match="needs at least 2 target rows, got 1"):
        LeastSquaresImportanceFitting(LogisticRegression()).fit(X, y)
    clf = LeastSquaresImportanceFitting(LogisticRegression(), gamma=1.0, alpha=0.1).fit(X, y)
    assert np.all(clf.weights_[:20] >= 0)


# --- TrAdaBoost ----------------------------------------------------------------------


class _ColumnOne(ClassifierMixin, BaseEstimator):
    """Predicts the second column of X as the label: mistakes known in advance."""

    def fit(self, X, y, sample_weight=None):
        self.classes_ = np.unique(y)
        self.sample_weight_ = np.asarray(sample_weight)
        return self

    def predict(self, X):
        return np.asarray(X)[:, 1].astype(int)


def test_tradaboost_weight_update_by_hand():
    # 4 source rows (the last one mispredicted), 3 labeled target rows (the last one
    # mispredicted), 1 unlabeled target row that must be ignored.
    X = np.array([[0, 0], [0, 1], [0, 0], [0, 0], [0, 1], [0, 0], [0, 0], [0, 1]], dtype=float)
    y = np.array([0, 1, 0, 1, 1, 0, 1, -1])
    domain = np.array([0, 0, 0, 0, -1, -1, -1, -1])
    clf = TrAdaBoostClassifier(_ColumnOne(), n_estimators=2, error="zero_one").fit(X, y, sample_domain=domain)
    beta = 1 / (1 + math.sqrt(2 * math.log(4) / 2))
    # Round 1: uniform weights, target error 1/3, beta_1 = (1/3) / (2/3): the wrong target row
    # doubles, the wrong source row is multiplied by beta.
    w1 = np.array([1, 1, 1, beta, 1, 1, 2]) / 7
    np.testing.assert_allclose(clf.estimators_[1].sample_weight_, 7 * w1 / w1.sum())  # mean 1
    # Round 2: target error 2 / (1 + 1 + 2) = 1/2, so alpha = 0: target weights stay put.
    np.testing.assert_allclose(clf.estimator_errors_, [1 / 3, 1 / 2])
    np.testing.assert_allclose(clf.estimator_weights_, [math.log(2), 0.0], atol=1e-12)
    w2 = w1 / w1.sum() * np.array([1, 1, 1, beta, 1, 1, 1])
    np.testing.assert_allclose(clf.weights_, np.r_[w2 / w2.sum(), 0.0])
    np.testing.assert_allclose(clf.estimators_[0].sample_weight_, np.ones(7))


def test_tradaboost_learning_rate_and_multiclass_alpha():
    X = np.array([[0, 0], [0, 1], [0, 2], [0, 0], [0, 1], [0, 0], [0, 1], [0, 2]], dtype=float)
    y = np.array([0, 1, 2, 1, 1, 2, 1, 2])
    domain = np.array([0, 0, 0, 0, -1, -1, -1, -1])
    clf = TrAdaBoostClassifier(_ColumnOne(), n_estimators=1, learning_rate=0.5, error="zero_one").fit(
        X, y, sample_domain=domain
    )
    # Target error 1/4 with 3 classes: alpha = ln(3) + ln(2) (SAMME); both updates take the
    # power learning_rate.
    alpha = math.log(3) + math.log(2)
    assert clf.estimator_weights_[0] == pytest.approx(alpha)
    beta = 1 / (1 + math.sqrt(2 * math.log(4) / 1))
    w = np.ones(8)
    w[3] = beta**0.5
    w[5] = math.exp(0.5 * alpha)
    np.testing.assert_allclose(clf.weights_, w / w.sum())


def test_tradaboost_votes_with_the_second_half():
    rng = np.random.default_rng(0)
    Xs = rng.normal(size=(120, 2))
    ys = (Xs[:, 0] > 0).astype(int)
    Xt = rng.normal(size=(30, 2))
    yt = (Xt[:, 0] + Xt[:, 1] > 0).astype(int)
    X, y, domain = stack_domains(Xs, ys, Xt, yt, return_sample_domain=True)
    clf = TrAdaBoostClassifier(
        DecisionTreeClassifier(max_depth=2), n_estimators=5, error="zero_one", random_state=0
    )
    clf.fit(X, y, sample_domain=domain)
    # ceil(5 / 2) = 3: rounds 3, 4, 5 vote.
    votes = np.zeros((150, 2))
    for est, alpha in zip(clf.estimators_[2:], clf.estimator_weights_[2:], strict=True):
        votes[np.arange(150), est.predict(X)] += alpha
    np.testing.assert_allclose(clf.predict_proba(X), votes / clf.estimator_weights_[2:].sum())
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[votes.argmax(1)])
    seeds = [est.random_state for est in clf.estimators_]
    again = TrAdaBoostClassifier(DecisionTreeClassifier(max_depth=2), n_estimators=5, random_state=0)
    assert [e.random_state for e in again.fit(X, y, sample_domain=domain).estimators_] == seeds


def test_tradaboost_all_rounds_useless_vote_equally():
    X = np.array([[0, 1], [0, 0], [0, 1], [0, 0]], dtype=float)
    y = np.array([0, 1, 0, 1])
    domain = np.array([0, 0, -1, -1])
    clf = TrAdaBoostClassifier(_ColumnOne(), n_estimators=2, error="zero_one").fit(X, y, sample_domain=domain)
    assert np.all(clf.estimator_weights_ == 0)
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0)


def test_tradaboost_needs_labeled_target_rows():
    Xs, ys, Xt = _shifted(20, 10)
    X, y = stack_domains(Xs, ys, Xt)
    with pytest.raises(ValueError, match="needs labeled target rows"):
        TrAdaBoostClassifier().fit(X, y)


def _few_target_labels(n_source=60, n_target=12, n_features=3, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    Xs = rng.normal(size=(n_source, n_features))
    Xt = rng.normal(0.5, 1.0, size=(n_target, n_features))
    if n_classes == 2:
        ys, yt = (Xs[:, 0] > 0).astype(int), (Xt[:, 1] > 0.5).astype(int)
    else:
        ys, yt = Xs.argmax(axis=1), Xt[:, ::-1].argmax(axis=1)
    yt[:n_classes] = np.arange(n_classes)  # every class among the labeled target rows
    return stack_domains(Xs, ys, Xt, yt, return_sample_domain=True)


def _reference_tradaboost(estimator, seeds, X, y, domain, learning_rate, error):
    """TrAdaBoost written out row by row: the fitted rounds, errors, votes and final weights.

    Round ``t`` fits ``estimator`` with ``random_state=seeds[t]``.
    """
    n_estimators = len(seeds)
    n, classes = len(y), list(np.unique(y))
    n_source = int(np.sum(domain >= 0))
    beta = 1 / (1 + math.sqrt(2 * math.log(n_source) / n_estimators))
    w = np.ones(n) / n
    fitted, errors, alphas = [], [], []
    for seed in seeds:
        w = w / w.sum()
        est = clone(estimator).set_params(random_state=seed).fit(X, y, sample_weight=w * n)
        if error == "zero_one":
            loss = [float(est.predict(X[i : i + 1])[0] != y[i]) for i in range(n)]
        else:
            if hasattr(est, "predict_proba"):
                p = est.predict_proba(X)
            else:
                z = 1 / (1 + np.exp(-est.decision_function(X)))
                p = z / z.sum(axis=1, keepdims=True)
            loss = [1 - p[i, classes.index(y[i])] for i in range(n)]
        e = sum(w[i] * loss[i] for i in range(n) if domain[i] < 0) / sum(
            w[i] for i in range(n) if domain[i] < 0
        )
        c = min(max(e, 1e-10), 1 - 1e-10)
        alpha = max(math.log((1 - c) / c) + math.log(len(classes) - 1), 0.0)
        for i in range(n):
            if domain[i] < 0:
                w[i] *= math.exp(learning_rate * alpha * loss[i])
            else:
                w[i] *= beta ** (learning_rate * loss[i])
        fitted.append(est)
        errors.append(e)
        alphas.append(alpha)
    return fitted, np.array(errors), np.array(alphas), w / w.sum()


@pytest.mark.parametrize(
    ("error", "estimator"),
    [
        ("zero_one", DecisionTreeClassifier(max_depth=2, random_state=0)),
        ("probability", LogisticRegression(C=0.5)),
        ("probability", RidgeClassifier(alpha=1.0)),  # decision_function only
    ],
    ids=["zero_one-tree", "probability-logistic", "probability-ridge"],
)
def test_tradaboost_matches_a_row_by_row_reference(error, estimator):
    X, y, domain = _few_target_labels()
    clf = TrAdaBoostClassifier(
        estimator, n_estimators=4, learning_rate=0.7, error=error, guard=False, random_state=0
    )
    clf.fit(X, y, sample_domain=domain)
    seeds = [est.random_state for est in clf.estimators_]  # drawn from random_state=0
    fitted, errors, alphas, w = _reference_tradaboost(estimator, seeds, X, y, domain, 0.7, error)
    assert errors.min() > 0 and alphas.min() > 0  # every round updates the weights and votes
    np.testing.assert_allclose(clf.estimator_errors_, errors, rtol=1e-10)
    np.testing.assert_allclose(clf.estimator_weights_, alphas, rtol=1e-10)
    np.testing.assert_allclose(clf.weights_, w, rtol=1e-10)
    # Rounds 2, 3, 4 vote (ceil(4 / 2) = 2); soft votes with the probability error.
    votes = np.zeros((len(y), 3))
    for est, alpha in zip(fitted[1:], alphas[1:], strict=True):
        if error == "zero_one":
            votes[np.arange(len(y)), est.predict(X)] += alpha
        elif hasattr(est, "predict_proba"):
            votes += alpha * est.predict_proba(X)
        else:
            votes += alpha * est._predict_proba_lr(X)
    np.testing.assert_allclose(clf.predict_proba(X), votes / alphas[1:].sum(), rtol=1e-10)
    np.testing.assert_array_equal(clf.predict(X), votes.argmax(axis=1))


def test_decision_to_proba_is_binary_logistic_regression():
    X, y, _ = _shifted(60, 10)
    lr = LogisticRegression().fit(X, y)
    assert lr.decision_function(X).shape == (60,)
    np.testing.assert_allclose(_decision_to_proba(lr.decision_function(X)), lr.predict_proba(X), rtol=1e-12)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("estimator", [RidgeClassifier(), LinearSVC(random_state=0)])
def test_decision_to_proba_matches_sklearn_one_vs_rest(estimator, n_classes):
    X, y, _ = _few_target_labels(n_classes=n_classes)
    est = clone(estimator).fit(X, y)
    np.testing.assert_allclose(
        _decision_to_proba(est.decision_function(X)), est._predict_proba_lr(X), rtol=1e-12
    )


def test_tradaboost_probability_error_when_the_target_rows_are_fitted_exactly():
    # 40 source + 6 target rows in 60 dimensions: a lightly regularised ridge fits every row,
    # so the 0/1 error is 0 in every round and no weight ever changes.
    rng = np.random.default_rng(0)
    Xs, Xt = rng.normal(size=(40, 60)), rng.normal(0.5, 1.0, size=(6, 60))
    ys, yt = (Xs[:, 0] > 0).astype(int), np.array([0, 1, 0, 1, 0, 1])
    X, y, domain = stack_domains(Xs, ys, Xt, yt, return_sample_domain=True)
    ridge = RidgeClassifier(alpha=1e-3)
    assert np.all(clone(ridge).fit(X, y).predict(X) == y)
    zero_one = TrAdaBoostClassifier(ridge, n_estimators=4, error="zero_one").fit(X, y, sample_domain=domain)
    assert np.all(zero_one.estimator_errors_ == 0)
    np.testing.assert_allclose(zero_one.weights_, 1 / 46)
    # 1 - p(true class) stays positive: the target rows gain weight every round.
    proba = TrAdaBoostClassifier(ridge, n_estimators=4).fit(X, y, sample_domain=domain)
    assert proba.error == "probability"
    assert np.all(proba.estimator_errors_ > 0.1) and np.all(proba.estimator_weights_ > 0)
    assert proba.weights_[40:].sum() > 3 * 6 / 46


def test_tradaboost_probability_error_needs_probabilities_or_a_decision():
    X = np.array([[0, 1], [0, 0], [0, 1], [0, 0]], dtype=float)
    y, domain = np.array([1, 0, 1, 1]), np.array([0, 0, -1, -1])
    with pytest.raises(ValueError, match=r'error="probability"\) needs an estimator with predict_proba'):
        TrAdaBoostClassifier(_ColumnOne()).fit(X, y, sample_domain=domain)
    TrAdaBoostClassifier(_ColumnOne(), error="zero_one").fit(X, y, sample_domain=domain)


@parametrize_with_checks(
    [with_alternate_domains(TrAdaBoostClassifier)(error="zero_one")],
    expected_failed_checks=lambda est: dict(est._expected_failed_checks),
)
def test_tradaboost_zero_one_passes_the_estimator_checks(estimator, check):
    # tests/test_common.py checks the default, error="probability".
    check(estimator)


# --- shared behaviour ---------------------------------------------------------------


def _weighting_estimators():
    return [
        KernelMeanMatching(LogisticRegression(), gamma=0.5, random_state=0),
        DomainClassifierWeighting(LogisticRegression()),
        LeastSquaresImportanceFitting(LogisticRegression(), n_centers=20, random_state=0),
    ]


@pytest.mark.parametrize("estimator", [*_weighting_estimators(), TrAdaBoostClassifier(random_state=0)])
def test_clone_and_pickle_round_trip(estimator):
    Xs, ys, Xt = _shifted()
    X, y, domain = stack_domains(
        Xs, ys, Xt, np.r_[(Xt[:6, 0] > 0.8).astype(int), np.full(54, -1)], return_sample_domain=True
    )
    fitted = clone(estimator).fit(X, y, sample_domain=domain)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict(Xt), fitted.predict(Xt))
    np.testing.assert_array_equal(restored.predict_proba(Xt), fitted.predict_proba(Xt))
    refit = clone(fitted).fit(X, y, sample_domain=domain)
    np.testing.assert_array_equal(refit.predict_proba(Xt), fitted.predict_proba(Xt))
    assert not hasattr(clone(fitted), "weights_")


@pytest.mark.parametrize("estimator", _weighting_estimators())
def test_weighting_fits_estimator_on_weighted_source_rows(estimator):
    Xs, ys, Xt = _shifted()
    X, y = stack_domains(Xs, ys, Xt)
    est = clone(estimator).fit(X, y)
    assert est.weights_.shape == (140,) and np.all(est.weights_[80:] == 0) and np.all(est.weights_ >= 0)
    ref = LogisticRegression().fit(Xs, ys, sample_weight=est.weights_[:80])
    np.testing.assert_allclose(est.decision_function(Xt), ref.decision_function(Xt))
    np.testing.assert_allclose(est.predict_log_proba(Xt), ref.predict_log_proba(Xt))
    assert est.score(Xt, (Xt[:, 0] > 0).astype(int)) == ref.score(Xt, (Xt[:, 0] > 0).astype(int))
    assert est.classes_.tolist() == [0, 1] and is_classifier(est)


def test_weighting_wraps_a_regressor():
    Xs, _, Xt = _shifted()
    X = np.vstack([Xs, Xt])
    y = np.r_[Xs @ [1.0, -2.0], np.full(60, np.nan)]
    reg = KernelMeanMatching(Ridge(), gamma=0.5).fit(X, y)
    assert is_regressor(reg) and not hasattr(reg, "predict_proba")
    ref = Ridge().fit(Xs, y[:80], sample_weight=reg.weights_[:80])
    np.testing.assert_allclose(reg.predict(Xt), ref.predict(Xt))


@pytest.mark.parametrize("estimator", [*_weighting_estimators(), TrAdaBoostClassifier()])
def test_fit_without_y_raises(estimator):
    with pytest.raises(ValueError, match="requires y to be passed"):
        estimator.fit(np.zeros((4, 2)), None)


def test_sample_domain_is_routed_in_a_pipeline():
    Xs, ys, Xt = _shifted()
    X, y, domain = stack_domains(Xs, ys, Xt, return_sample_domain=True)
    y = np.r_[ys, (Xt[:, 0] > 0.8).astype(int)]  # labeled target rows, told apart by sample_domain
    with config_context(enable_metadata_routing=True):
        kmm = KernelMeanMatching(LogisticRegression(), gamma=0.5).set_fit_request(sample_domain=True)
        pipe = make_pipeline(StandardScaler(), kmm).fit(X, y, sample_domain=domain)
    weights = pipe[-1].weights_
    assert np.all(weights[80:] == 0) and np.any(weights[:80] > 0)


def test_kmm_lanczos_step_bounds_the_largest_eigenvalue():
    from skltransfer.reweighting._kmm import _largest_eigenvalue

    Xs, _, _ = _shifted(300, 1)
    K = rbf_kernel(Xs, gamma=0.5)
    exact = np.linalg.eigvalsh(K)[-1]
    assert exact <= _largest_eigenvalue(K) <= 1.02 * exact
    assert _largest_eigenvalue(K) == _largest_eigenvalue(K.copy())


@pytest.mark.parametrize(
    "Weighting", [KernelMeanMatching, DomainClassifierWeighting, LeastSquaresImportanceFitting]
)
def test_data_frame_columns_are_checked_and_not_passed_on(Weighting):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    y = np.r_[rng.integers(0, 2, 30), np.full(30, -1)]
    model = Weighting(LogisticRegression()).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the estimator was fitted on the validated array
        np.testing.assert_array_equal(model.predict(X), model.estimator_.predict(X.to_numpy()))
        model.predict_proba(X), model.score(X.iloc[:30], y[:30])
    with pytest.raises(ValueError, match="feature names should match"):
        model.predict(X[["c", "b", "a"]])


# --- normalisation and effective sample size ------------------------------------------


@pytest.mark.parametrize("estimator", _weighting_estimators())
def test_weights_have_mean_one_and_report_their_effective_sample_size(estimator):
    Xs, ys, Xt = _shifted()
    X, y = stack_domains(Xs, ys, Xt)
    est = clone(estimator).fit(X, y)
    w = est.weights_[:80]
    assert w.mean() == pytest.approx(1.0, rel=1e-12)
    assert est.effective_sample_size_ == pytest.approx(w.sum() ** 2 / np.sum(w**2), rel=1e-12)
    assert 0 < est.effective_sample_size_ <= 80


def test_mean_one_weights_keep_the_strength_of_the_regularisation():
    # A domain classifier that separates the domains well gives density ratios of mean far
    # below 1 on the source rows (here about 0.03): fitted with them as they are, the wrapped
    # model would see a 30 times stronger penalty. Scaled to mean 1, the wrapped fit is the
    # one a user gets from the same ratio scaled by hand.
    rng = np.random.default_rng(0)
    Xs = rng.normal(size=(200, 20))
    ys = (Xs[:, 0] + 0.5 * Xs[:, 1] > 0).astype(int)
    X, y = stack_domains(Xs, ys, rng.normal(1.0, 1.0, size=(100, 20)))
    with pytest.warns(UserWarning, match="effective sample size"):
        est = DomainClassifierWeighting(LogisticRegression()).fit(X, y)
    p = est.domain_classifier_.predict_proba(Xs)[:, 1]
    raw = p / (1 - p) * 200 / 100
    assert raw.mean() < 0.05
    reference = LogisticRegression().fit(Xs, ys, sample_weight=raw / raw.mean())
    np.testing.assert_allclose(est.decision_function(Xs), reference.decision_function(Xs), rtol=1e-6)
    unnormalised = LogisticRegression().fit(Xs, ys, sample_weight=raw)
    assert np.abs(unnormalised.coef_).sum() < 0.5 * np.abs(est.estimator_.coef_).sum()


def test_concentrated_weights_warn_with_the_effective_sample_size():
    # A target far in the tail of the source: a handful of source rows carry the weight.
    rng = np.random.default_rng(1)
    Xs = rng.normal(size=(200, 1))
    ys = (Xs[:, 0] > 0).astype(int)
    X, y = stack_domains(Xs, ys, rng.normal(3.0, 0.3, size=(100, 1)))
    with pytest.warns(UserWarning, match=r"effective sample size is \d+\.\d of 200 labeled source rows"):
        est = DomainClassifierWeighting(LogisticRegression(C=1e4)).fit(X, y)
    assert est.effective_sample_size_ < 20
    Xs, ys, Xt = _shifted()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        DomainClassifierWeighting(LogisticRegression()).fit(*stack_domains(Xs, ys, Xt))


def test_weights_all_zero_raise_naming_the_estimator():
    class Zero(DomainClassifierWeighting):
        def _source_weights(self, X_source, X_target):
            return np.zeros(X_source.shape[0])

    Xs, ys, Xt = _shifted()
    with pytest.raises(ValueError, match="Zero gave every labeled source row a weight of 0"):
        Zero(LogisticRegression()).fit(*stack_domains(Xs, ys, Xt))
