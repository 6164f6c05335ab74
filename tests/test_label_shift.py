"""LabelShiftClassifier and label_shift_test against closed forms, brute force and known truths."""

import itertools
import warnings

import numpy as np
import pytest
from scipy.special import logsumexp, softmax
from scipy.stats import chi2, norm
from sklearn import config_context
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import estimator_checks

from skltransfer import LabelShiftClassifier, stack_domains
from skltransfer.label_shift._calibration import fit_calibration
from skltransfer.label_shift._classifier import _CV_CHECKS
from skltransfer.label_shift._priors import bbse_weights, em_priors, priors_from_weights, rlls_weights
from skltransfer.metrics import label_shift_test
from skltransfer.utils._tags import get_domain_tags
from tests._checks import with_alternate_domains

MEANS = np.array([-2.0, 0.0, 2.0])


class GaussianBayes(ClassifierMixin, BaseEstimator):
    """The exact posterior of 1-D unit-variance Gaussian classes with means ``MEANS``."""

    def __init__(self, priors=(1 / 3, 1 / 3, 1 / 3)):
        self.priors = priors

    def fit(self, X, y):
        self.classes_ = np.arange(len(self.priors))
        return self

    def predict_proba(self, X):
        log_joint = norm.logpdf(np.asarray(X)[:, :1], MEANS) + np.log(self.priors)
        return softmax(log_joint, axis=1)

    def predict(self, X):
        return np.argmax(self.predict_proba(X), axis=1)


def _mixture(priors, n, rng):
    y = rng.choice(len(priors), size=n, p=priors)
    return rng.normal(MEANS[y], 1.0)[:, None], y


def _shifted_problem(n_source, n_target, target_priors, seed=0):
    rng = np.random.default_rng(seed)
    Xs, ys = _mixture(np.full(3, 1 / 3), n_source, rng)
    Xt, yt = _mixture(np.asarray(target_priors), n_target, rng)
    return Xs, ys, Xt, yt


def _frozen_bayes():
    return FrozenEstimator(GaussianBayes().fit(np.zeros((1, 1)), [0]))


def _target_log_likelihood(priors, proba, source_priors):
    return np.log(proba @ (priors / source_priors)).sum()


def test_em_recovers_true_priors_from_exact_posteriors():
    target_priors = np.array([0.6, 0.3, 0.1])
    Xs, ys, Xt, _ = _shifted_problem(3000, 20000, target_priors)
    X, y = stack_domains(Xs, ys, Xt)
    clf = LabelShiftClassifier(_frozen_bayes(), calibration=None, tol=1e-10).fit(X, y)
    assert np.abs(clf.target_priors_ - target_priors).max() < 0.015
    assert np.allclose(clf.weights_, clf.target_priors_ / clf.source_priors_)
    assert clf.n_iter_ > 1


def test_em_with_bcts_on_a_fitted_logistic_regression_recovers_true_priors():
    # Multinomial logistic regression is well specified for equal-variance Gaussian classes.
    target_priors = np.array([0.1, 0.2, 0.7])
    Xs, ys, Xt, yt = _shifted_problem(4000, 6000, target_priors, seed=1)
    X, y = stack_domains(Xs, ys, Xt)
    clf = LabelShiftClassifier(LogisticRegression(), calibration="bcts").fit(X, y)
    assert np.abs(clf.target_priors_ - target_priors).max() < 0.03
    # The corrected prediction is the Bayes decision under the target priors.
    bayes = GaussianBayes(priors=tuple(target_priors)).fit(Xt, yt).predict(Xt)
    assert np.mean(clf.predict(Xt) == bayes) > 0.97
    unadapted = clf.estimator_.predict(Xt)
    assert np.mean(clf.predict(Xt) == yt) > np.mean(unadapted == yt) + 0.03


@pytest.mark.parametrize("n_classes", [2, 3])
def test_em_fixed_point_is_the_brute_force_maximum_likelihood(n_classes):
    rng = np.random.default_rng(n_classes)
    source_priors = np.array([0.5, 0.3, 0.2])[:n_classes]
    source_priors /= source_priors.sum()
    proba = rng.dirichlet(np.ones(n_classes), size=150)
    priors, _ = em_priors(proba, source_priors, tol=1e-13, max_iter=100_000)
    step = 0.0005 if n_classes == 2 else 0.004
    grid = np.arange(0.0, 1.0 + step / 2, step)
    candidates = np.array(
        [(*p, 1.0 - sum(p)) for p in itertools.product(grid, repeat=n_classes - 1) if sum(p) <= 1.0 + 1e-12]
    )
    candidates = np.clip(candidates, 0.0, None)
    with np.errstate(divide="ignore"):
        values = np.log(proba @ (candidates / source_priors).T).sum(axis=0)
    best = candidates[np.argmax(values)]
    assert _target_log_likelihood(priors, proba, source_priors) >= values.max() - 1e-9
    assert np.abs(priors - best).max() <= 2 * step


def test_bbse_weights_equal_the_closed_form_inverse():
    C = np.array([[0.25, 0.05, 0.02], [0.04, 0.30, 0.03], [0.01, 0.05, 0.25]])
    mu = np.array([0.2, 0.5, 0.3])
    assert np.allclose(bbse_weights(C, mu), np.linalg.inv(C) @ mu)


@pytest.mark.parametrize("method", ["bbse", "rlls"])
def test_bbse_through_the_estimator_uses_the_held_out_confusion_matrix(method):
    target_priors = np.array([0.5, 0.4, 0.1])
    Xs, ys, Xt, _ = _shifted_problem(1500, 2000, target_priors, seed=2)
    X, y = stack_domains(Xs, ys, Xt)
    clf = LabelShiftClassifier(_frozen_bayes(), method=method, calibration=None, prior_strength=0).fit(X, y)
    bayes = GaussianBayes()
    C = confusion_matrix(ys, bayes.predict(Xs), normalize="all").T
    mu = np.bincount(bayes.predict(Xt), minlength=3) / Xt.shape[0]
    w = np.linalg.inv(C) @ mu
    expected = np.clip(w, 0, None) * clf.source_priors_
    # RLLS's regulariser (rlls_alpha * 3 Delta_C) is below the smallest singular value of C
    # here, so its minimiser is BBSE's exact solution.
    np.testing.assert_allclose(clf.target_priors_, expected / expected.sum(), atol=1e-6)
    assert np.abs(clf.target_priors_ - target_priors).max() < 0.05
    assert clf.n_iter_ == 0


def test_rlls_minimises_its_objective_by_brute_force():
    C = np.array([[0.3, 0.15], [0.2, 0.35]])
    mu = np.array([0.3, 0.7])
    b = mu - C.sum(axis=1)
    rho = 0.2
    w = rlls_weights(C, mu, rho=rho)
    grid = np.linspace(-1.0, 2.0, 1201)
    t1, t2 = np.meshgrid(grid, grid, indexing="ij")
    thetas = np.stack([t1.ravel(), t2.ravel()], axis=1)
    values = np.linalg.norm(thetas @ C.T - b, axis=1) + rho * np.linalg.norm(thetas, axis=1)
    theta = w - 1.0
    own = np.linalg.norm(C @ theta - b) + rho * np.linalg.norm(theta)
    assert own <= values.min() + 1e-9
    assert np.abs(theta - thetas[np.argmin(values)]).max() < 0.01
    # A regulariser stronger than ||C^T b|| / ||b|| (the subgradient at 0) gives no shift.
    strong = 1.01 * np.linalg.norm(C.T @ b) / np.linalg.norm(b)
    np.testing.assert_allclose(rlls_weights(C, mu, rho=strong), 1.0, atol=1e-6)


@pytest.mark.parametrize("with_bias", [True, False])
def test_calibration_recovers_a_known_temperature_and_bias(with_bias):
    rng = np.random.default_rng(0)
    logits = rng.normal(0.0, 3.0, size=(30000, 4))
    temperature = 2.5
    bias = np.array([0.5, -0.2, 0.0, -0.3]) if with_bias else np.zeros(4)
    bias -= bias.mean()
    proba = softmax(logits / temperature + bias, axis=1)
    y = (proba.cumsum(axis=1) < rng.random((30000, 1))).sum(axis=1)
    fitted_temperature, fitted_bias = fit_calibration(logits, y, bias=with_bias)
    assert fitted_temperature == pytest.approx(temperature, rel=0.04)
    np.testing.assert_allclose(fitted_bias, bias, atol=0.05)


def test_bcts_calibrates_an_overconfident_estimator():
    # The frozen estimator's probabilities are the exact ones sharpened by a temperature 1/3.
    class Overconfident(GaussianBayes):
        def predict_proba(self, X):
            return softmax(3.0 * np.log(super().predict_proba(X)), axis=1)

    Xs, ys, Xt, _ = _shifted_problem(5000, 500, [0.2, 0.3, 0.5], seed=3)
    X, y = stack_domains(Xs, ys, Xt)
    frozen = FrozenEstimator(Overconfident().fit(Xs, ys))
    clf = LabelShiftClassifier(frozen, calibration="ts").fit(X, y)
    assert clf.temperature_ == pytest.approx(3.0, rel=0.1)
    np.testing.assert_array_equal(clf.bias_, np.zeros(3))
    assert LabelShiftClassifier(frozen, calibration=None).fit(X, y).temperature_ == 1.0


def test_predict_proba_is_the_reweighted_posterior():
    Xs, ys, Xt, _ = _shifted_problem(600, 600, [0.7, 0.2, 0.1], seed=4)
    X, y = stack_domains(Xs, ys, Xt)
    clf = LabelShiftClassifier(_frozen_bayes(), calibration=None).fit(X, y)
    expected = GaussianBayes().predict_proba(Xt) * clf.weights_
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(clf.predict_proba(Xt), expected, atol=1e-9)
    np.testing.assert_allclose(clf.predict_log_proba(Xt), np.log(expected), atol=1e-7)
    np.testing.assert_array_equal(clf.predict(Xt), np.argmax(expected, axis=1))


@pytest.mark.parametrize("method", ["em", "bbse", "rlls"])
@pytest.mark.parametrize("labels", [("cat", "dog"), ("a", "b", "c")])
def test_string_labels_binary_and_multiclass(method, labels):
    rng = np.random.default_rng(5)
    k = len(labels)
    Xs, codes_s = _mixture(np.full(k, 1 / k) if k == 3 else np.array([0.5, 0.5, 0.0]), 600, rng)
    Xt, codes_t = _mixture(np.array([0.8, 0.2, 0.0]) if k == 2 else np.array([0.6, 0.3, 0.1]), 600, rng)
    names = np.array(labels)
    X, y = stack_domains(Xs, names[codes_s], Xt)
    clf = LabelShiftClassifier(LogisticRegression(), method=method, cv=3).fit(X, y)
    assert clf.classes_.tolist() == sorted(labels)
    assert set(clf.predict(Xt)) <= set(labels)
    assert clf.target_priors_[0] > 0.5
    assert clf.score(X, y) == pytest.approx(np.mean(clf.predict(Xs) == names[codes_s]))
    assert clf.score(Xt, names[codes_t]) > 0.7


def test_sample_domain_through_metadata_routing_in_a_pipeline():
    Xs, ys, Xt, _ = _shifted_problem(400, 400, [0.6, 0.3, 0.1], seed=6)
    X, y, domain = stack_domains(Xs, ys, Xt, np.zeros(len(Xt), int), return_sample_domain=True)
    reference = make_pipeline(StandardScaler(), LabelShiftClassifier(LogisticRegression()))
    reference.fit(*stack_domains(Xs, ys, Xt))
    with config_context(enable_metadata_routing=True):
        step = LabelShiftClassifier(LogisticRegression()).set_fit_request(sample_domain=True)
        pipe = make_pipeline(StandardScaler(), step).fit(X, y, sample_domain=domain)
    np.testing.assert_allclose(pipe[-1].target_priors_, reference[-1].target_priors_)
    np.testing.assert_array_equal(pipe.predict(Xt), reference.predict(Xt))


def test_grid_search_and_cross_val_score_on_stacked_rows():
    Xs, ys, Xt, _ = _shifted_problem(300, 300, [0.6, 0.3, 0.1], seed=7)
    X, y = stack_domains(Xs, ys, Xt)
    pipe = make_pipeline(StandardScaler(), LabelShiftClassifier(LogisticRegression(), cv=3))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.5)
    search = GridSearchCV(pipe, {"labelshiftclassifier__method": ["em", "bbse"]}, cv=3).fit(X, y)
    assert search.best_estimator_[-1].method in ("em", "bbse")
    assert get_domain_tags(pipe).learns_from_unlabeled


@pytest.mark.parametrize("check_name", _CV_CHECKS)
def test_checks_that_need_fewer_folds_pass_with_cv_2(check_name):
    estimator = with_alternate_domains(LabelShiftClassifier)(LogisticRegression(), cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        getattr(estimator_checks, check_name)("LabelShiftClassifier", estimator)


def test_label_shift_test_is_pearsons_chi_square():
    rng = np.random.default_rng(8)
    source = rng.choice(3, size=300, p=[0.3, 0.3, 0.4])
    target = rng.choice(3, size=200, p=[0.6, 0.3, 0.1])
    observed = np.array([np.bincount(source, minlength=3), np.bincount(target, minlength=3)])
    expected = observed.sum(axis=1, keepdims=True) * observed.sum(axis=0) / observed.sum()
    statistic = ((observed - expected) ** 2 / expected).sum()
    result = label_shift_test(source, target)
    assert result == pytest.approx((statistic, chi2.sf(statistic, 2)))
    assert result[1] < 1e-6
    # A class predicted in one domain only keeps its column; a class in neither is absent.
    assert label_shift_test(["a", "a", "b"], ["a", "c", "c"])[0] > 0
    assert label_shift_test([1, 1], [1, 1, 1]) == (0.0, 1.0)


def test_label_shift_test_keeps_its_level_without_shift():
    rng = np.random.default_rng(9)
    p_values = [label_shift_test(rng.choice(4, 200), rng.choice(4, 150))[1] for _ in range(400)]
    assert 0.02 < np.mean(np.asarray(p_values) < 0.05) < 0.09


def test_errors_name_what_is_wrong():
    Xs, ys, Xt, _ = _shifted_problem(60, 30, [0.6, 0.3, 0.1], seed=10)
    X, y = stack_domains(Xs, ys, Xt)
    two_classes = FrozenEstimator(LogisticRegression().fit(Xs[ys < 2], ys[ys < 2]))
    with pytest.raises(ValueError, match="differ from those of the labeled source rows"):
        LabelShiftClassifier(two_classes).fit(X, y)
    with pytest.raises(ValueError, match="no target rows"):
        LabelShiftClassifier(LogisticRegression()).fit(Xs, ys)
    clf = LabelShiftClassifier(LogisticRegression(), cv=2).fit(X, y)
    with pytest.raises(ValueError, match="score got no labeled rows"):
        clf.score(Xt, np.full(len(Xt), -1))
    with pytest.warns(ConvergenceWarning, match="did not converge in max_iter=1 steps"):
        LabelShiftClassifier(LogisticRegression(), max_iter=1, calibration=None).fit(X, y)
    with pytest.warns(UserWarning, match="confusion matrix .* is singular"):
        bbse_weights(np.array([[0.5, 0.5], [0.0, 0.0]]), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="no positive entry"):
        priors_from_weights(np.array([0.0, -0.5]), np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="y_pred_target is empty"):
        label_shift_test([0, 1], [])


def test_zero_weight_class_keeps_finite_log_probabilities():
    Xs, ys, Xt, _ = _shifted_problem(300, 300, [0.5, 0.5, 0.0], seed=11)
    X, y = stack_domains(Xs, ys, Xt)
    clf = LabelShiftClassifier(_frozen_bayes(), method="bbse", calibration=None).fit(X, y)
    proba = clf.predict_proba(Xt)
    assert np.all(np.isfinite(proba)) and np.allclose(proba.sum(axis=1), 1.0)
    assert logsumexp(clf.predict_log_proba(Xt), axis=1) == pytest.approx(np.zeros(len(Xt)))


def test_one_target_row_warns_and_keeps_every_class_predictable():
    Xs, ys, _, _ = _shifted_problem(600, 0, [1 / 3, 1 / 3, 1 / 3], seed=12)
    X, y = stack_domains(Xs, ys, np.array([[-2.5]]))  # one target row, clearly class 0
    with pytest.warns(UserWarning, match=r"got 1 target row\(s\) for 3 classes: too few"):
        clf = LabelShiftClassifier(_frozen_bayes(), calibration=None).fit(X, y)
    # EM on one row puts every prior on class 0; the prior_strength=1 pseudo-rows (one per
    # class at the source priors) give the posterior mean (1 * [1, 0, 0] + 3 * pi_s) / 4.
    mle = LabelShiftClassifier(_frozen_bayes(), calibration=None, prior_strength=0)
    with pytest.warns(UserWarning, match="too few"):
        mle.fit(X, y)
    assert mle.target_priors_[0] > 0.999
    expected = (mle.target_priors_ + 3 * clf.source_priors_) / 4
    np.testing.assert_allclose(clf.target_priors_, expected, atol=1e-12)
    grid = np.array([[-3.0], [0.0], [3.0]])
    assert clf.predict(grid).tolist() == [0, 1, 2]
    assert mle.predict(grid).tolist() == [0, 0, 0]


@pytest.mark.parametrize("method", ["em", "bbse", "rlls"])
def test_prior_strength_mixes_pseudo_rows_at_the_source_priors(method):
    Xs, ys, Xt, _ = _shifted_problem(900, 50, [0.7, 0.2, 0.1], seed=13)
    X, y = stack_domains(Xs, ys, Xt)
    plain = LabelShiftClassifier(_frozen_bayes(), method=method, calibration=None, prior_strength=0)
    mixed = LabelShiftClassifier(_frozen_bayes(), method=method, calibration=None, prior_strength=5.0)
    plain.fit(X, y)
    mixed.fit(X, y)
    m = 5.0 * 3
    expected = (50 * plain.target_priors_ + m * plain.source_priors_) / (50 + m)
    np.testing.assert_allclose(mixed.target_priors_, expected, atol=1e-12)
    np.testing.assert_allclose(mixed.weights_, expected / mixed.source_priors_, atol=1e-12)
    with pytest.raises(ValueError, match="The 'prior_strength' parameter"):
        LabelShiftClassifier(_frozen_bayes(), prior_strength=-1.0).fit(X, y)
