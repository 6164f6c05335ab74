"""Tests of transfer_report and of the public names of skltransfer.metrics / model_selection."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

import skltransfer.metrics
import skltransfer.model_selection
from skltransfer import MMDAligner, make_da_pipeline, stack_domains
from skltransfer.metrics import maximum_mean_discrepancy, transfer_report


@pytest.mark.parametrize("module", [skltransfer.metrics, skltransfer.model_selection])
def test_all_is_consistent(module):
    assert sorted(module.__all__) == module.__all__
    for name in module.__all__:
        assert hasattr(module, name), name


def _three_class(seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])
    ys = np.repeat([0, 1, 2], 20)
    yt = np.repeat([0, 1, 2], 15)
    Xs = centers[ys] + rng.normal(size=(60, 2))
    Xt = centers[yt] * 1.2 + [1.0, 1.0] + rng.normal(size=(45, 2))
    return Xs, ys, Xt, yt


@pytest.fixture
def report_case():
    Xs, ys, Xt, yt = _three_class()
    X, y, sd = stack_domains(Xs, ys, Xt, yt, return_sample_domain=True)
    y_fit = np.where(sd < 0, -1, y)
    pipe = make_da_pipeline(
        StandardScaler(), MMDAligner(n_components=2, kernel="linear"), LogisticRegression()
    )
    pipe.fit(X, y_fit)
    return pipe, X, y, sd, Xs, Xt, yt


def test_transfer_report_dict_matches_sklearn(report_case):
    pipe, X, y, sd, Xs, Xt, yt = report_case
    report = transfer_report(pipe, X, y, sample_domain=sd, output_dict=True)
    pred = pipe.predict(Xt)
    assert report["accuracy"] == pytest.approx(accuracy_score(yt, pred))
    macro = report["macro avg"]
    assert macro["precision"] == pytest.approx(precision_score(yt, pred, average="macro", zero_division=0))
    assert macro["recall"] == pytest.approx(recall_score(yt, pred, average="macro"))
    assert macro["f1-score"] == pytest.approx(f1_score(yt, pred, average="macro"))
    per_class_f1 = f1_score(yt, pred, average=None)
    for c in range(3):
        assert report[str(c)]["f1-score"] == pytest.approx(per_class_f1[c])
        assert report[str(c)]["support"] == 15
    assert report["roc_auc"] == pytest.approx(roc_auc_score(yt, pipe.predict_proba(Xt), multi_class="ovr"))
    assert report["mmd_before"] == pytest.approx(maximum_mean_discrepancy(Xs, Xt, gamma="median"))
    Zs = pipe[1].transform(pipe[0].transform(Xs), sample_domain=np.zeros(60, int))
    Zt = pipe[1].transform(pipe[0].transform(Xt))
    assert report["mmd_after"] == pytest.approx(maximum_mean_discrepancy(Zs, Zt, gamma="median"))
    assert report["mmd_after"] < report["mmd_before"]  # the aligner reduced the domain gap
    assert (report["n_source"], report["n_target"], report["n_target_labeled"]) == (60, 45, 45)


def test_transfer_report_text(report_case):
    pipe, X, y, sd, *_ = report_case
    text = transfer_report(pipe, X, y, sample_domain=sd, kernel="linear", gamma=None, digits=2)
    assert text.startswith("Target rows scored: 45 (source rows: 60, target rows: 45)")
    assert "macro avg" in text and "ROC-AUC (macro, one-vs-rest): " in text
    assert "MMD^2 source vs target (linear): before alignment" in text
    names = transfer_report(pipe, X, y, sample_domain=sd, target_names=["a", "b", "c"], output_dict=True)
    assert {"a", "b", "c"} <= set(names)


def test_transfer_report_only_labeled_target_rows_are_scored(report_case):
    pipe, X, y, sd, _, Xt, yt = report_case
    y_partial = y.copy()
    y_partial[60:75] = -1  # the first 15 target rows (class 0) have no label
    report = transfer_report(pipe, X, y_partial, sample_domain=sd, output_dict=True)
    assert report["n_target_labeled"] == 30 and report["n_target"] == 45
    assert report["accuracy"] == pytest.approx(accuracy_score(yt[15:], pipe.predict(Xt[15:])))
    # two of three classes present: macro AUC over the classes present, one-vs-rest
    proba = pipe.predict_proba(Xt[15:])
    want = np.mean([roc_auc_score(yt[15:] == c, proba[:, c]) for c in (1, 2)])
    assert report["roc_auc"] == pytest.approx(want)


def test_transfer_report_undefined_values_are_none():
    Xs, ys, Xt, yt = _three_class()
    keep = ys < 2
    Xs, ys = Xs[keep], ys[keep]
    X, y, sd = stack_domains(Xs, ys, Xt[:15], yt[:15], return_sample_domain=True)  # one target class
    knn = KNeighborsClassifier(3).fit(Xs, ys)  # not a pipeline: no alignment step
    report = transfer_report(knn, X, y, sample_domain=sd, output_dict=True)
    assert report["roc_auc"] is None and report["mmd_after"] is None
    assert "n/a" in transfer_report(knn, X, y, sample_domain=sd)


def test_transfer_report_binary_auc_and_decision_function():
    Xs, ys, Xt, yt = _three_class()
    keep_s, keep_t = ys < 2, yt < 2
    X, y, sd = stack_domains(Xs[keep_s], ys[keep_s], Xt[keep_t], yt[keep_t], return_sample_domain=True)
    pipe = make_da_pipeline(StandardScaler(), LinearSVC()).fit(X, np.where(sd < 0, -1, y))
    report = transfer_report(pipe, X, y, sample_domain=sd, output_dict=True)
    want = roc_auc_score(yt[keep_t], pipe.decision_function(Xt[keep_t]))
    assert report["roc_auc"] == pytest.approx(want)


def test_transfer_report_errors(report_case):
    pipe, X, y, sd, *_ = report_case
    with pytest.raises(ValueError, match="found none: pass the target labels"):
        transfer_report(pipe, X, np.where(sd < 0, -1, y))
    with pytest.raises(ValueError, match="no source rows"):
        transfer_report(pipe, X, y, sample_domain=-np.ones_like(sd))
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        transfer_report(make_da_pipeline(LogisticRegression()), X, y, sample_domain=sd)
