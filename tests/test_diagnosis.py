"""diagnose_shift: which kind of shift, which methods, from unlabeled target rows only."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from skltransfer import DomainStandardScaler, LabelShiftClassifier, SubspaceAligner, stack_domains
from skltransfer.metrics import ShiftDiagnosis, diagnose_shift
from skltransfer.pipeline import LabeledOnly

FAST = {"n_permutations": 200, "cv": 3, "random_state": 0}
ALIGNERS = {
    "DomainStandardScaler": DomainStandardScaler(),
    "SubspaceAligner": SubspaceAligner(n_components=2),
}


def _blobs(rng, labels, scale=1.0, offset=0.0):
    centers = np.array([[0.0, 0.0], [3.0, 3.0]])
    return centers[labels] * scale + offset + rng.normal(size=(labels.shape[0], 2))


def _label_shift(seed=0):
    rng = np.random.default_rng(seed)
    ys = rng.integers(0, 2, 200)
    yt = (rng.random(200) < 0.85).astype(int)
    return stack_domains(_blobs(rng, ys), ys, _blobs(rng, yt))


def _covariate_shift(seed=0):
    rng = np.random.default_rng(seed)
    Xs = rng.normal(size=(200, 2))
    Xt = rng.normal([1.5, 1.5], 0.5, size=(200, 2))

    def label(X):
        return (X[:, 1] > np.sin(2.0 * X[:, 0])).astype(int)

    return stack_domains(Xs, label(Xs), Xt), label(Xt)


def _no_shift(seed=0):
    rng = np.random.default_rng(seed)
    ys, yt = rng.integers(0, 2, 200), rng.integers(0, 2, 200)
    return stack_domains(_blobs(rng, ys), ys, _blobs(rng, yt))


def _affine_shift(seed=0):
    """The target is the source, scaled and moved: per-domain standardisation undoes it."""
    rng = np.random.default_rng(seed)
    ys, yt = rng.integers(0, 2, 200), rng.integers(0, 2, 200)
    return stack_domains(_blobs(rng, ys), ys, _blobs(rng, yt) * 0.5 + 4.0), yt


def test_label_shift_is_diagnosed_and_feature_alignment_advised_against():
    X, y = _label_shift()
    diagnosis = diagnose_shift(X, y, aligners=ALIGNERS, **FAST)
    assert diagnosis.shift == "label"
    assert diagnosis.recommended == "label-shift correction"
    assert "feature alignment" in diagnosis.advise_against
    assert "label-shift correction" not in diagnosis.advise_against
    assert diagnosis.label_shift_p_value < 0.05 <= diagnosis.reweighted_p_value
    assert diagnosis.target_priors[1] > 0.7
    model = diagnosis.make_estimator()
    assert isinstance(model, LabelShiftClassifier)
    model.fit(X, y)


def test_covariate_shift_advises_against_label_shift_correction():
    (X, y), _ = _covariate_shift()
    diagnosis = diagnose_shift(X, y, aligners=ALIGNERS, **FAST)
    assert diagnosis.feature_p_value < 0.05
    assert diagnosis.shift in ("unexplained", "feature")
    assert "label-shift correction" in diagnosis.advise_against
    assert diagnosis.reweighted_p_value < 0.05
    assert diagnosis.recommended != "label-shift correction"


def test_no_shift_advises_no_adaptation():
    X, y = _no_shift()
    diagnosis = diagnose_shift(X, y, aligners=ALIGNERS, **FAST)
    assert diagnosis.shift == "none"
    assert diagnosis.recommended == "no adaptation"
    assert diagnosis.advise_for == ["no adaptation"]
    assert {"label-shift correction", "feature alignment"} <= set(diagnosis.advise_against)
    model = diagnosis.make_estimator()
    assert isinstance(model.steps[-1][1], LabeledOnly)


def test_affine_shift_recommends_the_aligner_that_undoes_it():
    (X, y), y_target = _affine_shift()
    diagnosis = diagnose_shift(
        X,
        y,
        aligners={"DomainStandardScaler": DomainStandardScaler()},
        estimator=LogisticRegression(),
        **FAST,
    )
    assert diagnosis.shift == "feature"
    assert diagnosis.recommended == "DomainStandardScaler"
    assert "label-shift correction" in diagnosis.advise_against
    model = diagnosis.make_estimator().fit(X, y)
    target = y == -1
    assert np.mean(model.predict(X[target]) == y_target) > 0.9


def test_report_names_the_evidence():
    X, y = _label_shift()
    diagnosis = diagnose_shift(X, y, aligners=ALIGNERS, **FAST)
    assert isinstance(diagnosis, ShiftDiagnosis)
    text = str(diagnosis)
    for part in (
        "Shift diagnosis: label shift",
        "Recommended: label-shift correction",
        "label-shift test: p =",
        "DomainStandardScaler",
        "round trip",
    ):
        assert part in text
    assert repr(diagnosis).startswith("ShiftDiagnosis(shift='label'")
    assert set(diagnosis.aligners["SubspaceAligner"]) == {
        "gap",
        "p_value",
        "source_accuracy",
        "round_trip_accuracy",
    }


def test_sample_domain_gives_the_same_diagnosis_and_ignores_target_labels():
    rng = np.random.default_rng(0)
    ys, yt = rng.integers(0, 2, 200), (rng.random(200) < 0.85).astype(int)
    X, y, sample_domain = stack_domains(_blobs(rng, ys), ys, _blobs(rng, yt), yt, return_sample_domain=True)
    first = diagnose_shift(X, y, sample_domain=sample_domain, aligners=ALIGNERS, **FAST)
    second = diagnose_shift(X, np.where(sample_domain < 0, -1, y), aligners=ALIGNERS, **FAST)
    assert first.shift == second.shift == "label"
    assert first.feature_p_value == second.feature_p_value
    np.testing.assert_allclose(first.target_priors, second.target_priors)


def test_max_samples_subsamples_each_domain():
    X, y = _no_shift()
    diagnosis = diagnose_shift(X, y, aligners={}, max_samples=50, **FAST)
    assert (diagnosis.n_source, diagnosis.n_target) == (50, 50)
    assert diagnosis.aligners == {}


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda X, y: (X, np.where(y == -1, 0, y)), "found 0 target rows"),
        (lambda X, y: (X, np.where(y == -1, -1, 0)), "y holds a single class"),
        (
            lambda X, y: (X, np.r_[1, np.zeros(199, dtype=int), y[200:]]),
            "fewer than 2 labeled source rows of class 1",
        ),
        (lambda X, y: (X, np.full_like(y, -1)), "found no labeled source rows"),
        (lambda X, y: (X, None), "diagnose_shift needs y"),
    ],
)
def test_bad_input_names_the_parameter(make, match):
    X, y = make(*_no_shift())
    with pytest.raises(ValueError, match=match):
        diagnose_shift(X, y, aligners={}, **FAST)


def test_invalid_parameters_are_rejected():
    X, y = _no_shift()
    with pytest.raises(ValueError, match="alpha"):
        diagnose_shift(X, y, alpha=1.5)
    with pytest.raises(ValueError, match="estimator"):
        diagnose_shift(X, y, estimator="svc")
