"""Tests of the maximum mean discrepancy against brute force and closed forms."""

import itertools

import numpy as np
import pytest
from sklearn.metrics.pairwise import rbf_kernel

from skltransfer.metrics import maximum_mean_discrepancy, median_heuristic_gamma, mmd_permutation_test


def _k(kernel, x, y, gamma=None, degree=None, coef0=None):
    if kernel == "linear":
        return float(x @ y)
    if kernel == "rbf":
        return float(np.exp(-gamma * np.sum((x - y) ** 2)))
    if kernel == "poly":
        return float((gamma * (x @ y) + coef0) ** degree)
    if kernel == "laplacian":
        return float(np.exp(-gamma * np.sum(np.abs(x - y))))
    raise AssertionError(kernel)


def _brute(Xs, Xt, estimate, **kw):
    """Double-loop MMD^2 straight from Gretton et al. (2012), eqs. (3), (5) and Lemma 14."""
    m, n = len(Xs), len(Xt)
    if estimate == "linear":
        half = min(m, n) // 2
        total = 0.0
        for i in range(half):
            x1, x2, y1, y2 = Xs[2 * i], Xs[2 * i + 1], Xt[2 * i], Xt[2 * i + 1]
            total += _k(kw["kernel"], x1, x2, **kw["p"]) + _k(kw["kernel"], y1, y2, **kw["p"])
            total -= _k(kw["kernel"], x1, y2, **kw["p"]) + _k(kw["kernel"], x2, y1, **kw["p"])
        return total / half
    kern, p = kw["kernel"], kw["p"]
    skip = estimate == "unbiased"
    ss = [_k(kern, Xs[i], Xs[j], **p) for i in range(m) for j in range(m) if not (skip and i == j)]
    tt = [_k(kern, Xt[i], Xt[j], **p) for i in range(n) for j in range(n) if not (skip and i == j)]
    st = [_k(kern, Xs[i], Xt[j], **p) for i in range(m) for j in range(n)]
    return np.mean(ss) + np.mean(tt) - 2 * np.mean(st)


@pytest.fixture
def samples():
    rng = np.random.default_rng(0)
    return rng.normal(size=(9, 3)), rng.normal(0.5, 1.5, size=(7, 3))


@pytest.mark.parametrize("estimate", ["biased", "unbiased", "linear"])
@pytest.mark.parametrize(
    ("kernel", "params"),
    [
        ("linear", {}),
        ("rbf", {"gamma": 0.3}),
        ("poly", {"gamma": 0.5, "degree": 2, "coef0": 1.0}),
        ("laplacian", {"gamma": 0.2}),
    ],
)
def test_matches_brute_force(samples, estimate, kernel, params):
    Xs, Xt = samples
    got = maximum_mean_discrepancy(Xs, Xt, kernel, estimate=estimate, **params)
    want = _brute(Xs, Xt, estimate, kernel=kernel, p=params)
    assert got == pytest.approx(want, rel=1e-10, abs=1e-12)


def test_linear_biased_is_squared_mean_difference(samples):
    Xs, Xt = samples
    want = np.sum((Xs.mean(0) - Xt.mean(0)) ** 2)
    assert maximum_mean_discrepancy(Xs, Xt, "linear") == pytest.approx(want)
    assert maximum_mean_discrepancy(Xs, Xt, "linear", squared=False) == pytest.approx(np.sqrt(want))


def test_callable_kernel_and_kernel_params(samples):
    Xs, Xt = samples

    def kern(x, y, scale):
        return np.exp(-scale * np.sum((x - y) ** 2))

    got = maximum_mean_discrepancy(Xs, Xt, kern, kernel_params={"scale": 0.3})
    assert got == pytest.approx(maximum_mean_discrepancy(Xs, Xt, "rbf", gamma=0.3))


def test_linear_estimate_is_unbiased_on_average():
    rng = np.random.default_rng(1)
    draws = [
        maximum_mean_discrepancy(
            rng.normal(size=(200, 2)), rng.normal(0.7, 1, size=(200, 2)), "linear", estimate="linear"
        )
        for _ in range(400)
    ]
    # E[MMD^2] with the linear kernel is ||mu_s - mu_t||^2 = 2 * 0.7^2.
    assert np.mean(draws) == pytest.approx(2 * 0.49, abs=0.07)  # 4 standard errors


def test_unbiased_can_be_negative_and_sqrt_clips():
    rng = np.random.default_rng(2)
    values = [
        maximum_mean_discrepancy(rng.normal(size=(10, 2)), rng.normal(size=(10, 2)), estimate="unbiased")
        for _ in range(20)
    ]
    assert min(values) < 0
    Xs, Xt = rng.normal(size=(10, 2)), rng.normal(size=(10, 2))
    for _ in range(50):
        if maximum_mean_discrepancy(Xs, Xt, estimate="unbiased") < 0:
            break
        Xs, Xt = rng.normal(size=(10, 2)), rng.normal(size=(10, 2))
    assert maximum_mean_discrepancy(Xs, Xt, estimate="unbiased", squared=False) == 0.0


def test_median_heuristic_by_hand(samples):
    Xs, Xt = samples
    Z = np.vstack([Xs, Xt])
    d2 = [np.sum((Z[i] - Z[j]) ** 2) for i, j in itertools.combinations(range(len(Z)), 2)]
    gamma = 1 / (2 * np.median(d2))
    assert median_heuristic_gamma(Xs, Xt) == pytest.approx(gamma)
    assert maximum_mean_discrepancy(Xs, Xt, gamma="median") == pytest.approx(
        maximum_mean_discrepancy(Xs, Xt, gamma=gamma)
    )


def test_median_heuristic_subsamples_large_samples():
    rng = np.random.default_rng(3)
    Xs, Xt = rng.normal(size=(3000, 2)), rng.normal(size=(1500, 2))
    gamma = median_heuristic_gamma(Xs, Xt)
    # the median squared distance of two standard normal 2-D points is 4 ln 2
    assert gamma == pytest.approx(1 / (8 * np.log(2)), rel=0.05)


def test_median_heuristic_rejects_constant_rows():
    with pytest.raises(ValueError, match="median squared distance"):
        maximum_mean_discrepancy(np.ones((3, 2)), np.ones((2, 2)), gamma="median")


def test_mismatched_features():
    with pytest.raises(ValueError, match="X_source has 2 features but X_target has 3"):
        maximum_mean_discrepancy(np.ones((3, 2)), np.ones((3, 3)))


@pytest.mark.parametrize("estimate", ["unbiased", "linear"])
def test_too_few_rows(estimate):
    with pytest.raises(ValueError, match=f"estimate='{estimate}' needs at least 2 rows"):
        maximum_mean_discrepancy(np.ones((1, 2)), np.ones((3, 2)), estimate=estimate)


def test_permutation_too_few_rows():
    with pytest.raises(ValueError, match="estimate='unbiased' needs at least 2 rows"):
        mmd_permutation_test(np.ones((1, 2)), np.ones((3, 2)), estimate="unbiased")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"estimate": "quadratic"}, "estimate"),
        ({"kernel": "nope"}, "kernel"),
        ({"gamma": -1.0}, "gamma"),
        ({"gamma": "mean"}, "gamma"),
    ],
)
def test_invalid_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        maximum_mean_discrepancy(np.ones((3, 2)), np.zeros((3, 2)), **kwargs)


def test_rejects_nan():
    with pytest.raises(ValueError, match="X_source"):
        maximum_mean_discrepancy(np.array([[np.nan, 0.0]]), np.zeros((3, 2)))


def _brute_permutation_p(Xs, Xt, gamma, estimate, n_permutations, seed):
    """Loop over permutations, recomputing the MMD from scratch on the permuted samples."""
    rng = np.random.RandomState(seed)
    Z = np.vstack([Xs, Xt])
    m = len(Xs)
    stat = maximum_mean_discrepancy(Xs, Xt, gamma=gamma, estimate=estimate)
    perms = np.argsort(rng.random_sample((len(Z), n_permutations)), axis=0)
    count = 0
    for p in perms.T:
        src = np.zeros(len(Z), bool)
        src[np.flatnonzero(p < m)] = True
        value = maximum_mean_discrepancy(Z[src], Z[~src], gamma=gamma, estimate=estimate)
        count += value >= stat - 1e-12 * abs(stat)
    return stat, (1 + count) / (1 + n_permutations)


@pytest.mark.parametrize("estimate", ["biased", "unbiased"])
def test_permutation_test_matches_loop(samples, estimate):
    Xs, Xt = samples
    got = mmd_permutation_test(Xs, Xt, gamma=0.3, estimate=estimate, n_permutations=60, random_state=4)
    want = _brute_permutation_p(Xs, Xt, 0.3, estimate, 60, 4)
    assert got[0] == pytest.approx(want[0])
    assert got[1] == pytest.approx(want[1])


def test_permutation_test_calibrated_and_powerful():
    rng = np.random.default_rng(5)
    null_p = [
        mmd_permutation_test(rng.normal(size=(20, 2)), rng.normal(size=(20, 2)), gamma="median",
                             n_permutations=99, random_state=i)[1]
        for i in range(40)
    ]  # fmt: skip
    # p-values are uniform under the null: about 5% below 0.05, mean about 0.5
    assert np.mean(np.array(null_p) < 0.05) <= 0.15
    assert 0.35 < np.mean(null_p) < 0.65
    Xs, Xt = rng.normal(size=(60, 2)), rng.normal(size=(60, 2))
    Xt[:, 0] *= 3.0  # same mean, different variance: the linear kernel cannot see it, rbf can
    assert mmd_permutation_test(Xs, Xt, gamma="median", n_permutations=200, random_state=0)[1] < 0.01


def test_permutation_statistic_is_the_biased_mmd(samples):
    Xs, Xt = samples
    statistic, p_value = mmd_permutation_test(Xs, Xt, n_permutations=50, random_state=0)
    K = rbf_kernel(np.vstack([Xs, Xt]), gamma=1 / 3)  # gamma=None: 1 / n_features
    assert statistic == pytest.approx(K[:9, :9].mean() + K[9:, 9:].mean() - 2 * K[:9, 9:].mean())
    assert 1 / 51 <= p_value <= 1.0
    assert (statistic, p_value) == mmd_permutation_test(Xs, Xt, n_permutations=50, random_state=0)


@pytest.mark.parametrize(("chunks", "gamma"), [(7, 0.3), (64, "median"), (1000, None)])
def test_linear_estimate_of_dask_arrays_matches_in_memory(chunks, gamma):
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(1)
    Xs, Xt = rng.normal(size=(1501, 4)), rng.normal(0.3, 1.2, size=(1203, 4))
    expected = maximum_mean_discrepancy(Xs, Xt, gamma=gamma, estimate="linear")
    lazy_s, lazy_t = da.from_array(Xs, chunks=(chunks, 2)), da.from_array(Xt, chunks=(chunks + 5, 4))
    for pair in ((lazy_s, lazy_t), (lazy_s, Xt), (Xs, lazy_t)):
        value = maximum_mean_discrepancy(*pair, gamma=gamma, estimate="linear")
        assert value == pytest.approx(expected, rel=1e-12, abs=1e-15)
    # and the in-memory value is the brute-force one on a small sample
    small = maximum_mean_discrepancy(da.from_array(Xs[:9], 3), Xt[:7], "rbf", 0.3, estimate="linear")
    assert small == pytest.approx(_brute(Xs[:9], Xt[:7], "linear", kernel="rbf", p={"gamma": 0.3}))
    assert maximum_mean_discrepancy(lazy_s, lazy_t, gamma=0.3, estimate="linear", squared=False) >= 0


def test_dask_arrays_errors():
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(0)
    Xs, Xt = da.from_array(rng.normal(size=(20, 3)), 5), rng.normal(size=(20, 3))
    with pytest.raises(ValueError, match="estimate='biased' needs both samples in memory"):
        maximum_mean_discrepancy(Xs, Xt)
    with pytest.raises(ValueError, match="X_source has 3 features but X_target has 2"):
        maximum_mean_discrepancy(Xs, Xt[:, :2], estimate="linear")
    with pytest.raises(ValueError, match="needs at least 2 rows"):
        maximum_mean_discrepancy(Xs[:1], Xt, estimate="linear")
    with pytest.raises(ValueError, match="NaN"):
        maximum_mean_discrepancy(da.where(Xs > 1.5, np.nan, Xs), Xt, estimate="linear")
