"""Regression under domain shift: importance weighting on textbook covariate shift, and
transfer from a source domain with a few labeled target rows on a real data set.

Part ``a``, covariate shift (no target label used by any method). Shimodaira (2000, sec. 5):
``y = -x + x^3 + e``, ``e ~ N(0, 0.3^2)``, source inputs ``x ~ N(0.5, 0.5^2)``, target inputs
``x ~ N(0, 0.3^2)``, ``n = 100`` labeled source rows, fitted by a straight line
(``LinearRegression``), a misspecified model, which is what importance weighting corrects.
A second problem of the same kind: ``y = sinc(x) + e`` (``numpy.sinc``), ``e ~ N(0, 0.1^2)``,
source ``x ~ N(1, 0.5^2)``, target ``x ~ N(2, 0.25^2)`` (the input distributions of Sugiyama,
Krauledat and Müller 2007's toy example). Each draw also gives 100 unlabeled target rows (for
the weights) and 2000 labeled target rows for the test MSE. Weights: the true density ratio
(oracle), ``DomainClassifierWeighting`` with a logistic regression on ``(x, x^2)`` (two
Gaussians of unequal variances have a quadratic log density ratio), ``KernelMeanMatching``
and ``LeastSquaresImportanceFitting`` (uLSIF) with their defaults (uLSIF chooses its width and
ridge by its own label-free leave-one-out score). Reported: the mean over the draws of the target MSE
(against noisy target labels, whose noise variance is a floor no model passes) and of the MSE
against the noise-free function, each with the factor unweighted / weighted of the means.

Part ``b``, few labeled target rows: scikit-learn's bundled diabetes data (442 patients, 10
baseline variables, disease progression after one year), split by a recorded variable into
two domains, the variable then dropped: ``sex`` (source: the 235 patients coded 1, target:
the 207 coded 2) and ``age`` (source: the 227 patients of at most the median age, 50,
target: the 215 older ones). Features
standardised on all rows (no label used). Each draw takes ``n_labeled`` random labeled target
rows; the other target rows are the test set. Every method uses ``Ridge(alpha=1)``:

- target only: fitted on the labeled target rows;
- source only: fitted on the source rows;
- pooled: fitted on the source and labeled target rows together;
- ADAPT ``TrAdaBoostR2`` (10 rounds, its default) and ``TwoStageTrAdaBoostR2`` (10 steps,
  10 first-stage rounds, 5 folds: its defaults);
- ours ``TrAdaBoostRegressor`` (two-stage TrAdaBoost.R2, 10 steps, 10 AdaBoost.R2' rounds,
  5 folds: the defaults);
- ADAPT ``RegularTransferLR`` (ridge towards the source model, fixed ``lambda_ = 1``, its
  default; the intercept is penalised too) and ours ``TransferRidge`` (same model, the
  intercept free, the strength chosen among ``logspace(-3, 3, 13)`` by the closed-form
  leave-one-out error on the labeled target rows), both from the source-only ridge.

Part ``c``, the guard against negative transfer: the same diabetes splits with
``n_labeled`` (default 20) labeled target rows, for three base regressors, ``Ridge(alpha=1)``,
``DecisionTreeRegressor(max_depth=4)`` and ``HistGradientBoostingRegressor(max_iter=30)``
(30 boosting iterations rather than 100 keep the two-stage boosting, hundreds of fits, within
minutes on two cores): source only, target only, pooled, then ours with the base regressor
without the guard (``guard=False``) and with it (the default): ``TrAdaBoostRegressor`` (for the
histogram boosting 3 steps of 5 rounds, else the defaults) and, for the ridge,
``TransferRidge`` (its source model the same ridge). The fit without the guard is the guarded
estimator's own transfer fit (``estimator_``, ``coef_``), identical to a ``guard=False`` fit.

The ADAPT rows need ``adapt`` (which pins TensorFlow; install it in a separate environment
and run this script there with the repository on ``PYTHONPATH``); without it they are left
out. Run from the repository root::

    python -m benchmarks.regression [--part a|b|c|all] [--draws-a 50] [--draws-b 20] [--labeled 15]
    python -m benchmarks.regression --part c [--draws-c 10] [--bases ridge,tree,hgb] [--splits sex,age]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from scipy.stats import norm
from sklearn.base import clone
from sklearn.datasets import load_diabetes
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import mean_squared_error
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler
from sklearn.tree import DecisionTreeRegressor

from skltransfer import (
    DomainClassifierWeighting,
    KernelMeanMatching,
    LeastSquaresImportanceFitting,
    TrAdaBoostRegressor,
    TransferRidge,
    stack_domains,
)

try:
    import adapt.instance_based as adapt_instance
    import adapt.parameter_based as adapt_parameter
except ImportError:
    adapt_instance = adapt_parameter = None

# --- part a: covariate shift ---------------------------------------------------------

PROBLEMS = {
    # name: (source mean, source std, target mean, target std, noise std, function)
    "Shimodaira 2000 (-x + x^3)": (0.5, 0.5, 0.0, 0.3, 0.3, lambda x: -x + x**3),
    "sinc, Sugiyama et al. 2007 inputs": (1.0, 0.5, 2.0, 0.25, 0.1, np.sinc),
}


def _weighting_methods(seed: int) -> dict:
    quadratic = make_pipeline(PolynomialFeatures(2), LogisticRegression())
    return {
        "DomainClassifierWeighting": DomainClassifierWeighting(
            LinearRegression(), domain_classifier=quadratic
        ),
        "KernelMeanMatching": KernelMeanMatching(LinearRegression()),
        "LeastSquaresImportanceFitting": LeastSquaresImportanceFitting(LinearRegression(), random_state=seed),
    }


def part_a(n_draws: int) -> None:
    print(f"## (a) covariate shift, {n_draws} draws, target MSE of a straight line (mean over draws)\n")
    for name, (ms, ss, mt, st, noise, f) in PROBLEMS.items():
        results: dict[str, list[float]] = {}
        for draw in range(n_draws):
            rng = np.random.default_rng(draw)
            xs = rng.normal(ms, ss, size=(100, 1))
            ys = f(xs[:, 0]) + rng.normal(0, noise, size=100)
            xu = rng.normal(mt, st, size=(100, 1))
            xt = rng.normal(mt, st, size=(2000, 1))
            ft = f(xt[:, 0])
            yt = ft + rng.normal(0, noise, size=2000)
            X, y = stack_domains(xs, ys, xu)

            def mse(model, xt=xt, yt=yt, ft=ft):
                prediction = model.predict(xt)
                return mean_squared_error(yt, prediction), mean_squared_error(ft, prediction)

            results.setdefault("unweighted", []).append(mse(LinearRegression().fit(xs, ys)))
            ratio = norm.pdf(xs[:, 0], mt, st) / norm.pdf(xs[:, 0], ms, ss)
            results.setdefault("true density ratio (oracle)", []).append(
                mse(LinearRegression().fit(xs, ys, sample_weight=ratio))
            )
            for label, model in _weighting_methods(draw).items():
                results.setdefault(label, []).append(mse(model.fit(X, y)))
        base = np.mean(results["unweighted"], axis=0)
        print(f"### {name}: source N({ms}, {ss}^2), target N({mt}, {st}^2), noise {noise}\n")
        print("| weights | target MSE | factor | MSE to the noise-free f | factor |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for label, values in results.items():
            noisy, clean = np.mean(values, axis=0)
            print(f"| {label} | {noisy:.4f} | {base[0] / noisy:.1f} | {clean:.4f} | {base[1] / clean:.1f} |")
        print()


# --- part b: diabetes with a few labeled target rows --------------------------------


def _diabetes_split(by: str):
    data = load_diabetes(scaled=False)
    X, y, names = data.data, data.target, list(data.feature_names)
    column = names.index(by)
    if by == "sex":
        target = X[:, column] == 2
    else:
        target = X[:, column] > np.median(X[:, column])
    X = StandardScaler().fit_transform(np.delete(X, column, axis=1))
    return X[~target], y[~target], X[target], y[target]


def _few_shot_methods(Xs, ys, Xl, yl, seed: int) -> dict:
    """Each method's fitted model; ``Xl, yl`` are the labeled target rows."""
    base = Ridge(alpha=1.0)
    X, y, domain = stack_domains(Xs, ys, Xl, yl, return_sample_domain=True)
    source = clone(base).fit(Xs, ys)
    models = {
        "target only": lambda: clone(base).fit(Xl, yl),
        "source only": lambda: source,
        "pooled": lambda: clone(base).fit(np.r_[Xs, Xl], np.r_[ys, yl]),
        "ours TrAdaBoostRegressor (two-stage)": lambda: TrAdaBoostRegressor(base, random_state=seed).fit(
            X, y, sample_domain=domain
        ),
        "ours TransferRidge (alpha by LOO)": lambda: TransferRidge(clone(base)).fit(
            X, y, sample_domain=domain
        ),
    }
    if adapt_instance is not None:
        models["ADAPT TrAdaBoostR2"] = lambda: adapt_instance.TrAdaBoostR2(
            clone(base), Xt=Xl, yt=yl, n_estimators=10, verbose=0, random_state=seed
        ).fit(Xs, ys)
        models["ADAPT TwoStageTrAdaBoostR2"] = lambda: adapt_instance.TwoStageTrAdaBoostR2(
            clone(base), Xt=Xl, yt=yl, verbose=0, random_state=seed
        ).fit(Xs, ys)
        models["ADAPT RegularTransferLR (lambda 1)"] = lambda: adapt_parameter.RegularTransferLR(
            source, lambda_=1.0, verbose=0, random_state=seed
        ).fit(Xl, yl)
    return models


ORDER = [
    "target only",
    "source only",
    "pooled",
    "ADAPT TrAdaBoostR2",
    "ADAPT TwoStageTrAdaBoostR2",
    "ours TrAdaBoostRegressor (two-stage)",
    "ADAPT RegularTransferLR (lambda 1)",
    "ours TransferRidge (alpha by LOO)",
]


def part_b(n_draws: int, n_labeled: int) -> None:
    print(f"## (b) diabetes, {n_labeled} labeled target rows, {n_draws} draws: target test MSE\n")
    for by in ("sex", "age"):
        Xs, ys, Xt, yt = _diabetes_split(by)
        mses: dict[str, list[float]] = {}
        seconds: dict[str, list[float]] = {}
        for draw in range(n_draws):
            rng = np.random.default_rng(draw)
            labeled = rng.permutation(len(Xt))[:n_labeled]
            test = np.setdiff1d(np.arange(len(Xt)), labeled)
            for label, fit in _few_shot_methods(Xs, ys, Xt[labeled], yt[labeled], draw).items():
                start = time.perf_counter()
                model = fit()
                seconds.setdefault(label, []).append(time.perf_counter() - start)
                mses.setdefault(label, []).append(
                    mean_squared_error(yt[test], np.ravel(model.predict(Xt[test])))
                )
        source = np.array(mses["source only"])
        print(f"### split by {by}: {len(Xs)} source rows, {len(Xt)} target rows\n")
        print(
            "| method | target MSE (mean ± sd) | median | MSE / source-only (mean) "
            "| draws better than source only | median fit s |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for label in ORDER:
            if label not in mses:
                continue
            values = np.array(mses[label])
            print(
                f"| {label} | {values.mean():.0f} ± {values.std():.0f} | {np.median(values):.0f} "
                f"| {np.mean(values / source):.3f} | "
                f"{int(np.sum(values < source))}/{n_draws} | {np.median(seconds[label]):.3f} |"
            )
        print()


# --- part c: the guard against negative transfer -------------------------------------

#: short name -> (label, base regressor, TrAdaBoostRegressor settings)
GUARD_BASES = {
    "ridge": ("Ridge(alpha=1)", Ridge(alpha=1.0), {}),
    "tree": ("DecisionTreeRegressor(max_depth=4)", DecisionTreeRegressor(max_depth=4), {}),
    "hgb": (
        "HistGradientBoostingRegressor(max_iter=30)",
        HistGradientBoostingRegressor(max_iter=30),
        {"n_steps": 3, "n_estimators": 5},
    ),
}


def _guarded_methods(base, boosting: dict, seed: int) -> dict:
    """name -> unfitted guarded estimator of ours (its transfer fit gives the unguarded row)."""
    methods = {"TrAdaBoostRegressor": TrAdaBoostRegressor(base, random_state=seed, **boosting)}
    if isinstance(base, Ridge):
        methods["TransferRidge"] = TransferRidge(clone(base))
    return methods


def _unguarded_predict(model, X):
    """The transfer fit of a guarded estimator, whatever the guard kept."""
    if isinstance(model, TransferRidge):
        return X @ model.coef_ + model.intercept_
    return model.estimator_.predict(X)


def _adapt_counterpart(label: str, base, boosting: dict, seed: int, Xs, ys, Xl, yl):
    """ADAPT's fitted counterpart of our ``label`` (None without ``adapt``): its two-stage
    TrAdaBoost.R2 with the same base and stages, or its ridge pulled towards the source
    ridge (``RegularTransferLR``, ``lambda_ = 1``)."""
    if adapt_instance is None:
        return None
    if label == "TransferRidge":
        return adapt_parameter.RegularTransferLR(
            clone(base).fit(Xs, ys), lambda_=1.0, verbose=0, random_state=seed
        ).fit(Xl, yl)
    stages = (
        {"n_estimators": boosting["n_steps"], "n_estimators_fs": boosting["n_estimators"]} if boosting else {}
    )
    return adapt_instance.TwoStageTrAdaBoostR2(
        clone(base), Xt=Xl, yt=yl, verbose=0, random_state=seed, **stages
    ).fit(Xs, ys)


def part_c(n_draws: int, n_labeled: int, bases=tuple(GUARD_BASES), splits=("sex", "age")) -> None:
    print(
        f"## (c) the guard: diabetes, {n_labeled} labeled target rows, {n_draws} draws: target test MSE "
        "/ source-only MSE (mean over draws; draws better than source only)\n"
    )
    for by in splits:
        Xs, ys, Xt, yt = _diabetes_split(by)
        print(f"### split by {by}: {len(Xs)} source rows, {len(Xt)} target rows\n")
        print("| base | source only | target only | pooled | ours | no guard | guard | guard kept | ADAPT |")
        print("| --- | ---: | ---: | ---: | --- | ---: | ---: | --- | ---: |")
        for base_name, base, boosting in (GUARD_BASES[name] for name in bases):
            ratios: dict[str, list[float]] = {}
            kept: dict[str, dict[str, int]] = {}
            for draw in range(n_draws):
                rng = np.random.default_rng(draw)
                labeled = rng.permutation(len(Xt))[:n_labeled]
                test = np.setdiff1d(np.arange(len(Xt)), labeled)
                Xl, yl = Xt[labeled], yt[labeled]
                X, y, domain = stack_domains(Xs, ys, Xl, yl, return_sample_domain=True)

                def mse(prediction, truth=yt[test]):
                    return mean_squared_error(truth, prediction)

                source = mse(clone(base).fit(Xs, ys).predict(Xt[test]))
                plain = {
                    "source only": source,
                    "target only": mse(clone(base).fit(Xl, yl).predict(Xt[test])),
                    "pooled": mse(clone(base).fit(np.r_[Xs, Xl], np.r_[ys, yl]).predict(Xt[test])),
                }
                for label, value in plain.items():
                    ratios.setdefault(label, []).append(value / source)
                for label, model in _guarded_methods(base, boosting, draw).items():
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", UserWarning)
                        model.fit(X, y, sample_domain=domain)
                    ratios.setdefault(f"{label} off", []).append(
                        mse(_unguarded_predict(model, Xt[test])) / source
                    )
                    ratios.setdefault(f"{label} on", []).append(mse(model.predict(Xt[test])) / source)
                    counts = kept.setdefault(label, {})
                    counts[model.selected_] = counts.get(model.selected_, 0) + 1
                    adapt_model = _adapt_counterpart(label, base, boosting, draw, Xs, ys, Xl, yl)
                    if adapt_model is not None:
                        prediction = np.ravel(adapt_model.predict(Xt[test]))
                        ratios.setdefault(f"{label} ADAPT", []).append(mse(prediction) / source)

            def cell(label, ratios=ratios):
                values = np.array(ratios[label])
                return f"{values.mean():.3f} ({int(np.sum(values < 1.0))}/{n_draws})"

            for label in kept:
                choices = ", ".join(f"{name} {count}" for name, count in sorted(kept[label].items()))
                print(
                    f"| {base_name} | {cell('source only')} | {cell('target only')} | {cell('pooled')} "
                    f"| `{label}` | {cell(label + ' off')} | {cell(label + ' on')} | {choices} "
                    f"| {cell(label + ' ADAPT') if label + ' ADAPT' in ratios else 'not installed'} |",
                    flush=True,
                )
        print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["a", "b", "c", "all"], default="all")
    parser.add_argument("--draws-a", type=int, default=50)
    parser.add_argument("--draws-b", type=int, default=20)
    parser.add_argument("--draws-c", type=int, default=10)
    parser.add_argument("--bases", default=",".join(GUARD_BASES), help="part c: some of ridge,tree,hgb")
    parser.add_argument("--splits", default="sex,age", help="part c: comma-separated sex,age")
    parser.add_argument("--labeled", type=int, default=None, help="15 for part b, 20 for part c")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning)
    if args.part in ("a", "all"):
        part_a(args.draws_a)
    if args.part in ("b", "all"):
        if adapt_instance is None:
            print("(adapt is not installed: the ADAPT rows are left out)\n")
        part_b(args.draws_b, args.labeled or 15)
    if args.part in ("c", "all"):
        part_c(args.draws_c, args.labeled or 20, args.bases.split(","), args.splits.split(","))


if __name__ == "__main__":
    main()
