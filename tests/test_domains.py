import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from skltransfer import stack_domains
from skltransfer._domains import resolve_domains, score_labeled_rows, unlabeled_mask


def test_unlabeled_mask_kinds():
    assert unlabeled_mask([0, -1, 2]).tolist() == [False, True, False]
    assert unlabeled_mask(np.array([0.5, np.nan, -1.0])).tolist() == [False, True, False]
    assert unlabeled_mask(np.array(["a", -1, None], dtype=object)).tolist() == [False, True, True]
    assert unlabeled_mask(np.array(["a", "b"])).tolist() == [False, False]


@pytest.mark.parametrize(
    "y, regression, expected",
    [
        # a regression target: -1.0 is a value, NaN the marker
        ([0.5, -1.0, np.nan], None, [False, False, True]),
        ([0.5, -1.0, np.nan], True, [False, False, True]),
        # floats holding class labels, as type_of_target reads them: -1.0 is the marker
        ([0.0, 1.0, -1.0, np.nan], None, [False, False, True, True]),
        ([0.0, 1.0, -1.0], False, [False, False, True]),
        # the estimator decides over the values: a regressor's integral floats keep -1.0
        ([0.0, 1.0, -1.0], True, [False, False, False]),
        # a classifier's float labels that look continuous still use -1 as the marker
        ([0.5, -1.0], False, [False, True]),
        # integers cannot hold NaN: -1 stays the marker, whatever the estimator
        ([3, -1, 2], True, [False, True, False]),
        ([np.nan, np.nan], None, [True, True]),
    ],
)
def test_unlabeled_mask_regression_convention(y, regression, expected):
    assert unlabeled_mask(np.array(y), regression=regression).tolist() == expected


def test_float_classes_follow_type_of_target():
    # the inference is scikit-learn's: integral floats are "multiclass", the others "continuous"
    from sklearn.utils.multiclass import type_of_target

    for y in ([0.0, 2.0, -1.0], [0.25, 2.0, -1.0]):
        classes = type_of_target(np.array(y)) in ("binary", "multiclass")
        assert unlabeled_mask(np.array(y))[2] == classes


def test_stack_domains_float_targets_stay_float_with_nan():
    _, y = stack_domains(np.zeros((3, 2)), [-1.0, 0.5, 2.0], np.ones((2, 2)))
    assert y.dtype == np.float64 and y[:3].tolist() == [-1.0, 0.5, 2.0] and np.isnan(y[3:]).all()
    assert unlabeled_mask(y).tolist() == [False, False, False, True, True]
    d = resolve_domains(y, n_samples=5, regression=True)
    assert d.source.tolist() == [True, True, True, False, False]
    # labeled target rows keep their float values; NaN marks the unknown ones
    _, y, _ = stack_domains(
        np.zeros((1, 2)), [1.5], np.ones((2, 2)), [-1.0, np.nan], return_sample_domain=True
    )
    assert y[:2].tolist() == [1.5, -1.0] and np.isnan(y[2])
    # integer source labels with float target values give floats
    _, y, _ = stack_domains(np.zeros((1, 2)), [1], np.ones((1, 2)), [0.5], return_sample_domain=True)
    assert y.dtype == np.float64 and y.tolist() == [1.0, 0.5]


def test_stack_domains_rejects_nan_source_target():
    with pytest.raises(ValueError, match="y_source contains -1"):
        stack_domains(np.zeros((2, 2)), [0.5, np.nan], np.ones((2, 2)))


def test_resolve_domains_require_labels_rejects_continuous_targets():
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        resolve_domains([0.5, 1.5, np.nan], n_samples=3, require_labels=True)


def test_stack_domains_int_labels():
    Xs, Xt = np.zeros((3, 2)), np.ones((2, 2))
    X, y = stack_domains(Xs, [0, 1, 1], Xt)
    assert X.shape == (5, 2)
    assert y.dtype.kind == "i"
    assert y.tolist() == [0, 1, 1, -1, -1]


def test_stack_domains_string_labels_and_sample_domain():
    _, y, sd = stack_domains(np.zeros((2, 2)), ["cat", "dog"], np.ones((1, 2)), return_sample_domain=True)
    assert y.dtype == object and y.tolist() == ["cat", "dog", -1]
    assert sd.tolist() == [0, 0, -1]
    assert unlabeled_mask(y).tolist() == [False, False, True]


def test_stack_domains_labeled_target_needs_sample_domain():
    with pytest.raises(ValueError, match="return_sample_domain=True"):
        stack_domains(np.zeros((2, 2)), [0, 1], np.ones((2, 2)), [0, 1])
    _, y, sd = stack_domains(np.zeros((2, 2)), [0, 1], np.ones((2, 2)), [1, -1], return_sample_domain=True)
    assert y.tolist() == [0, 1, 1, -1] and sd.tolist() == [0, 0, -1, -1]


def test_stack_domains_rejects_unlabeled_source():
    with pytest.raises(ValueError, match="y_source contains -1"):
        stack_domains(np.zeros((2, 2)), [0, -1], np.ones((2, 2)))


def test_stack_domains_does_not_mutate_inputs():
    Xs, ys, Xt = np.zeros((2, 2)), np.array([0, 1]), np.ones((2, 2))
    X, y = stack_domains(Xs, ys, Xt)
    X[:] = 7
    y[:] = 7
    assert Xs.sum() == 0 and ys.tolist() == [0, 1] and Xt.sum() == 4


def test_stack_domains_paths():
    X, y = stack_domains(["a.png", "b.png"], [0, 1], ["c.png"])
    assert X.tolist() == ["a.png", "b.png", "c.png"] and y.tolist() == [0, 1, -1]


def test_resolve_domains_from_y_and_sample_domain():
    d = resolve_domains([0, 1, -1], n_samples=3)
    assert d.source.tolist() == [True, True, False] and d.labeled.tolist() == [True, True, False]
    d = resolve_domains([0, 1, 1], [0, 1, -2], n_samples=3)
    assert d.target.tolist() == [False, False, True] and d.labeled.all()
    d = resolve_domains(None, [0, -1], n_samples=2)
    assert not d.labeled.any()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"y": None, "sample_domain": None}, "needs to know the target rows"),
        ({"y": [0, 1, 0], "sample_domain": None}, "no target rows"),
        ({"y": [-1, -1, -1], "sample_domain": None}, "no source rows"),
        ({"y": [0, 0, -1], "sample_domain": None, "require_labels": True}, "1 class"),
        ({"y": None, "sample_domain": [0, -1, 0], "require_labels": True}, "needs labels"),
        ({"y": None, "sample_domain": [0.5, -1, 0]}, "1-D array of integers"),
        ({"y": None, "sample_domain": [0, -1]}, "sample_domain has 2 rows but X has 3"),
        ({"y": [0, 1], "sample_domain": None}, "inconsistent numbers of samples"),
    ],
)
def test_resolve_domains_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        resolve_domains(n_samples=3, **kwargs)


def test_unlabeled_mask_of_several_outputs_marks_rows():
    y = np.array([[0.5, 1.0], [np.nan, 1.0], [-1.0, 2.0], [0.5, np.nan]])
    assert unlabeled_mask(y, regression=True).tolist() == [False, True, False, True]
    assert unlabeled_mask(np.array([[0, 1], [-1, 1], [1, 0]])).tolist() == [False, True, False]


def _brute_force_score(predict, X, y, w, labeled, *, regression):
    """Weighted accuracy or R^2 over the labeled rows, one row at a time."""
    kept = [i for i in range(len(y)) if labeled(y[i])]
    weights = np.array([1.0 if w is None else w[i] for i in kept])
    truth = np.array([y[i] for i in kept])
    pred = np.array([predict(X[i]) for i in kept])
    if not regression:
        return float(np.sum(weights * (pred == truth)) / np.sum(weights))
    mean = np.sum(weights * truth) / np.sum(weights)
    return 1.0 - np.sum(weights * (truth - pred) ** 2) / np.sum(weights * (truth - mean) ** 2)


@pytest.mark.parametrize("weighted", [False, True])
def test_score_labeled_rows_classification_leaves_out_minus_one(weighted):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = (X[:, 0] + 0.5 * rng.normal(size=40) > 0).astype(int)
    y[::3] = -1
    w = rng.uniform(0.1, 2.0, size=40) if weighted else None
    clf = LogisticRegression().fit(X[y != -1], y[y != -1])
    got = score_labeled_rows(clf.score, X, y, w)
    expected = _brute_force_score(
        lambda row: clf.predict(row[None])[0], X, y, w, lambda v: v != -1, regression=False
    )
    assert got == pytest.approx(expected)
    assert got != pytest.approx(clf.score(X, y, sample_weight=w))  # the -1 rows would count as errors


@pytest.mark.parametrize("weighted", [False, True])
def test_score_labeled_rows_regression_leaves_out_nan_keeps_minus_one(weighted):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3 * rng.normal(size=30)
    y[[1, 7, 20]] = np.nan
    y[[4, 11]] = -1.0  # a value like any other
    w = rng.uniform(0.1, 2.0, size=30) if weighted else None
    reg = LinearRegression().fit(X[~np.isnan(y)], y[~np.isnan(y)])
    got = score_labeled_rows(reg.score, X, y, w, regression=True)
    expected = _brute_force_score(
        lambda row: reg.predict(row[None])[0], X, y, w, lambda v: not np.isnan(v), regression=True
    )
    assert got == pytest.approx(expected)


def test_score_labeled_rows_list_of_paths_and_string_labels():
    labels = np.array(["cat", -1, "dog", "dog", -1, "cat", "cat"], dtype=object)
    paths = [f"images/{'dog' if i % 2 else 'cat'}_{i}.png" for i in range(len(labels))]
    w = np.arange(1.0, 8.0)
    seen = {}

    def score(X, y, sample_weight=None):  # "predicts" the class written in the file name
        seen.update(X=X, y=y, sample_weight=sample_weight)
        hits = [path.split("/")[1].startswith(label) for path, label in zip(X, y, strict=True)]
        return float(np.average(hits, weights=sample_weight))

    got = score_labeled_rows(score, paths, labels, w)
    expected = _brute_force_score(
        lambda path: path.split("/")[1].split("_")[0], paths, labels, w, lambda v: v != -1, regression=False
    )
    assert got == pytest.approx(expected)
    assert seen["X"] == [paths[i] for i in (0, 2, 3, 5, 6)]
    assert seen["y"].tolist() == ["cat", "dog", "dog", "cat", "cat"]
    assert seen["sample_weight"].tolist() == [1.0, 3.0, 4.0, 6.0, 7.0]


def test_score_labeled_rows_dataframe_and_score_without_sample_weight():
    rng = np.random.default_rng(2)
    df = pd.DataFrame(rng.normal(size=(12, 2)), columns=["a", "b"], index=np.arange(100, 112))
    y = df["a"].to_numpy() * 2.0
    y[[0, 5]] = np.nan
    reg = LinearRegression().fit(df[~np.isnan(y)], y[~np.isnan(y)])
    seen = {}

    def score(X, y):  # no sample_weight parameter: not passed when None
        seen["X"] = X
        return reg.score(X, y)

    got = score_labeled_rows(score, df, y, regression=True)
    expected = _brute_force_score(
        lambda row: reg.predict(row.to_frame().T)[0],
        [df.iloc[i] for i in range(12)],
        y,
        None,
        lambda v: not np.isnan(v),
        regression=True,
    )
    assert got == pytest.approx(expected)
    assert isinstance(seen["X"], pd.DataFrame)
    assert seen["X"].index.tolist() == [i + 100 for i in range(12) if i not in (0, 5)]


def test_score_labeled_rows_errors():
    X = np.zeros((3, 1))
    with pytest.raises(ValueError, match="score got no labeled rows"):
        score_labeled_rows(lambda X, y: 1.0, X, [-1, -1, -1])
    with pytest.raises(ValueError, match="score got no labeled rows"):
        score_labeled_rows(lambda X, y: 1.0, X, [np.nan] * 3, regression=True)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        score_labeled_rows(lambda X, y, sample_weight: 1.0, X, [0, 1, -1], np.ones(4))
