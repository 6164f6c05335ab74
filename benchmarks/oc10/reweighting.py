"""Office-Caltech10 (SURF): importance weighting and TrAdaBoost against ADAPT's and skada's.

Setting, fixed in advance for every method and task (no target label is used to choose it):

- every row scaled to unit L2 norm, then a linear SVM (``LinearSVC(C=1)``) fitted on the
  weighted source rows: the same classifier, with the weights as ``sample_weight``, for
  ours and the peers';
- Gaussian kernel width by the median heuristic, ``gamma = 1 / median ||x_s - x_t||^2``
  over source-target pairs (label-free), given to every KMM;
- KMM: ``B = 1000``, ``eps = (sqrt(n_s) - 1) / sqrt(n_s)`` (the default of all three
  libraries), one QP over all source rows (ADAPT's ``max_size`` raised above ``n_s`` so it
  solves the same problem instead of splitting it);
- domain classifier: ``LogisticRegression(C=1)``, no clipping (skada's
  ``DiscriminatorReweightAdapter`` with the same classifier);
- uLSIF: 100 target centers, ``gamma`` in ``median-heuristic * logspace(-2, 2, 9)``, ``alpha``
  in ``logspace(-3, 1, 9)``, chosen by uLSIF's closed-form leave-one-out score (ADAPT's
  ``ULSIF`` gets the same grids);
- TrAdaBoost: a second protocol, with 3 labeled target rows per class (drawn with seeds
  0, 1, 2); 10 rounds of ``RidgeClassifier(alpha=1)`` (closed form: 10 rounds x 3 seeds x
  12 tasks x 3 boosters stay within minutes, where a weighted ``LinearSVC`` took minutes per
  task), ``learning_rate=1``, ours with each ``error`` (the 0/1 error of ``predict``, and
  ``1 - p(true class)`` from the ridge's decision function through one-vs-rest logistic
  probabilities), compared with that classifier fitted once on the source rows and the
  labeled target rows without boosting, and with ADAPT's ``TrAdaBoost`` (whose error is
  ``1 - p(true class)`` from the same probabilities); accuracy on the other target rows,
  averaged over the seeds. Ours without the guard (``guard=False``) for each ``error``, and
  with it (the default) for ``error="probability"``: the guard cross-validates the boosted fit
  against the ridge on the source rows, on the labeled target rows and pooled over the
  labeled target rows (3 stratified folds of the 30) and keeps the boosted fit unless one
  beats it by more than one standard error. Each row's average and worst per-task
  difference with the pooled ridge follow the table.

Run from the repository root with the benchmark environment (peers installed)::

    python -m benchmarks.oc10.reweighting                       # everything, 12 tasks
    python -m benchmarks.oc10.reweighting --tasks C-A --part weighting
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.metrics.pairwise import euclidean_distances, rbf_kernel
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

from skltransfer import (
    DomainClassifierWeighting,
    KernelMeanMatching,
    LeastSquaresImportanceFitting,
    TrAdaBoostClassifier,
    stack_domains,
)

from ._common import format_table, load_domain, parse_tasks, published_rows, run_methods

_GAMMA_FACTORS = np.logspace(-2, 2, 9)
_ALPHAS = np.logspace(-3, 1, 9)
SEEDS = (0, 1, 2)
#: (ours, peer) pairs implementing the same method.
SAME_METHOD = [
    ("KernelMeanMatching", "ADAPT KMM (cvxopt)"),
    ("KernelMeanMatching", "skada KMMReweight (Frank-Wolfe)"),
    ("DomainClassifierWeighting", "skada DiscriminatorReweight"),
    ("LeastSquaresImportanceFitting (uLSIF)", "ADAPT ULSIF"),
]
PER_CLASS = 3
#: How often the guard kept each fit (filled by the guarded TrAdaBoost method).
GUARD_CHOICES: dict[str, int] = {}
TRADABOOST_ZERO_ONE = 'TrAdaBoostClassifier (error="zero_one")'
TRADABOOST_PROBABILITY = 'TrAdaBoostClassifier (error="probability")'
TRADABOOST_GUARD = 'TrAdaBoostClassifier (error="probability", guard)'
POOLED_RIDGE = "Ridge on source + labeled target"


def _svm():
    return LinearSVC(C=1.0, random_state=0)


def _ridge():
    return RidgeClassifier(alpha=1.0)


def _median_gamma(Xs, Xt) -> float:
    return 1.0 / float(np.median(euclidean_distances(Xs, Xt, squared=True)))


def _ours(make):
    """A method: L2 rows, stack the domains, fit ``make(Xs, Xt)``, predict the target."""

    def method(Xs, ys, Xt):
        Xs, Xt = normalize(Xs), normalize(Xt)
        X, y = stack_domains(Xs, ys, Xt)
        return make(Xs, Xt).fit(X, y).predict(Xt)

    return method


def _weighted_svm(Xs, ys, Xt, weights):
    return _svm().fit(Xs, ys, sample_weight=weights).predict(Xt)


def our_methods() -> dict:
    return {
        "SVM, no adaptation": lambda Xs, ys, Xt: _svm().fit(normalize(Xs), ys).predict(normalize(Xt)),
        "KernelMeanMatching": _ours(lambda Xs, Xt: KernelMeanMatching(_svm(), gamma=_median_gamma(Xs, Xt))),
        "DomainClassifierWeighting": _ours(lambda Xs, Xt: DomainClassifierWeighting(_svm())),
        "LeastSquaresImportanceFitting (uLSIF)": _ours(
            lambda Xs, Xt: LeastSquaresImportanceFitting(
                _svm(), gamma=_median_gamma(Xs, Xt) * _GAMMA_FACTORS, alpha=_ALPHAS, random_state=0
            )
        ),
    }


def adapt_kmm(Xs, ys, Xt):
    from adapt.instance_based import KMM

    Xs, Xt = normalize(Xs), normalize(Xt)
    kmm = KMM(
        _svm(), Xt=Xt, kernel="rbf", gamma=_median_gamma(Xs, Xt), B=1000, max_size=len(Xs) + 1, verbose=0,
        random_state=0,
    )  # fmt: skip
    return kmm.fit(Xs, ys).predict(Xt)


def adapt_ulsif(Xs, ys, Xt):
    from adapt.instance_based import ULSIF

    Xs, Xt = normalize(Xs), normalize(Xt)
    gammas = list(_median_gamma(Xs, Xt) * _GAMMA_FACTORS)
    ulsif = ULSIF(
        _svm(), Xt=Xt, kernel="rbf", gamma=gammas, lambdas=list(_ALPHAS), max_centers=100, verbose=0,
        random_state=0,
    )  # fmt: skip
    return ulsif.fit(Xs, ys).predict(Xt)


def _skada(adapter, Xs, ys, Xt):
    Xs, Xt = normalize(Xs), normalize(Xt)
    X = np.vstack([Xs, Xt])
    sample_domain = np.r_[np.ones(len(Xs), dtype=int), -np.ones(len(Xt), dtype=int)]
    adapter.fit(X, sample_domain=sample_domain)
    weights = adapter.compute_weights(X, sample_domain=sample_domain)[: len(Xs)]
    return _weighted_svm(Xs, ys, Xt, weights)


def skada_kmm(Xs, ys, Xt):
    from skada import KMMReweightAdapter

    gamma = _median_gamma(normalize(Xs), normalize(Xt))
    return _skada(KMMReweightAdapter(kernel="rbf", gamma=gamma, B=1000.0), Xs, ys, Xt)


def skada_discriminator(Xs, ys, Xt):
    from skada import DiscriminatorReweightAdapter

    return _skada(DiscriminatorReweightAdapter(LogisticRegression()), Xs, ys, Xt)


def peer_methods() -> dict:
    methods = {}
    try:
        import adapt  # noqa: F401

        methods["ADAPT KMM (cvxopt)"] = adapt_kmm
        methods["ADAPT ULSIF"] = adapt_ulsif
    except ImportError:
        print("ADAPT not installed: its rows are skipped (use the benchmark environment)")
    try:
        import skada  # noqa: F401

        methods["skada KMMReweight (Frank-Wolfe)"] = skada_kmm
        methods["skada DiscriminatorReweight"] = skada_discriminator
    except ImportError:
        print("skada not installed: its rows are skipped (use the benchmark environment)")
    return methods


# --- the weights alone: same problem, time and agreement --------------------------------


def _weights_ours(estimator, Xs, Xt):
    X, y = stack_domains(Xs, np.zeros(len(Xs), dtype=int) + np.arange(len(Xs)) % 2, Xt)
    return estimator.set_params(estimator=DummyClassifier()).fit(X, y).weights_[: len(Xs)]


def weight_solvers() -> dict:
    """name -> (Xs, Xt) -> source weights, on L2-normalised rows; ours and the peers'."""
    solvers = {
        "KernelMeanMatching": lambda Xs, Xt: _weights_ours(
            KernelMeanMatching(None, gamma=_median_gamma(Xs, Xt)), Xs, Xt
        ),
        "DomainClassifierWeighting": lambda Xs, Xt: _weights_ours(DomainClassifierWeighting(None), Xs, Xt),
        "LeastSquaresImportanceFitting (uLSIF)": lambda Xs, Xt: _weights_ours(
            LeastSquaresImportanceFitting(
                None, gamma=_median_gamma(Xs, Xt) * _GAMMA_FACTORS, alpha=_ALPHAS, random_state=0
            ),
            Xs,
            Xt,
        ),
    }
    try:
        from adapt.instance_based import KMM, ULSIF

        solvers["ADAPT KMM (cvxopt)"] = lambda Xs, Xt: KMM(
            gamma=_median_gamma(Xs, Xt), B=1000, max_size=len(Xs) + 1, verbose=0, random_state=0
        ).fit_weights(Xs, Xt)
        solvers["ADAPT ULSIF"] = lambda Xs, Xt: ULSIF(
            gamma=list(_median_gamma(Xs, Xt) * _GAMMA_FACTORS),
            lambdas=list(_ALPHAS),
            verbose=0,
            random_state=0,
        ).fit_weights(Xs, Xt)
    except ImportError:
        print("ADAPT not installed: its weight rows are skipped")
    try:
        from skada import DiscriminatorReweightAdapter, KMMReweightAdapter

        def skada_weights(adapter, Xs, Xt):
            X = np.vstack([Xs, Xt])
            sample_domain = np.r_[np.ones(len(Xs), dtype=int), -np.ones(len(Xt), dtype=int)]
            return adapter.fit(X, sample_domain=sample_domain).compute_weights(
                X, sample_domain=sample_domain
            )[: len(Xs)]

        solvers["skada KMMReweight (Frank-Wolfe)"] = lambda Xs, Xt: skada_weights(
            KMMReweightAdapter(gamma=_median_gamma(Xs, Xt), B=1000.0), Xs, Xt
        )
        solvers["skada DiscriminatorReweight"] = lambda Xs, Xt: skada_weights(
            DiscriminatorReweightAdapter(LogisticRegression()), Xs, Xt
        )
    except ImportError:
        print("skada not installed: its weight rows are skipped")
    return solvers


def time_weights(tasks):
    """Seconds per task to compute the source weights, and the KMM objective each KMM reaches."""
    solvers = weight_solvers()
    seconds = {name: [] for name in solvers}
    objective = {name: [] for name in solvers if "KMM" in name or name == "KernelMeanMatching"}
    for source, target in tasks:
        Xs, Xt = normalize(load_domain(source)[0]), normalize(load_domain(target)[0])
        gamma = _median_gamma(Xs, Xt)
        K = rbf_kernel(Xs, gamma=gamma)
        kappa = len(Xs) / len(Xt) * rbf_kernel(Xs, Xt, gamma=gamma).sum(axis=1)
        for name, solve in solvers.items():
            start = time.perf_counter()
            weights = np.asarray(solve(Xs, Xt), dtype=float).ravel()
            seconds[name].append(time.perf_counter() - start)
            if name in objective:
                objective[name].append(0.5 * weights @ K @ weights - kappa @ weights)
        line = ", ".join(f"{name} {seconds[name][-1]:.2f} s" for name in solvers)
        print(f"  {source}-{target} weights: {line}", flush=True)
    return seconds, objective


# --- TrAdaBoost: a few labeled target rows ---------------------------------------------


def labeled_target_rows(yt: np.ndarray, seed: int, per_class: int = PER_CLASS) -> np.ndarray:
    """Indices of ``per_class`` target rows of every class, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    return np.sort(
        np.concatenate([rng.choice(np.flatnonzero(yt == c), per_class, replace=False) for c in np.unique(yt)])
    )


def source_and_labeled_target(Xs, ys, Xl, yl, Xu):
    return _ridge().fit(np.vstack([Xs, Xl]), np.r_[ys, yl]).predict(Xu)


def our_tradaboost(error, guard=False):
    def method(Xs, ys, Xl, yl, Xu):
        X, y, domain = stack_domains(Xs, ys, Xl, yl, return_sample_domain=True)
        clf = TrAdaBoostClassifier(_ridge(), n_estimators=10, error=error, random_state=0, guard=guard)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the guard's: the table counts its choices
            clf.fit(X, y, sample_domain=domain)
        if guard:
            GUARD_CHOICES[clf.selected_] = GUARD_CHOICES.get(clf.selected_, 0) + 1
        return clf.predict(Xu)

    return method


def adapt_tradaboost(Xs, ys, Xl, yl, Xu):
    from adapt.instance_based import TrAdaBoost

    # ADAPT's vote indexes classes by label value: give it labels 0..K-1.
    classes = np.unique(ys)
    clf = TrAdaBoost(
        _ridge(), Xt=Xl, yt=np.searchsorted(classes, yl), n_estimators=10, lr=1.0, verbose=0, random_state=0
    )
    return classes[clf.fit(Xs, np.searchsorted(classes, ys)).predict(Xu)]


def run_few_labels(tasks, seeds=SEEDS):
    methods = {
        POOLED_RIDGE: source_and_labeled_target,
        TRADABOOST_ZERO_ONE: our_tradaboost("zero_one"),
        TRADABOOST_PROBABILITY: our_tradaboost("probability"),
        TRADABOOST_GUARD: our_tradaboost("probability", guard=True),
    }
    try:
        import adapt  # noqa: F401

        methods["ADAPT TrAdaBoost"] = adapt_tradaboost
    except ImportError:
        print("ADAPT not installed: its TrAdaBoost row is skipped")
    accuracy = {name: [] for name in methods}
    seconds = {name: [] for name in methods}
    for source, target in tasks:
        Xs, ys = load_domain(source)
        Xt, yt = load_domain(target)
        Xs, Xt = normalize(Xs), normalize(Xt)
        task_acc = {name: [] for name in methods}
        task_sec = {name: [] for name in methods}
        for seed in seeds:
            rows = labeled_target_rows(yt, seed)
            rest = np.setdiff1d(np.arange(len(yt)), rows)
            for name, method in methods.items():
                start = time.perf_counter()
                pred = method(Xs, ys, Xt[rows], yt[rows], Xt[rest])
                task_sec[name].append(time.perf_counter() - start)
                task_acc[name].append(100.0 * float(np.mean(pred == yt[rest])))
        for name in methods:
            accuracy[name].append(float(np.mean(task_acc[name])))
            seconds[name].append(float(np.sum(task_sec[name])))
            print(
                f"  {source}-{target} {name}: {accuracy[name][-1]:.1f}% ({seconds[name][-1]:.2f} s)",
                flush=True,
            )
    return accuracy, seconds


def _speed_lines(seconds, pairs):
    lines = []
    for ours, peer in pairs:
        if ours in seconds and peer in seconds:
            ratio = statistics.median(p / o for o, p in zip(seconds[ours], seconds[peer], strict=True))
            lines.append(f"- {ours} vs {peer}: median per-task time ratio (peer / ours) = {ratio:.2f}")
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", help="comma-separated tasks such as C-A,D-W (default: all 12)")
    parser.add_argument("--part", choices=["all", "weighting", "weights", "tradaboost"], default="all")
    parser.add_argument("--methods", choices=["all", "ours", "peers"], default="all")
    args = parser.parse_args(argv)
    tasks = parse_tasks(args.tasks)
    if args.part in ("all", "weighting"):
        methods = {}
        if args.methods in ("all", "ours"):
            methods.update(our_methods())
        if args.methods in ("all", "peers"):
            methods.update(peer_methods())
        accuracy, seconds = run_methods(methods, tasks)
        reference = {k: v for k, v in published_rows().items() if k == "SVM, no adaptation"}
        print("\nUnsupervised importance weighting (target accuracy %, L2 rows + weighted LinearSVC):\n")
        print(format_table(accuracy, seconds, tasks, reference=reference))
        print()
        print("\n".join(_speed_lines(seconds, SAME_METHOD)))
    if args.part in ("all", "weights"):
        seconds, objective = time_weights(tasks)
        print("\nSource weights alone (seconds per task; same problems as above):\n")
        rows = [
            "| method | " + " | ".join(f"{s}-{t}" for s, t in tasks) + " | median s |",
            "|---" * (len(tasks) + 2) + "|",
        ]
        for name, times in seconds.items():
            cells = " | ".join(f"{v:.2f}" for v in times)
            rows.append(f"| {name} | {cells} | {statistics.median(times):.2f} |")
        print("\n".join(rows))
        print()
        for name, values in objective.items():
            ref = objective["KernelMeanMatching"]
            gaps = [(v - r) / abs(r) for v, r in zip(values, ref, strict=True)]
            print(
                f"- {name}: KMM objective minus ours, relative, over the tasks: from {min(gaps):+.1e} "
                f"to {max(gaps):+.1e} (> 0: ours is lower)"
            )
        print("\n".join(_speed_lines(seconds, SAME_METHOD)))
    if args.part in ("all", "tradaboost"):
        accuracy, seconds = run_few_labels(tasks)
        print(
            f"\nFew labeled target rows ({PER_CLASS} per class, seeds {SEEDS}; accuracy % on the other "
            "target rows, mean over seeds; times summed over seeds):\n"
        )
        print(format_table(accuracy, seconds, tasks))
        print()
        pairs = [(TRADABOOST_ZERO_ONE, "ADAPT TrAdaBoost"), (TRADABOOST_PROBABILITY, "ADAPT TrAdaBoost")]
        print("\n".join(_speed_lines(seconds, pairs)))
        print()
        pooled = np.array(accuracy[POOLED_RIDGE])
        for name, values in accuracy.items():
            if name != POOLED_RIDGE:
                diff = np.array(values) - pooled
                worst = int(np.argmin(diff))
                print(
                    f"- {name}: {diff.mean():+.1f} points on average against the pooled ridge, worst task "
                    f"{'-'.join(tasks[worst])} {diff[worst]:+.1f}"
                )
        print(f"- the guard kept, over the {len(tasks) * len(SEEDS)} fits: {GUARD_CHOICES}")


if __name__ == "__main__":
    main()
