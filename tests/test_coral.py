"""CORALAligner against the closed form of Sun et al. (2016)."""

import pickle

import numpy as np
import pytest
from scipy.linalg import sqrtm
from sklearn.base import clone
from sklearn.preprocessing import Normalizer
from sklearn.svm import LinearSVC

from skltransfer import CORALAligner, make_da_pipeline, stack_domains


@pytest.fixture
def domains():
    rng = np.random.default_rng(0)
    Xs = rng.normal(size=(120, 4)) @ rng.normal(size=(4, 4))
    Xt = rng.normal(size=(90, 4)) @ rng.normal(size=(4, 4)) + 2.0
    ys = (Xs[:, 0] > 0).astype(int)
    return Xs, ys, Xt


@pytest.mark.parametrize("reg", [1.0, 1e-2])
def test_source_covariance_matches_target_closed_form(domains, reg):
    Xs, ys, Xt = domains
    X, y = stack_domains(Xs, ys, Xt)
    Z = CORALAligner(reg=reg).fit_transform(X, y)
    eye = np.eye(Xs.shape[1])
    Cs, Ct = np.cov(Xs, rowvar=False) + reg * eye, np.cov(Xt, rowvar=False) + reg * eye
    A = np.real(np.linalg.inv(sqrtm(Cs)) @ sqrtm(Ct))  # independent reference: scipy's sqrtm
    # cov(Xs A) = A^T (Cs - reg I) A = Ct - reg A^T A
    np.testing.assert_allclose(np.cov(Z[:120], rowvar=False), Ct - reg * A.T @ A, atol=1e-8)
    np.testing.assert_allclose(Z[:120], Xs @ A, atol=1e-8)
    np.testing.assert_array_equal(Z[120:], Xt)


def test_small_reg_matches_target_covariance(domains):
    Xs, ys, Xt = domains
    X, y = stack_domains(Xs, ys, Xt)
    Z = CORALAligner(reg=1e-9).fit_transform(X, y)
    np.testing.assert_allclose(np.cov(Z[:120], rowvar=False), np.cov(Xt, rowvar=False), atol=1e-6)


def test_transform_maps_as_target_unless_sample_domain(domains):
    Xs, ys, Xt = domains
    X, y = stack_domains(Xs, ys, Xt)
    coral = CORALAligner().fit(X, y)
    np.testing.assert_array_equal(coral.transform(Xs), Xs)
    np.testing.assert_allclose(coral.transform(Xs, sample_domain=np.zeros(120, int)), Xs @ coral.source_map_)
    np.testing.assert_allclose(
        coral.transform(X, sample_domain=np.r_[np.zeros(120), -np.ones(90)].astype(int)),
        coral.fit_transform(X, y),
    )


def test_float32_preserved(domains):
    Xs, ys, Xt = domains
    X, y = stack_domains(Xs.astype(np.float32), ys, Xt.astype(np.float32))
    assert CORALAligner().fit_transform(X, y).dtype == np.float32


def test_pipeline_clone_pickle_round_trip(domains):
    Xs, ys, Xt = domains
    X, y = stack_domains(Xs, ys, Xt)
    pipe = make_da_pipeline(Normalizer(), CORALAligner(), LinearSVC()).fit(X, y)
    again = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(again.predict(Xt), pipe.predict(Xt))
    refit = clone(pipe).fit(X, y)
    np.testing.assert_array_equal(refit.predict(Xt), pipe.predict(Xt))


@pytest.mark.parametrize(
    ("params", "match"), [({"reg": 0.0}, "reg"), ({"reg": -1.0}, "reg"), ({"reg": "a"}, "reg")]
)
def test_invalid_reg(domains, params, match):
    Xs, ys, Xt = domains
    X, y = stack_domains(Xs, ys, Xt)
    with pytest.raises(ValueError, match=match):
        CORALAligner(**params).fit(X, y)


def test_needs_target_rows(domains):
    Xs, ys, _ = domains
    with pytest.raises(ValueError, match="no target rows"):
        CORALAligner().fit(Xs, ys)
