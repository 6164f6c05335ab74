"""DomainStandardScaler: each domain z-scored with its own statistics."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from skltransfer import DomainStandardScaler, make_da_pipeline, stack_domains
from skltransfer.datasets import make_digits_shift


@pytest.fixture
def domains():
    rng = np.random.default_rng(0)
    Xs = rng.normal(size=(50, 4)) * [1.0, 2.0, 0.5, 1.0] + [0.0, 1.0, -2.0, 3.0]
    Xt = rng.normal(size=(40, 4)) * [3.0, 0.1, 1.0, 0.0] + [5.0, 0.0, 1.0, 7.0]  # last one constant
    return Xs, np.arange(50) % 3, Xt


def _zscore(X):
    std = X.std(axis=0)  # population standard deviation, as MATLAB's zscore(X, 1)
    return (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)


def test_each_domain_is_zscored_with_its_own_statistics(domains):
    Xs, ys, Xt = domains
    X, y = stack_domains(Xs, ys, Xt)
    scaler = DomainStandardScaler()
    Z = scaler.fit_transform(X, y)
    np.testing.assert_allclose(Z[:50], _zscore(Xs), atol=1e-12)
    np.testing.assert_allclose(Z[50:], _zscore(Xt), atol=1e-12)
    assert np.all(Z[50:, 3] == 0.0)  # a constant target feature is only centred
    np.testing.assert_allclose(scaler.transform(Xt), Z[50:])  # new rows are target rows
    mixed = scaler.transform(
        np.vstack([Xs[:5], Xt[:5]]), sample_domain=np.r_[np.zeros(5, int), -np.ones(5, int)]
    )
    np.testing.assert_allclose(mixed, np.vstack([Z[:5], Z[50:55]]))


@pytest.mark.parametrize(("with_mean", "with_std"), [(False, True), (True, False), (False, False)])
def test_mean_and_std_can_be_kept(domains, with_mean, with_std):
    Xs, ys, Xt = domains
    X, y = stack_domains(Xs, ys, Xt)
    Z = DomainStandardScaler(with_mean=with_mean, with_std=with_std).fit_transform(X, y)
    for rows, part in ((slice(0, 50), Xs), (slice(50, None), Xt)):
        std = part.std(axis=0)
        expected = (part - part.mean(axis=0) * with_mean) / (np.where(std > 0, std, 1.0) if with_std else 1.0)
        np.testing.assert_allclose(Z[rows], expected, atol=1e-12)


def test_sample_domain_overrides_the_labels_and_float32_is_kept(domains):
    Xs, ys, Xt = domains
    X = np.vstack([Xs, Xt]).astype(np.float32)
    y = np.r_[ys, np.zeros(40, int)]  # labeled target rows, marked by sample_domain
    Z = DomainStandardScaler().fit_transform(X, y, sample_domain=np.r_[np.zeros(50, int), -np.ones(40, int)])
    assert Z.dtype == np.float32
    np.testing.assert_allclose(Z[50:], _zscore(Xt.astype(np.float32)), atol=1e-5)


def test_pickle_clone_and_errors(domains):
    Xs, ys, Xt = domains
    X, y = stack_domains(Xs, ys, Xt)
    scaler = DomainStandardScaler().fit(X, y)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(scaler)).transform(Xt), scaler.transform(Xt))
    np.testing.assert_array_equal(clone(scaler).fit(X, y).transform(Xt), scaler.transform(Xt))
    assert scaler.get_feature_names_out().tolist() == ["x0", "x1", "x2", "x3"]  # one to one
    with pytest.raises(ValueError, match="no target rows"):
        DomainStandardScaler().fit(Xs, ys)
    with pytest.raises(ValueError, match="expecting 4 features"):
        scaler.transform(Xt[:, :3])


def test_standardising_each_domain_adapts_the_digits():
    Xs, ys, Xt, yt = make_digits_shift(random_state=0)
    X, y = stack_domains(Xs, ys, Xt)
    source_only = np.mean(LogisticRegression(max_iter=5000).fit(Xs, ys).predict(Xt) == yt)  # 0.42
    pipe = make_da_pipeline(DomainStandardScaler(), LogisticRegression(max_iter=5000)).fit(X, y)
    adapted = np.mean(pipe.predict(Xt) == yt)  # 0.76
    assert source_only < 0.5 and adapted > 0.7
