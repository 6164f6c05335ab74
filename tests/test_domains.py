import numpy as np
import pytest

from skltransfer import stack_domains
from skltransfer._domains import resolve_domains, unlabeled_mask


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
