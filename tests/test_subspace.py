"""SubspaceAligner against a brute-force reference of Fernando et al. (2013)."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.neighbors import KNeighborsClassifier

from skltransfer import SubspaceAligner, make_da_pipeline, stack_domains
from skltransfer.alignment._subspace import principal_directions


@pytest.fixture
def domains():
    rng = np.random.default_rng(1)
    Xs = rng.normal(size=(80, 6)) * np.arange(1, 7)
    Xt = rng.normal(size=(60, 6)) * np.arange(6, 0, -1) + 3.0
    ys = (Xs[:, -1] > 0).astype(int)
    return Xs, ys, Xt


def _basis(X, d):
    """First d principal directions by eigendecomposition of the covariance, as columns."""
    w, V = np.linalg.eigh(np.cov(X, rowvar=False))
    return V[:, np.argsort(w)[::-1][:d]]


def test_matches_brute_force(domains):
    Xs, ys, Xt = domains
    X, y = stack_domains(Xs, ys, Xt)
    sa = SubspaceAligner(n_components=3)
    Z = sa.fit_transform(X, y)
    Ps, Pt = _basis(Xs, 3), _basis(Xt, 3)
    M = Ps.T @ Pt
    ref_source = (Xs - Xs.mean(0)) @ Ps @ M
    ref_target = (Xt - Xt.mean(0)) @ Pt
    # principal directions are defined up to sign: compare up to a sign per target axis
    signs = np.sign(np.sum(sa.components_target_.T * Pt, axis=0))
    np.testing.assert_allclose(Z[:80] * signs, ref_source, atol=1e-8)
    np.testing.assert_allclose(Z[80:] * signs, ref_target, atol=1e-8)
    np.testing.assert_allclose(sa.alignment_, sa.components_source_ @ sa.components_target_.T)


def test_aligned_source_basis_is_closest_to_target_basis(domains):
    Xs, ys, Xt = domains
    X, y = stack_domains(Xs, ys, Xt)
    sa = SubspaceAligner(n_components=2).fit(X, y)
    Ps, Pt = sa.components_source_.T, sa.components_target_.T
    best = np.linalg.norm(Ps @ sa.alignment_ - Pt)
    rng = np.random.default_rng(0)
    for _ in range(50):  # M = Ps^T Pt minimises ||Ps M - Pt||_F: no perturbation does better
        assert np.linalg.norm(Ps @ (sa.alignment_ + 0.05 * rng.normal(size=(2, 2))) - Pt) >= best


def test_transform_source_rows_with_sample_domain(domains):
    Xs, ys, Xt = domains
    X, y = stack_domains(Xs, ys, Xt)
    sa = SubspaceAligner(n_components=3).fit(X, y)
    sd = np.r_[np.zeros(80), -np.ones(60)].astype(int)
    np.testing.assert_allclose(sa.transform(X, sample_domain=sd), sa.fit_transform(X, y))
    np.testing.assert_allclose(sa.transform(Xt), sa.fit_transform(X, y)[80:])
    assert sa.get_feature_names_out().tolist() == [f"subspacealigner{i}" for i in range(3)]


def test_clips_n_components_with_warning(domains):
    Xs, ys, Xt = domains
    X, y = stack_domains(Xs, ys, Xt)
    with pytest.warns(UserWarning, match="n_components=10 exceeds") as record:
        sa = SubspaceAligner(n_components=10).fit(X, y)
    assert record[0].filename == __file__
    assert sa.n_components_ == 6 and sa.transform(Xt).shape == (60, 6)


def test_pipeline_clone_pickle_round_trip(domains):
    Xs, ys, Xt = domains
    X, y = stack_domains(Xs, ys, Xt)
    pipe = make_da_pipeline(SubspaceAligner(n_components=3), KNeighborsClassifier(1)).fit(X, y)
    again = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(again.predict(Xt), pipe.predict(Xt))
    np.testing.assert_array_equal(clone(pipe).fit(X, y).predict(Xt), pipe.predict(Xt))


@pytest.mark.parametrize("n_components", [0, 1.5, "a"])
def test_invalid_n_components(domains, n_components):
    Xs, ys, Xt = domains
    X, y = stack_domains(Xs, ys, Xt)
    with pytest.raises(ValueError, match="n_components"):
        SubspaceAligner(n_components=n_components).fit(X, y)


@pytest.mark.parametrize(("n_samples", "n_components"), [(12, 5), (12, 12), (40, 5), (40, 19), (40, 20)])
def test_principal_directions_every_route(n_samples, n_components):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(n_samples, 20)) * np.linspace(3, 0.5, 20)
    mean, P = principal_directions(X, n_components)
    np.testing.assert_allclose(mean, X.mean(0))
    w, V = np.linalg.eigh(np.cov(X, rowvar=False))
    order = np.argsort(w)[::-1]
    # compare spans of the leading directions with non-degenerate eigenvalues
    k = min(n_components, n_samples - 1)
    ref = V[:, order[:k]]
    np.testing.assert_allclose(np.abs(np.sum(P[:k].T * ref, axis=0)), 1.0, atol=1e-6)
