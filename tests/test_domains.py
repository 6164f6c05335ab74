import numpy as np
import pytest

from skltransfer import stack_domains
from skltransfer._domains import resolve_domains, unlabeled_mask


def test_unlabeled_mask_kinds():
    assert unlabeled_mask([0, -1, 2]).tolist() == [False, True, False]
    assert unlabeled_mask(np.array([0.5, np.nan, -1.0])).tolist() == [False, True, True]
    assert unlabeled_mask(np.array(["a", -1, None], dtype=object)).tolist() == [False, True, True]
    assert unlabeled_mask(np.array(["a", "b"])).tolist() == [False, False]


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
