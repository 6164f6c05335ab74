"""Bad and edge inputs across the public API: each a clear error or a correct result.

One table, ``CASES``: every row calls the public API with one bad or edge input and expects
either an error whose message names the parameter, rows or file at fault (``Error``), or a
result checked against an independent reference (``Result``). The table's totals are
counted by ``test_matrix_totals``. After it, every estimator is checked for side effects:
its inputs are not mutated; scikit-learn's configuration, numpy's global random state and
the environment are unchanged by fit and predict; the same ``random_state`` gives the same
output.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import io
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.dummy import DummyClassifier
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier

import skltransfer as skt
from skltransfer import datasets, metrics, model_selection

# --------------------------------------------------------------------------- data

_rng = np.random.default_rng(0)
N_SOURCE, N_TARGET, N_FEATURES = 24, 20, 3
XS = _rng.normal(size=(N_SOURCE, N_FEATURES))
YS = np.tile([0, 1], N_SOURCE // 2)
XS[YS == 1] += 2.0
XT = _rng.normal(size=(N_TARGET, N_FEATURES)) + 0.5
YT = np.tile([0, 1], N_TARGET // 2)
XT[YT == 1] += 2.0
X, Y = skt.stack_domains(XS, YS, XT)
# four labeled target rows, for the estimators that need them (TrAdaBoostClassifier)
# regression: a linear target, the target domain's slightly different, every target row labeled
XR, YR, SDR = skt.stack_domains(
    XS, XS @ [1.0, 2.0, 0.0], XT[:8], XT[:8] @ [1.0, 2.0, 0.5] + 1.0, return_sample_domain=True
)
X4, Y4, SD4 = skt.stack_domains(
    XS, YS, XT, np.where(np.arange(N_TARGET) < 4, YT, -1), return_sample_domain=True
)


@dataclass
class Spec:
    """How to build, fit and use one public estimator."""

    make: Callable[..., Any]
    method: str  # "transform" or "predict"
    bad_param: tuple[str, Any]  # an out-of-range parameter value
    random_state: bool = False  # has a random_state parameter
    needs_labeled_target: bool = False
    uses_labels: bool = True  # the source labels reach the fitted model
    regression: bool = False  # float targets: labeled target rows, no classes

    def data(self):
        """The rows, targets and sample_domain (or None) of a good fit."""
        if self.regression:
            return XR, YR, SDR
        return (X4, Y4, SD4) if self.needs_labeled_target else (X, Y, None)

    def fit(self, est, X_=None, y_=None, **kwargs):
        X_good, y_good, sd_good = self.data()
        if X_ is None:
            X_, y_ = X_good, y_good
        if sd_good is not None and "sample_domain" not in kwargs and X_.shape[0] == X_good.shape[0]:
            kwargs["sample_domain"] = sd_good
        return est.fit(X_, y_, **kwargs)

    def output(self, est, X_):
        return getattr(est, self.method)(X_)


def _lr():
    return LogisticRegression()


def _factory(cls, *args, **defaults):
    """``cls(*args, **defaults)``, the test's parameters overriding the defaults."""
    return lambda **params: cls(*args, **{**defaults, **params})


SPECS = {
    "MMDAligner": Spec(
        _factory(skt.MMDAligner, n_components=2, random_state=0),
        "transform",
        ("mu", -1.0),
        True,
        uses_labels=False,
    ),
    "JointMMDAligner": Spec(
        _factory(skt.JointMMDAligner, n_components=2, n_iter=2, random_state=0),
        "transform",
        ("n_iter", 0),
        True,
    ),
    "CORALAligner": Spec(skt.CORALAligner, "transform", ("reg", -1.0), uses_labels=False),
    "SubspaceAligner": Spec(
        _factory(skt.SubspaceAligner, n_components=2), "transform", ("n_components", 0), uses_labels=False
    ),
    "GFKAligner": Spec(
        _factory(skt.GFKAligner, n_components=2), "transform", ("n_components", -3), uses_labels=False
    ),
    "DomainStandardScaler": Spec(
        skt.DomainStandardScaler, "transform", ("with_std", "yes"), uses_labels=False
    ),
    "MEDAClassifier": Spec(
        _factory(skt.MEDAClassifier, 2, max_iter=2, random_state=0), "predict", ("alpha", 0.0), True
    ),
    "CMMSClassifier": Spec(
        _factory(skt.CMMSClassifier, n_components=2, random_state=0), "predict", ("max_iter", 0), True
    ),
    "KernelMeanMatching": Spec(
        _factory(skt.KernelMeanMatching, LogisticRegression(), random_state=0),
        "predict",
        ("gamma", 0.0),
        True,
    ),
    "DomainClassifierWeighting": Spec(
        _factory(skt.DomainClassifierWeighting, LogisticRegression()), "predict", ("max_weight", -1.0)
    ),
    "LeastSquaresImportanceFitting": Spec(
        _factory(skt.LeastSquaresImportanceFitting, LogisticRegression(), random_state=0),
        "predict",
        ("n_centers", 0),
        True,
    ),
    "TrAdaBoostClassifier": Spec(
        _factory(skt.TrAdaBoostClassifier, LogisticRegression(), n_estimators=3, random_state=0),
        "predict",
        ("n_estimators", 0),
        True,
        needs_labeled_target=True,
    ),
    "LabelShiftClassifier": Spec(
        _factory(skt.LabelShiftClassifier, LogisticRegression()), "predict", ("method", "magic")
    ),
    "TrAdaBoostRegressor": Spec(
        _factory(skt.TrAdaBoostRegressor, Ridge(), n_steps=3, n_estimators=3, random_state=0),
        "predict",
        ("n_estimators", 0),
        True,
        regression=True,
    ),
    "TransferRidge": Spec(skt.TransferRidge, "predict", ("alphas", [-1.0]), regression=True),
    "LabeledOnly": Spec(
        _factory(skt.LabeledOnly, estimator=LogisticRegression()), "predict", ("estimator", 3)
    ),
}


def _plain_lr(X_, y_):
    """The reference of LabeledOnly: scikit-learn's estimator fitted on the labeled rows."""
    X_, y_ = np.asarray(X_), np.asarray(y_)
    return LogisticRegression().fit(X_[y_ != -1], y_[y_ != -1])


pd = pytest.importorskip("pandas")


def pd_frame(a):
    return pd.DataFrame(a, columns=[f"f{i}" for i in range(a.shape[1])])


def pd_series(a):
    return pd.Series(a, name="label")


NAMES = np.array(["cat", "dog"], dtype=object)
NEGATIVE = np.array([-7, -2])  # negative class labels other than the -1 marker


# --------------------------------------------------------------------------- the table


@dataclass
class Error:
    """The call raises ``kind`` with a message matching ``match`` (what is at fault)."""

    kind: type
    match: str


@dataclass
class Result:
    """The call returns; ``check(result)`` compares it with an independent reference."""

    check: Callable[[Any], None]


CASES: list = []


#: Cases whose right outcome differs from the generic one, with the reason.
OVERRIDES: dict = {}


#: Cases that fail for a reason owned elsewhere, kept as strict expected failures.
KNOWN_FAILURES: dict[str, str] = {}


def case(id_: str, call: Callable[[], Any], expect, *marks):
    call, expect = OVERRIDES.get(id_, (call, expect))
    if id_ in KNOWN_FAILURES:
        marks = (*marks, pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[id_]))
    CASES.append(pytest.param(call, expect, id=id_, marks=marks))


def _fitted(name, **params):
    spec = SPECS[name]
    return spec.fit(spec.make(**params))


def _with(values, rows, value):
    out = np.array(values, dtype=float)
    out[rows] = value
    return out


def _same_as(reference: Callable[[], Any]):
    """A check: the result equals ``reference()`` (computed on the plain numpy input)."""

    def check(result):
        expected = reference()
        assert_allclose(
            np.asarray(result, dtype=float), np.asarray(expected, dtype=float), rtol=1e-10, atol=1e-12
        )

    return check


# LabeledOnly is no domain adaptation estimator: it passes the labeled rows to its
# estimator, whatever their values, and has no domains to check.
OVERRIDES.update(
    {
        "LabeledOnly-huge": (
            lambda: skt.LabeledOnly(LogisticRegression()).fit(X * 1e3, Y).predict(XT * 1e3),
            Result(_same_as(lambda: _plain_lr(X * 1e3, Y).predict(XT * 1e3))),
        ),
        "LabeledOnly-empty": (
            lambda: skt.LabeledOnly(LogisticRegression()).fit(np.empty((0, 3)), np.empty(0)),
            Error(ValueError, "LabeledOnly.fit got no labeled rows"),
        ),
        "LabeledOnly-no-target-rows": (
            lambda: skt.LabeledOnly(LogisticRegression()).fit(XS, YS).predict(XT),
            Result(_same_as(lambda: LogisticRegression().fit(XS, YS).predict(XT))),
        ),
        "LabeledOnly-sample-domain-length": (
            lambda: skt.LabeledOnly(LogisticRegression()).fit(X, Y, sample_domain=np.zeros(3)),
            Error(TypeError, "unexpected keyword argument 'sample_domain'"),
        ),
        "LabeledOnly-sample-domain-float": (
            lambda: skt.LabeledOnly(LogisticRegression()).fit(X, Y, sample_domain=np.full(len(Y), 0.5)),
            Error(TypeError, "unexpected keyword argument 'sample_domain'"),
        ),
        "LabeledOnly-sparse": (
            lambda: skt.LabeledOnly(LogisticRegression()).fit(sp.csr_matrix(X), Y).predict(sp.csr_matrix(XT)),
            Result(_same_as(lambda: _plain_lr(X, Y).predict(XT))),
        ),
    }
)

OVERRIDES.update(
    {
        "LabelShiftClassifier-empty": (
            lambda: skt.LabelShiftClassifier(LogisticRegression()).fit(np.empty((0, 3)), np.empty(0)),
            Error(ValueError, r"no source rows \(0 of n_samples=0\)"),
        ),
        "LabelShiftClassifier-sparse": (  # its estimator reads sparse rows: the dense result
            lambda: (
                SPECS["LabelShiftClassifier"]
                .fit(SPECS["LabelShiftClassifier"].make(), sp.csr_matrix(X), Y)
                .predict_proba(sp.csr_matrix(XT))
            ),
            Result(
                _same_as(
                    lambda: (
                        SPECS["LabelShiftClassifier"]
                        .fit(SPECS["LabelShiftClassifier"].make())
                        .predict_proba(XT)
                    )
                )
            ),
        ),
        "TransferRidge-param-alphas": (
            lambda: SPECS["TransferRidge"].fit(skt.TransferRidge(alphas=[-1.0])),
            Error(ValueError, r"alphas must be a non-empty 1-D list of positive floats, got \[-1.0\]"),
        ),
    }
)

for name, spec in SPECS.items():
    Xf, Yf, SDf = spec.data()
    fit_kw = {} if SDf is None else {"sample_domain": SDf}

    def fit_with(X_, y_=None, spec=spec, Yf=Yf, fit_kw=fit_kw, **kw):
        return spec.make().fit(X_, Yf if y_ is None else y_, **{**fit_kw, **kw})

    case(
        f"{name}-nan",
        lambda fit_with=fit_with, Xf=Xf: fit_with(_with(Xf, (3, 1), np.nan)),
        Error(ValueError, "Input X contains NaN"),
    )
    case(
        f"{name}-inf",
        lambda fit_with=fit_with, Xf=Xf: fit_with(_with(Xf, (5, 0), np.inf)),
        Error(ValueError, "Input X contains infinity"),
    )
    case(
        f"{name}-huge",
        lambda fit_with=fit_with, Xf=Xf: fit_with(Xf * 1e300),
        Error(ValueError, "X holds values up to .* in magnitude"),
    )
    case(
        f"{name}-1d",
        lambda fit_with=fit_with, Xf=Xf: fit_with(Xf[:, 0]),
        Error(ValueError, "Expected a 2-dimensional container|Expected 2D array"),
    )
    case(
        f"{name}-3d",
        lambda fit_with=fit_with, Xf=Xf: fit_with(Xf[:, :, None]),
        Error(ValueError, "Found array with dim 3"),
    )
    case(
        f"{name}-empty",
        lambda fit_with=fit_with: fit_with(np.empty((0, 3)), np.empty(0)),
        Error(ValueError, "0 sample"),
    )
    case(
        f"{name}-y-length",
        lambda fit_with=fit_with, Xf=Xf, Yf=Yf: fit_with(Xf, Yf[:-1]),
        Error(ValueError, "inconsistent numbers of samples|length|number of rows"),
    )
    case(
        f"{name}-no-target-rows",
        lambda spec=spec: spec.make().fit(XS, YS),
        Error(ValueError, "target"),
    )
    case(
        f"{name}-no-source-rows",
        lambda spec=spec: spec.make().fit(XT, np.full(N_TARGET, -1)),
        Error(ValueError, "source|label"),
    )
    case(
        f"{name}-sample-domain-length",
        lambda fit_with=fit_with, Xf=Xf: fit_with(Xf, sample_domain=np.zeros(3, dtype=int)),
        Error(ValueError, "sample_domain"),
    )
    case(
        f"{name}-sample-domain-float",
        lambda fit_with=fit_with, Xf=Xf: fit_with(Xf, sample_domain=np.full(Xf.shape[0], 0.5)),
        Error(ValueError, "sample_domain"),
    )
    bad, value = spec.bad_param
    case(
        f"{name}-param-{bad}",
        lambda spec=spec, bad=bad, value=value: spec.fit(spec.make(**{bad: value})),
        Error(ValueError, f"The '{bad}' parameter of"),
    )
    case(
        f"{name}-not-fitted",
        lambda spec=spec: spec.output(spec.make(), XT),
        Error(NotFittedError, "is not fitted yet"),
    )
    case(
        f"{name}-wrong-width",
        lambda name=name, spec=spec: spec.output(_fitted(name), XT[:, :2]),
        Error(ValueError, "X has 2 features, but .* is expecting 3 features"),
    )
    case(
        f"{name}-one-row-output",
        lambda name=name, spec=spec: spec.output(_fitted(name), XT[:1]),
        Result(_same_as(lambda name=name, spec=spec: spec.output(_fitted(name), XT)[:1])),
    )
    case(
        f"{name}-pandas",
        lambda name=name, spec=spec, Xf=Xf, Yf=Yf: spec.output(
            spec.fit(spec.make(), pd_frame(Xf), pd_series(Yf)), pd_frame(XT)
        ),
        Result(_same_as(lambda name=name, spec=spec: spec.output(_fitted(name), XT))),
    )
    case(
        f"{name}-sparse",
        lambda fit_with=fit_with, Xf=Xf: fit_with(sp.csr_matrix(Xf)),
        Error(TypeError, "Sparse data was passed"),
    )

    def _relabeled(labels, name=name, spec=spec, Xf=Xf, Yf=Yf):
        """The output of the fit on ``labels[Yf]`` (target rows kept -1)."""
        y_new = np.where(Yf == -1, -1, labels[np.maximum(Yf, 0)]).astype(
            labels.dtype if labels.dtype.kind != "U" else object
        )
        return spec.output(spec.fit(spec.make(), Xf, y_new), XT)

    def _as_integer_fit(labels, name=name, spec=spec):
        """A check: the output equals the integer-label fit's, its classes renamed to ``labels``."""

        def check(got):
            expected = spec.output(_fitted(name), XT)
            if spec.method == "predict":
                assert_array_equal(np.asarray(got, dtype=object), labels[np.asarray(expected, dtype=int)])
            else:
                assert_allclose(got, expected, rtol=1e-10, atol=1e-12)

        return check

    if not spec.regression:  # class labels
        case(f"{name}-string-labels", lambda f=_relabeled: f(NAMES), Result(_as_integer_fit(NAMES)))
        case(f"{name}-negative-labels", lambda f=_relabeled: f(NEGATIVE), Result(_as_integer_fit(NEGATIVE)))
        if spec.uses_labels:
            case(
                f"{name}-one-class",
                lambda fit_with=fit_with, Xf=Xf, Yf=Yf: fit_with(Xf, np.where(Yf == -1, -1, 0)),
                Error(ValueError, "class"),
            )
        else:
            case(
                f"{name}-one-class",
                lambda fit_with=fit_with, Xf=Xf, Yf=Yf, spec=spec: spec.output(
                    fit_with(Xf, np.where(Yf == -1, -1, 0)), XT
                ),
                Result(_same_as(lambda name=name, spec=spec: spec.output(_fitted(name), XT))),
            )


# --------------------------------------------------------------- functions and helpers

mmd = metrics.maximum_mean_discrepancy


def _linear_mmd_reference(A, B):
    """The biased linear-kernel MMD^2: the squared distance between the means."""
    return float(np.sum((np.mean(A, axis=0) - np.mean(B, axis=0)) ** 2))


case("mmd-huge", lambda: mmd(XS * 1e300, XT * 1e300), Error(ValueError, "X_source holds values up to"))
case("mmd-huge-target", lambda: mmd(XS, XT * 1e300), Error(ValueError, "X_target holds values up to"))
case(
    "mmd-widths", lambda: mmd(XS, XT[:, :2]), Error(ValueError, "X_source has 3 features but X_target has 2")
)
case("mmd-nan", lambda: mmd(_with(XS, (0, 0), np.nan), XT), Error(ValueError, "X_source contains NaN"))
case("mmd-inf", lambda: mmd(XS, _with(XT, (0, 0), -np.inf)), Error(ValueError, "X_target contains infinity"))
case("mmd-gamma-zero", lambda: mmd(XS, XT, gamma=0.0), Error(ValueError, "The 'gamma' parameter"))
case("mmd-gamma-negative", lambda: mmd(XS, XT, gamma=-1.0), Error(ValueError, "The 'gamma' parameter"))
case("mmd-estimate", lambda: mmd(XS, XT, estimate="exact"), Error(ValueError, "The 'estimate' parameter"))
case(
    "mmd-unbiased-one-row", lambda: mmd(XS[:1], XT, estimate="unbiased"), Error(ValueError, "at least 2 rows")
)
case("mmd-linear-one-row", lambda: mmd(XS, XT[:1], estimate="linear"), Error(ValueError, "at least 2 rows"))
case("mmd-empty", lambda: mmd(np.empty((0, 3)), XT), Error(ValueError, "0 sample"))
case("mmd-1d", lambda: mmd(XS[:, 0], XT[:, 0]), Error(ValueError, "Expected 2D array"))
case(
    "mmd-one-row-biased",
    lambda: mmd(XS[:1], XT, kernel="linear"),
    Result(lambda v: np.testing.assert_allclose(v, _linear_mmd_reference(XS[:1], XT))),
)
case(
    "mmd-large-finite",
    lambda: mmd(XS * 1e100, XT * 1e100, kernel="linear"),
    Result(lambda v: np.testing.assert_allclose(v, _linear_mmd_reference(XS, XT) * 1e200, rtol=1e-9)),
)
case(
    "mmd-pandas",
    lambda: mmd(pd_frame(XS), pd_frame(XT), kernel="linear"),
    Result(lambda v: np.testing.assert_allclose(v, _linear_mmd_reference(XS, XT))),
)
case(
    "mmd-sparse",
    lambda: mmd(sp.csr_matrix(XS), XT),
    Error(TypeError, "The 'X_source' parameter of maximum_mean_discrepancy must be an array-like"),
)
case(
    "median-gamma-identical",
    lambda: metrics.median_heuristic_gamma(np.ones((3, 2)), np.ones((2, 2))),
    Error(ValueError, "gamma='median' needs distinct rows"),
)
case(
    "median-gamma-huge",
    lambda: metrics.median_heuristic_gamma(XS * 1e300, XT),
    Error(ValueError, "X_source holds"),
)
case(
    "permutation-test-n",
    lambda: metrics.mmd_permutation_test(XS, XT, n_permutations=0),
    Error(ValueError, "The 'n_permutations' parameter"),
)
case(
    "permutation-test-huge",
    lambda: metrics.mmd_permutation_test(XS, XT * 1e300, n_permutations=5),
    Error(ValueError, "X_target holds values"),
)
case(
    "transfer-report-no-target-labels",
    lambda: metrics.transfer_report(skt.make_da_pipeline(LogisticRegression()).fit(X, Y), X, Y),
    Error(ValueError, "transfer_report scores the labeled target rows and found none"),
)
case(
    "transfer-report-not-fitted",
    lambda: metrics.transfer_report(skt.make_da_pipeline(LogisticRegression()), X, Y),
    Error(NotFittedError, "not fitted"),
)
case(
    "stack-domains-widths",
    lambda: skt.stack_domains(XS, YS, XT[:, :2]),
    Error(ValueError, r"X_source rows have shape \(3,\) but X_target rows have shape \(2,\)"),
)
case(
    "stack-domains-dims",
    lambda: skt.stack_domains(XS, YS, XT[:, :, None]),
    Error(ValueError, r"X_source rows have shape \(3,\) but X_target rows have shape \(3, 1\)"),
)
case(
    "stack-domains-unlabeled-source",
    lambda: skt.stack_domains(XS, -np.ones(N_SOURCE, dtype=int), XT),
    Error(ValueError, "y_source contains -1"),
)
case(
    "stack-domains-y-length",
    lambda: skt.stack_domains(XS, YS[:-1], XT),
    Error(ValueError, "inconsistent numbers of samples"),
)
case(
    "stack-domains-labeled-target",
    lambda: skt.stack_domains(XS, YS, XT, YT),
    Error(ValueError, "return_sample_domain=True"),
)
case(
    "stack-domains-unlabeled-regression-source",
    lambda: skt.stack_domains(XS, _with(YS, 4, np.nan), XT),
    Error(ValueError, "y_source contains -1 \\(or NaN\\)"),
)
case(
    "stack-domains-strings",
    lambda: skt.stack_domains(XS, NAMES[YS], XT)[1],
    Result(lambda y: assert_array_equal(y, np.r_[NAMES[YS], np.full(N_TARGET, -1, dtype=object)])),
)
case(
    "stack-domains-float-labels",
    lambda: skt.stack_domains(XS, YS + 0.5, XT)[1],
    Result(lambda y: assert_array_equal(y, np.r_[YS + 0.5, np.full(N_TARGET, np.nan)])),  # NaN: unlabeled
)
case(
    "stack-domains-lists",
    lambda: skt.stack_domains(["a.png", "b.png"], [0, 1], ["c.png"])[0],
    Result(lambda X_: assert_array_equal(X_, ["a.png", "b.png", "c.png"])),
)
case(
    "make-da-pipeline-unlabeled-rows",
    lambda: skt.make_da_pipeline(LogisticRegression()).fit(X, Y).predict(XT),
    Result(_same_as(lambda: LogisticRegression().fit(XS, YS).predict(XT))),
)
case(
    "make-da-pipeline-no-step",
    lambda: skt.make_da_pipeline(),
    Error((TypeError, ValueError, IndexError), "step|estimator"),
)
case(
    "kmm-qp-negative-eps",
    lambda: skt.kmm_qp(np.eye(3), np.ones(3), eps=-0.1),
    Error(ValueError, "The 'eps' parameter"),
)
case(
    "kmm-qp-shapes",
    lambda: skt.kmm_qp(np.ones((3, 2)), np.ones(3), eps=0.1),
    Error(ValueError, r"K must be a square \(n, n\) matrix .* got K of shape \(3, 2\)"),
)
case(
    "kmm-qp-kappa-length",
    lambda: skt.kmm_qp(np.eye(3), np.ones(2), eps=0.1),
    Error(ValueError, r"kappa of shape \(2,\)"),
)
case(
    "kmm-qp-unbounded-weights",
    lambda: skt.kmm_qp(np.eye(3), np.array([2.0, 1.0, 0.0]), B=10.0, eps=0.5),
    Result(lambda b: assert_allclose(b, [2.0, 1.0, 0.0], atol=1e-6)),  # argmin of 1/2 |b|^2 - kappa.b
)
case(
    "kernel-mean-matching-no-sample-weight",
    lambda: skt.KernelMeanMatching(KNeighborsClassifier()).fit(X, Y),
    Error(ValueError, "estimator=KNeighborsClassifier does not accept sample_weight"),
)
case(
    "tradaboost-no-sample-weight",
    lambda: skt.TrAdaBoostClassifier(KNeighborsClassifier()).fit(X4, Y4, sample_domain=SD4),
    Error(ValueError, "estimator=KNeighborsClassifier does not accept sample_weight"),
)
case(
    "mmd-aligner-rbf-gamma-zero",
    lambda: skt.MMDAligner(kernel="rbf", gamma=0.0).fit(X, Y),
    Error(ValueError, "The 'gamma' parameter of MMDAligner"),
)
case(
    "coral-huge",
    lambda: skt.CORALAligner().fit(X * 1e300, Y),
    Error(ValueError, "X holds values up to"),
)
case(
    "mmd-aligner-huge-transform",
    lambda: SPECS["MMDAligner"].fit(SPECS["MMDAligner"].make()).transform(XT * 1e300),
    Error(ValueError, "X holds values up to"),
)

# --------------------------------------------------------------- splitters and scorers

SD = np.r_[np.zeros(N_SOURCE, int), -np.ones(N_TARGET, int)]
case(
    "domain-aware-split-y-length",
    lambda: list(model_selection.DomainAwareSplit(KFold(3)).split(X, Y[:-1])),
    Error(ValueError, "inconsistent numbers of samples|y"),
)
case(
    "domain-aware-split-rows",
    lambda: [len(test) for _, test in model_selection.DomainAwareSplit(KFold(3)).split(X, Y)],
    Result(lambda sizes: assert_array_equal(sizes, [8, 8, 8])),  # the 24 labeled rows, in 3 folds
)
case(
    "domain-aware-split-bad-cv",
    lambda: list(model_selection.DomainAwareSplit("three").split(X, Y)),
    Error((ValueError, TypeError), "cv"),
)
case(
    "leave-one-domain-out-no-domains",
    lambda: list(model_selection.LeaveOneDomainOut().split(X, Y)),
    Error(ValueError, "sample_domain"),
)
case(
    "leave-one-domain-out-sample-domain-length",
    lambda: list(model_selection.LeaveOneDomainOut().split(X, Y, sample_domain=SD[:-1])),
    Error(ValueError, "sample_domain"),
)
case(
    "bootstrap-split-n-splits",
    lambda: list(model_selection.BootstrapSplit(n_splits=0).split(X, Y)),
    Error(ValueError, "n_splits"),
)
case(
    "bootstrap-632-n-splits",
    lambda: model_selection.bootstrap_632_score(LogisticRegression(), XS, YS, n_splits=0),
    Error(ValueError, "The 'n_splits' parameter"),
)
case(
    "bootstrap-ci-confidence",
    lambda: model_selection.bootstrap_confidence_interval(
        lambda a, b: np.mean(a == b), YS, YS, confidence_level=1.5
    ),
    Error(ValueError, "The 'confidence_level' parameter"),
)
case(
    "bootstrap-ci-perfect",
    lambda: model_selection.bootstrap_confidence_interval(
        lambda a, b: np.mean(a == b), YS, YS, random_state=0
    ),
    Result(lambda ci: assert_allclose(np.ravel(ci)[-2:], [1.0, 1.0])),
)
_pipe = skt.make_da_pipeline(LogisticRegression()).fit(X, Y)
case(
    "entropy-scorer-no-target",
    lambda: model_selection.PredictionEntropyScorer()(_pipe, XS, YS),
    Error(ValueError, "target"),
)
case(
    "entropy-scorer-unlabeled-rows",
    lambda: model_selection.PredictionEntropyScorer()(_pipe, X, Y),
    Result(  # -mean entropy of the target rows' probabilities, by hand
        lambda v: assert_allclose(
            v, np.mean(np.sum(_pipe.predict_proba(XT) * np.log(_pipe.predict_proba(XT)), axis=1))
        )
    ),
)
case(
    "importance-scorer-no-source",
    lambda: model_selection.ImportanceWeightedScorer()(_pipe, XT, np.full(N_TARGET, -1)),
    Error(ValueError, "source"),
)
case(
    "dev-scorer-no-source",
    lambda: model_selection.DeepEmbeddedValidationScorer()(_pipe, XT, np.full(N_TARGET, -1)),
    Error(ValueError, "source"),
)
case(
    "circular-scorer-no-target",
    lambda: model_selection.CircularValidationScorer()(_pipe, XS, YS),
    Error(ValueError, "target"),
)
case(
    "information-scorer-no-target",
    lambda: model_selection.InformationMaximizationScorer()(_pipe, XS, YS),
    Error(ValueError, "target"),
)
case(
    "information-scorer-one-class",  # every target row predicted alike: no information
    lambda: model_selection.InformationMaximizationScorer()(
        skt.make_da_pipeline(DummyClassifier(strategy="constant", constant=1)).fit(X, Y), X, Y
    ),
    Result(lambda v: assert_allclose(v, 0.0, atol=1e-9)),
)
case(
    "density-scorer-temperature",
    lambda: model_selection.SoftNeighborhoodDensityScorer(temperature=-1.0)(_pipe, X, Y),
    Error(ValueError, "temperature"),
)
case(
    "density-scorer-max-rows",
    lambda: model_selection.SoftNeighborhoodDensityScorer(max_rows=1)(_pipe, X, Y),
    Error(ValueError, "max_rows"),
)
case(
    "density-scorer-one-target-row",
    lambda: model_selection.SoftNeighborhoodDensityScorer()(_pipe, X[: N_SOURCE + 1], Y[: N_SOURCE + 1]),
    Error(ValueError, "at least 2 target rows"),
)

# ------------------------------------------------- unlabeled rows, weights, priors, scale

# the text "-1": numpy turns the -1 marker into a string beside string labels
TEXT_MARKER_Y = np.r_[np.array(["cat", "dog"])[YS], np.full(N_TARGET, -1)]
for name, spec in SPECS.items():
    if spec.regression:
        continue
    Xf, _, SDf = spec.data()
    case(
        f"{name}-text-minus-one",
        lambda spec=spec, Xf=Xf: spec.make().fit(X, TEXT_MARKER_Y),
        Error(ValueError, r"y holds the text '-1' at rows \[24, 25, 26, 27, 28\] \.\.\.: numpy turns"),
    )
    if name not in ("LabeledOnly", "TrAdaBoostClassifier"):  # their output is the estimator's
        case(
            f"{name}-output-empty-list",
            lambda name=name, spec=spec: spec.output(_fitted(name), []),
            Error(ValueError, rf"{name} got an empty X \(0 rows\): pass at least one row of 3 features"),
        )

_accuracy = model_selection.get_labeled_scorer("accuracy")
_NAMED_Y = np.where(Y == -1, -1, NAMES[np.maximum(Y, 0)])  # object array: -1 stays the marker
_split = KFold(3, shuffle=True, random_state=0)


def _labeled_accuracy_by_hand():
    scores = []
    for train, test in _split.split(X, Y):
        model = skt.make_da_pipeline(LogisticRegression()).fit(X[train], Y[train])
        kept = test[Y[test] != -1]
        scores.append(np.mean(model.predict(X[kept]) == Y[kept]))
    return scores


case(
    "labeled-scorer-cross-val-score",
    lambda: cross_val_score(skt.make_da_pipeline(LogisticRegression()), X, Y, cv=_split, scoring=_accuracy),
    Result(_same_as(_labeled_accuracy_by_hand)),
)
case(
    "labeled-scorer-string-labels",
    lambda: _accuracy(skt.make_da_pipeline(LogisticRegression()).fit(X, _NAMED_Y), X, _NAMED_Y),
    Result(lambda v: assert_allclose(v, _pipe.score(XS, YS))),
)
case(
    "labeled-scorer-no-labeled-rows",
    lambda: _accuracy(_pipe, XT, np.full(N_TARGET, -1)),
    Error(ValueError, "The labeled scorer got no labeled rows"),
)
case(
    "labeled-scorer-unknown-name",
    lambda: model_selection.get_labeled_scorer("acuracy"),
    Error(ValueError, "'acuracy' is not a valid scoring value"),
)


def _weights(name):
    est = _fitted(name)
    return est.weights_[:N_SOURCE], est.effective_sample_size_


for name in ("DomainClassifierWeighting", "KernelMeanMatching", "LeastSquaresImportanceFitting"):
    case(
        f"{name}-weights-mean-one-and-ess",
        lambda name=name: _weights(name),
        Result(
            lambda got: (
                assert_allclose(got[0].mean(), 1.0, rtol=1e-12),
                assert_allclose(got[1], got[0].sum() ** 2 / np.sum(got[0] ** 2), rtol=1e-12),
            )
        ),
    )


def _warned(call):
    """``call()`` and the messages of the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    return result, [str(w.message) for w in caught]


case(
    "KernelMeanMatching-concentrated-weights-warn",
    lambda: _warned(
        lambda: skt.KernelMeanMatching(LogisticRegression(), gamma=50.0).fit(
            *skt.stack_domains(XS, YS, XS[:2] + 0.01)
        )
    )[1],
    Result(lambda messages: assert_allclose(sum("effective sample size" in m for m in messages), 1)),
)
case(
    "LabelShiftClassifier-one-target-row",
    lambda: _warned(
        lambda: skt.LabelShiftClassifier(LogisticRegression()).fit(*skt.stack_domains(XS, YS, XT[:1]))
    ),
    Result(
        lambda got: (
            # one row, two pseudo-rows at the source priors [1/2, 1/2]: no prior below 1/3
            assert_array_equal(got[0].target_priors_ >= 1 / 3 - 1e-12, True),
            assert_array_equal(np.unique(got[0].predict(XT)), [0, 1]),
            assert_allclose(sum("got 1 target row(s) for 2 classes" in m for m in got[1]), 1),
        )
    ),
)
case(
    "LabelShiftClassifier-prior-strength-negative",
    lambda: skt.LabelShiftClassifier(LogisticRegression(), prior_strength=-1).fit(X, Y),
    Error(ValueError, "The 'prior_strength' parameter of LabelShiftClassifier"),
)
for name, make in [
    ("MMDAligner-linear", lambda: skt.MMDAligner(n_components=2, kernel="linear")),
    ("JointMMDAligner", lambda: skt.JointMMDAligner(n_components=2, n_iter=2)),
    ("MEDAClassifier", lambda: skt.MEDAClassifier(2, max_iter=2, random_state=0)),
]:
    case(
        f"{name}-1e76",
        lambda make=make: make().fit(X * 1e76, Y),
        Error(ValueError, r"X holds values up to .* the sums of their products of 4 overflow float64"),
    )
case(
    "MMDAligner-linear-1e70",  # below its limit: the embedding has every column
    lambda: skt.MMDAligner(n_components=2, kernel="linear").fit(X * 1e70, Y).transform(XT * 1e70),
    Result(lambda Z: (assert_array_equal(Z.shape, (N_TARGET, 2)), assert_array_equal(np.isfinite(Z), True))),
)
case(
    "MMDAligner-rbf-1e76",  # a bounded kernel keeps the general limit
    lambda: skt.MMDAligner(n_components=2, kernel="rbf").fit(X * 1e76, Y).transform(XT * 1e76).shape,
    Result(lambda shape: assert_array_equal(shape, (N_TARGET, 2))),
)

# --------------------------------------------------------------------------- datasets

case(
    "office-caltech10-domain",
    lambda: datasets.fetch_office_caltech10("sketch"),
    Error(ValueError, "domain"),
)
case(
    "digits-shift-fraction",
    lambda: datasets.make_digits_shift(target_fraction=1.5),
    Error(ValueError, "target_fraction"),
)


# ------------------------------------------------------------- image folders and files

HAS_TF = importlib.util.find_spec("tensorflow") is not None and importlib.util.find_spec("keras") is not None
needs_tf = pytest.mark.skipif(not HAS_TF, reason="needs TensorFlow (the extra 'keras')")
FILES = pathlib.Path(tempfile.mkdtemp(prefix="skltransfer-bad-input-"))
atexit.register(shutil.rmtree, FILES, ignore_errors=True)


def _write_images():
    """8x8 PNG images: two classes under ``labeled/``, loose copies under ``loose/``, and bad files."""
    from PIL import Image

    rng = np.random.default_rng(1)
    for label in ("cat", "dog"):
        (FILES / "labeled" / label).mkdir(parents=True)
        for i in range(3):
            pixels = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(FILES / "labeled" / label / f"{i}.png")
    (FILES / "loose").mkdir()
    for path in sorted((FILES / "labeled").rglob("*.png")):
        (FILES / "loose" / f"{path.parent.name}{path.name}").write_bytes(path.read_bytes())
    (FILES / "one_class" / "cat").mkdir(parents=True)
    for path in sorted((FILES / "labeled" / "cat").glob("*.png")):
        (FILES / "one_class" / "cat" / path.name).write_bytes(path.read_bytes())
    (FILES / "empty").mkdir()
    (FILES / "no_images" / "cat").mkdir(parents=True)
    (FILES / "no_images" / "cat" / "notes.txt").write_text("not an image")
    (FILES / "corrupt" / "cat").mkdir(parents=True)
    (FILES / "corrupt" / "cat" / "broken.png").write_text("not a PNG file")
    (FILES / "not_a_model.joblib").write_text("plain text")
    (FILES / "not_an_archive.keras").write_text("plain text")
    (FILES / "not_a_folder.txt").write_text("plain text")
    import joblib

    joblib.dump(LogisticRegression().fit(XS, YS), FILES / "plain.joblib")


_write_images()
IMAGES = sorted(str(p) for p in (FILES / "loose").glob("*.png"))


def _pixels(paths):
    from PIL import Image

    return np.stack([np.asarray(Image.open(p).convert("RGB")) for p in paths]).astype(np.float32)


for folder, match in [
    ("missing", "Not a folder: .*missing"),
    ("not_a_folder.txt", "Not a folder: .*not_a_folder.txt"),
    ("empty", "empty"),
    ("loose", "loose"),
    ("no_images", "no_images"),
]:
    case(
        f"load-image-folder-{folder}",
        lambda folder=folder: datasets.load_image_folder(FILES / folder),
        Error(ValueError, match),
    )
case(
    "load-image-folder-labels",
    lambda: datasets.load_image_folder(FILES / "labeled"),
    Result(
        lambda out: (
            assert_array_equal(out[1], ["cat"] * 3 + ["dog"] * 3),
            assert_array_equal([pathlib.Path(p).name for p in out[0]], ["0.png", "1.png", "2.png"] * 2),
        )
    ),
)


class CommandFailed(Exception):
    """``python -m skltransfer`` exited non-zero; the message is what it printed on stderr."""


def _cli(*argv):
    from skltransfer.__main__ import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as e:  # argparse's usage errors
            code = e.code
    if code != 0:
        raise CommandFailed(f"exit {code}: {err.getvalue()}")
    return code


def _tiny_backbone():
    """A tiny functional CNN taking 8x8 RGB images, saved as a .keras file."""
    path = FILES / "tiny.keras"
    if not path.exists():
        import keras

        inputs = keras.Input((8, 8, 3))
        x = keras.layers.Conv2D(4, 3, kernel_initializer=keras.initializers.GlorotUniform(0))(inputs)
        keras.Model(inputs, x).save(path)
    return str(path)


OUT = FILES / "out"
OUT.mkdir()
case(
    "cli-unknown-command",
    lambda: _cli("train"),
    Error(CommandFailed, "(?s)exit 2: .*invalid choice: 'train'"),
)
case(
    "cli-demo-random-state",
    lambda: _cli("demo", "--random-state", "x"),
    Error(CommandFailed, "invalid int value: 'x'"),
)
case(
    "cli-extract-batch-size",
    lambda: _cli("extract", FILES / "loose", "--batch-size", 0, "-o", OUT / "f.npz"),
    Error(CommandFailed, "(?s)exit 2: .*--batch-size: must be at least 1, got 0"),
)
case(
    "cli-extract-missing-folder",
    lambda: _cli("extract", FILES / "missing", "--model", _tiny_backbone(), "-o", OUT / "f.npz"),
    Error(CommandFailed, "not a folder: .*missing"),
    needs_tf,
)
case(
    "cli-extract-empty-folder",
    lambda: _cli("extract", FILES / "empty", "--model", _tiny_backbone(), "-o", OUT / "f.npz"),
    Error(CommandFailed, "no images in .*empty"),
    needs_tf,
)
case(
    "cli-extract-output-folder-missing",
    lambda: _cli("extract", FILES / "loose", "--model", _tiny_backbone(), "-o", OUT / "missing" / "f.npz"),
    Error(CommandFailed, "the folder of the output does not exist: .*missing"),
    needs_tf,
)
case(
    "cli-extract-output-is-folder",
    lambda: _cli("extract", FILES / "loose", "--model", _tiny_backbone(), "-o", OUT),
    Error(CommandFailed, "the output is a folder"),
    needs_tf,
)
case(
    "cli-extract-corrupt-image",
    lambda: _cli("extract", FILES / "corrupt", "--model", _tiny_backbone(), "-q", "-o", OUT / "c.npz"),
    Error(CommandFailed, "broken.png"),
    needs_tf,
)
case(
    "cli-extract-unknown-model",
    lambda: _cli(
        "extract", FILES / "loose", "--model", "nosuchnet", "--weights", "none", "-o", OUT / "f.npz"
    ),
    Error(CommandFailed, "nosuchnet"),
    needs_tf,
)
case(
    "cli-extract-features",
    lambda: (
        _cli(
            "extract",
            FILES / "labeled",
            "--model",
            _tiny_backbone(),
            "--batch-size",
            4,
            "-q",
            "-o",
            OUT / "x.npz",
        ),
        np.load(OUT / "x.npz"),
    )[1],
    Result(
        lambda saved: assert_allclose(
            saved["features"],
            skt.PretrainedFeatureExtractor(_tiny_backbone())
            .fit(_pixels(saved["paths"]))
            .transform(_pixels(saved["paths"])),
            rtol=1e-5,
            atol=1e-6,
        )
    ),
    needs_tf,
)
case(
    "cli-finetune-loose-images",
    lambda: _cli("finetune", FILES / "loose", "--model", _tiny_backbone(), "-o", OUT / "m.joblib"),
    Error(CommandFailed, "must hold one subfolder of images per class"),
    needs_tf,
)
case(
    "cli-finetune-one-class",
    lambda: _cli(
        "finetune",
        FILES / "one_class",
        "--model",
        _tiny_backbone(),
        "--epochs",
        1,
        "--fine-tune-epochs",
        0,
        "-q",
        "-o",
        OUT / "m.joblib",
    ),
    Error(CommandFailed, "at least 2 classes"),
    needs_tf,
)
case(
    "cli-finetune-weight-without-target",
    lambda: _cli("finetune", FILES / "labeled", "--domain-loss-weight", 0.5, "-o", OUT / "m.joblib"),
    Error(CommandFailed, "--domain-loss-weight needs --target-dir"),
    needs_tf,
)
case(
    "cli-finetune-epochs",
    lambda: _cli("finetune", FILES / "labeled", "--epochs", -1, "-o", OUT / "m.joblib"),
    Error(CommandFailed, "(?s)exit 2: .*--epochs: must be at least 0, got -1"),
)
for model, match in [
    ("missing.joblib", "no model file at .*missing.joblib"),
    ("not_a_model.joblib", "cannot load .*not_a_model.joblib.* as a joblib model file"),
    ("plain.joblib", "plain.joblib. is not a skltransfer image model: .*found LogisticRegression"),
    ("not_an_archive.keras", "cannot read .*not_an_archive.keras.* as a .keras archive"),
]:
    case(
        f"cli-predict-model-{model}",
        lambda model=model: _cli("predict", FILES / model, FILES / "loose", "-o", OUT / "p.csv"),
        Error(CommandFailed, match),
    )
case(
    "cli-predict-keras-without-classes",
    lambda: _cli("predict", _tiny_backbone(), FILES / "loose", "-o", OUT / "p.csv"),
    Error(CommandFailed, "tiny.keras.* holds no class names"),
    needs_tf,
)
case(
    "cli-predict-output-folder-missing",
    lambda: _cli("predict", FILES / "plain.joblib", FILES / "loose", "-o", OUT / "missing" / "p.csv"),
    Error(CommandFailed, "the folder of the output does not exist"),
)
case(
    "cli-evaluate-missing-folder",
    lambda: _cli("evaluate", FILES / "plain.joblib", FILES / "missing"),
    Error(CommandFailed, "not a folder: .*missing"),
)
case(
    "cli-evaluate-missing-model",
    lambda: _cli("evaluate", FILES / "missing.keras", FILES / "labeled"),
    Error(CommandFailed, "no model file at .*missing.keras"),
)

# ------------------------------------------------------------------ Keras estimators


def _extractor():
    return skt.PretrainedFeatureExtractor(_tiny_backbone(), batch_size=4, random_state=0)  # saved weights


def _finetuned(**params):
    import keras

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, kernel_initializer=keras.initializers.GlorotUniform(0))(inputs)
    defaults = dict(weights=None, epochs=1, fine_tune_epochs=0, batch_size=4, random_state=0)
    return skt.FineTunedCNNClassifier(keras.Model(inputs, x), **{**defaults, **params})


IMAGE_ARRAY = _pixels(IMAGES) if IMAGES else None
IMAGE_LABELS = np.array([pathlib.Path(p).name[:3] for p in IMAGES])
IMAGE_TARGETS = np.linspace(-1.0, 2.0, len(IMAGES))
case(
    "extractor-missing-file",
    lambda: _extractor().fit(IMAGES).transform([str(FILES / "missing.png")]),
    Error(ValueError, r"1 image file\(s\) not found, e.g. .*missing.png"),
    needs_tf,
)
case(
    "extractor-not-an-image",
    lambda: _extractor().fit(IMAGES).transform([str(FILES / "not_a_folder.txt")]),
    Error(ValueError, "not_a_folder.txt"),
    needs_tf,
)
case(
    "extractor-corrupt-image",
    lambda: _extractor().fit(IMAGES).transform([str(FILES / "corrupt" / "cat" / "broken.png")]),
    Error(ValueError, "broken.png"),
    needs_tf,
)
case(
    "extractor-nan-pixels",
    lambda: _extractor().fit(_with(IMAGE_ARRAY, (0, 0, 0, 0), np.nan)),
    Error(ValueError, "NaN"),
    needs_tf,
)
case(
    "extractor-inf-pixels",
    lambda: _extractor().fit(IMAGE_ARRAY).transform(_with(IMAGE_ARRAY, (1, 2, 2, 0), np.inf)),
    Error(ValueError, "infinity|inf"),
    needs_tf,
)
case(
    "extractor-flat-rows-without-shape",
    lambda: _extractor().fit(IMAGE_ARRAY.reshape(len(IMAGES), -1)),
    Error(ValueError, "image_shape"),
    needs_tf,
)
case(
    "extractor-5d",
    lambda: _extractor().fit(IMAGE_ARRAY[:, None]),
    Error(ValueError, "2-D, 3-D or 4-D array or a list of paths; got 5-D input"),
    needs_tf,
)
case(
    "extractor-not-fitted",
    lambda: _extractor().transform(IMAGE_ARRAY),
    Error(NotFittedError, "not fitted"),
    needs_tf,
)
case(
    "extractor-paths-as-arrays",
    lambda: _extractor().fit(IMAGES).transform(IMAGES),
    Result(_same_as(lambda: _extractor().fit(IMAGE_ARRAY).transform(IMAGE_ARRAY))),
    needs_tf,
)
case(
    "extractor-batch-size",
    lambda: skt.PretrainedFeatureExtractor(_tiny_backbone(), batch_size=0).fit(IMAGE_ARRAY),
    Error(ValueError, "The 'batch_size' parameter"),
    needs_tf,
)
case(
    "finetuned-one-class",
    lambda: _finetuned().fit(IMAGE_ARRAY, np.zeros(len(IMAGES), dtype=int)),
    Error(ValueError, "at least 2 classes"),
    needs_tf,
)
case(
    "finetuned-not-fitted",
    lambda: _finetuned().predict(IMAGE_ARRAY),
    Error(NotFittedError, "not fitted"),
    needs_tf,
)
case(
    "finetuned-y-length",
    lambda: _finetuned().fit(IMAGE_ARRAY, IMAGE_LABELS[:-1]),
    Error(ValueError, "inconsistent numbers of samples|length"),
    needs_tf,
)
case(
    "finetuned-string-labels",
    lambda: _finetuned().fit(IMAGE_ARRAY, IMAGE_LABELS).predict(IMAGE_ARRAY),
    Result(lambda pred: assert_array_equal(np.unique(np.r_[pred, IMAGE_LABELS]), ["cat", "dog"])),
    needs_tf,
    pytest.mark.slow,
)
case(
    "finetuned-sequential-backbone",
    lambda: _sequential_finetuned().fit(IMAGE_ARRAY, IMAGE_LABELS).predict(IMAGE_ARRAY),
    Result(lambda pred: assert_array_equal(np.unique(np.r_[pred, IMAGE_LABELS]), ["cat", "dog"])),
    needs_tf,
)

case(
    "finetuned-regressor-not-fitted",
    lambda: _finetuned_regressor().predict(IMAGE_ARRAY),
    Error(NotFittedError, "not fitted"),
    needs_tf,
)
case(
    "finetuned-regressor-y-length",
    lambda: _finetuned_regressor().fit(IMAGE_ARRAY, IMAGE_TARGETS[:-1]),
    Error(ValueError, "inconsistent numbers of samples"),
    needs_tf,
)
case(
    "finetuned-regressor-all-nan-targets-without-domain-loss",
    lambda: _finetuned_regressor().fit(IMAGE_ARRAY, np.full(len(IMAGE_TARGETS), np.nan)),
    Error(ValueError, r"every row of y is unlabeled \(NaN"),
    needs_tf,
)
case(
    "finetuned-regressor-inf-target",
    lambda: _finetuned_regressor().fit(IMAGE_ARRAY, _with(IMAGE_TARGETS, (0,), np.inf)),
    Error(ValueError, "Input y contains infinity"),
    needs_tf,
)
case(
    "finetuned-regressor-one-target-row",
    lambda: _finetuned_regressor(domain_loss="coral").fit(IMAGE_ARRAY, _with(IMAGE_TARGETS, (0,), np.nan)),
    Error(ValueError, r"needs at least 2 target rows \(NaN in y"),
    needs_tf,
)
case(
    "finetuned-regressor-minus-one-is-a-target",
    lambda: _finetuned_regressor().fit(IMAGE_ARRAY, -np.ones(len(IMAGES))).predict(IMAGE_ARRAY),
    Result(lambda pred: assert_allclose(pred, -1.0, atol=1e-5)),
    needs_tf,
)


def _finetuned_regressor(**params):
    import keras

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, kernel_initializer=keras.initializers.GlorotUniform(0))(inputs)
    defaults = dict(weights=None, fine_tune_epochs=0, batch_size=4, random_state=0)
    return skt.FineTunedCNNRegressor(keras.Model(inputs, x), **{**defaults, **params})


def _sequential_finetuned():
    import keras

    backbone = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3, kernel_initializer=keras.initializers.GlorotUniform(0)),
        ]
    )
    return skt.FineTunedCNNClassifier(backbone, weights=None, epochs=1, fine_tune_epochs=0, batch_size=4)


def _outcome(call, expect):
    if isinstance(expect, Error):
        with pytest.raises(expect.kind, match=expect.match):
            call()
    else:
        expect.check(call())


@pytest.mark.parametrize(("call", "expect"), CASES)
def test_bad_input(call, expect):
    _outcome(call, expect)


def test_matrix_totals():
    """At least 150 cases; each is either a clear error or a checked result."""
    errors = sum(isinstance(p.values[1], Error) for p in CASES)
    results = sum(isinstance(p.values[1], Result) for p in CASES)
    assert errors + results == len(CASES) >= 150
    assert len({p.id for p in CASES}) == len(CASES)


# ---------------------------------------------------------------------- side effects

ESTIMATORS = {name: (spec.make, spec.fit, spec.output) for name, spec in SPECS.items()}
ESTIMATORS["PretrainedFeatureExtractor"] = (
    lambda **k: _extractor(),
    lambda est, *a, **k: est.fit(IMAGE_ARRAY),
    lambda est, X_: est.transform(IMAGE_ARRAY),
)
ESTIMATORS["FineTunedCNNClassifier"] = (
    lambda **k: _finetuned(),
    lambda est, *a, **k: est.fit(IMAGE_ARRAY, IMAGE_LABELS),
    lambda est, X_: est.predict_proba(IMAGE_ARRAY),
)
ESTIMATORS["FineTunedCNNRegressor"] = (
    lambda **k: _finetuned_regressor(),
    lambda est, *a, **k: est.fit(IMAGE_ARRAY, IMAGE_TARGETS),
    lambda est, X_: est.predict(IMAGE_ARRAY),
)
KERAS_NAMES = ("PretrainedFeatureExtractor", "FineTunedCNNClassifier", "FineTunedCNNRegressor")
ESTIMATOR_PARAMS = [
    pytest.param(name, id=name, marks=[needs_tf, pytest.mark.slow] if name in KERAS_NAMES else [])
    for name in ESTIMATORS
]


def _global_state():
    state = {
        "sklearn_config": sklearn.get_config(),
        "numpy_random_state": [np.asarray(v).tolist() for v in np.random.get_state()],  # noqa: NPY002
        "environ": dict(os.environ),
    }
    if "keras" in sys.modules:
        state["keras_dtype_policy"] = sys.modules["keras"].config.dtype_policy().name
    return state


@pytest.mark.parametrize("name", ESTIMATOR_PARAMS)
def test_fit_and_predict_leave_inputs_and_global_state_unchanged(name):
    make, fit, output = ESTIMATORS[name]
    if name in KERAS_NAMES:
        import keras  # noqa: F401  (its global state is then part of what is compared)
    X_in, Y_in, XT_in = X.copy(), Y.copy(), XT.copy()
    images = None if IMAGE_ARRAY is None else IMAGE_ARRAY.copy()
    before = _global_state()
    est = fit(make())
    output(est, XT)
    after = _global_state()
    for key in before:
        assert after[key] == before[key], f"{name} changed {key}"
    assert_array_equal(X, X_in)
    assert_array_equal(Y, Y_in)
    assert_array_equal(XT, XT_in)
    if images is not None:
        assert_array_equal(IMAGE_ARRAY, images)


@pytest.mark.parametrize("name", ESTIMATOR_PARAMS)
def test_same_random_state_gives_identical_output(name):
    make, fit, output = ESTIMATORS[name]
    first = output(fit(make()), XT)
    second = output(fit(make()), XT)
    assert_array_equal(first, second)


def test_the_command_line_leaves_the_environment_unchanged():
    before = dict(os.environ)
    with pytest.raises(CommandFailed, match="no model file at"):
        _cli("predict", FILES / "missing.joblib", FILES / "loose", "-o", OUT / "p.csv")
    assert dict(os.environ) == before


@pytest.mark.slow  # a fresh interpreter
def test_keras_estimators_without_tensorflow_name_the_extra():
    """In an environment without TensorFlow, the error says which extra to install."""
    code = (
        "import sys\n"
        "sys.modules['tensorflow'] = None  # as if not installed\n"
        "import skltransfer\n"
        "for name in skltransfer._KERAS_NAMES:\n"
        "    try:\n"
        "        getattr(skltransfer, name)\n"
        "    except ImportError as e:\n"
        "        print(e)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = done.stdout.splitlines()
    assert len(lines) == len(skt._KERAS_NAMES)
    for line in lines:
        assert "the optional extra 'keras' of skltransfer" in line
        assert line.endswith('Install it with: pip install "skltransfer[keras]"')


@pytest.mark.slow  # a fresh interpreter
def test_the_command_line_without_tensorflow_names_the_extra(tmp_path):
    code = (
        "import sys\n"
        "sys.modules['tensorflow'] = None\n"
        "from skltransfer.__main__ import main\n"
        f"sys.exit(main(['extract', {str(FILES / 'loose')!r}, '-o', {str(tmp_path / 'f.npz')!r}]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and 'pip install "skltransfer[keras]"' in done.stderr
    assert "Traceback" not in done.stderr
