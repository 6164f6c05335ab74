"""Office-Caltech10 (SURF) with three source domains and one target: pooled against chosen sources.

Each of the four domains is the target in turn, the other three are the sources
(``sample_domain`` 0, 1, 2 in the order A, C, D, W without the target; -1 for the target).
Setting, fixed in advance for every method and task (no target label of the evaluation is
used to choose it):

- every row scaled to unit L2 norm (as ``benchmarks/oc10/reweighting.py``);
- the base classifier is ``RidgeClassifier(alpha=1)`` (closed form: the many fits of the
  source choice stay within minutes), wrapped by ``make_da_pipeline`` where plain;
- **3 labels per class** (30 labeled target rows, drawn with seeds 0, 1, 2; accuracy on the
  other target rows, mean over the seeds):

  - pooled: the ridge on the three sources and the labeled target rows;
  - ``SourceSelector``: the same ridge on the sources its cross-validation over the labeled
    target rows keeps (the guard's rule against all sources pooled; 3 stratified folds);
  - with ``--tradaboost`` (slow: the choice costs about 25 boosted fits per task and
    seed), ``TrAdaBoostClassifier`` (10 rounds of the ridge, the guard on, its default)
    with ``sources="pooled"`` and ``sources="select"``;

- **no labels**: the ridge on the three sources pooled; ``SourceSelector`` with its
  label-free rule (sources whose MMD to the target is at most ``gap_ratio=2`` times the
  smallest, the default); ``DomainClassifierWeighting`` (logistic domain classifier, the
  ridge weighted) with ``sources="pooled"`` and ``sources="select"``.

The row "best subset, chosen on the test rows" is an oracle, not a method: the best of the 7
source subsets for the pooled ridge, read off the evaluation labels; it shows how much a
choice could gain at most.

Run from the repository root::

    python -m benchmarks.multi_source                    # all four targets, both settings
    python -m benchmarks.multi_source --targets A --setting unlabeled
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections import Counter

import numpy as np
from sklearn.linear_model import RidgeClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import normalize

from skltransfer import DomainClassifierWeighting, TrAdaBoostClassifier, make_da_pipeline
from skltransfer.model_selection import SourceSelector
from skltransfer.utils._guard import source_subsets

from .oc10._common import load_domain
from .oc10.reweighting import labeled_target_rows

DOMAINS = ("A", "C", "D", "W")
SEEDS = (0, 1, 2)
POOLED = "pooled ridge (all three sources)"
ORACLE = "best subset, chosen on the test rows (oracle)"


def _ridge():
    return RidgeClassifier(alpha=1.0)


def _pipeline():
    return make_da_pipeline(_ridge())


def _quiet_fit(estimator, X, y, domain):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the guard's and the weights' notes
        if isinstance(estimator, Pipeline):  # the pooled ridge: labeled rows, whatever their domain
            return estimator.fit(X, y)
        return estimator.fit(X, y, sample_domain=domain)


def _task(target: str, labeled_rows=None):
    """``X, y, sample_domain`` of the task and the evaluation rows ``(X_test, y_test)``."""
    sources = [d for d in DOMAINS if d != target]
    Xt, yt = load_domain(target)
    Xt = normalize(Xt)
    blocks = [(normalize(load_domain(d)[0]), load_domain(d)[1], i) for i, d in enumerate(sources)]
    if labeled_rows is None:
        labeled_rows = np.zeros(0, dtype=int)
    rest = np.setdiff1d(np.arange(len(yt)), labeled_rows)
    X = np.vstack([b[0] for b in blocks] + [Xt[labeled_rows], Xt[rest]])
    y = np.concatenate([b[1] for b in blocks] + [yt[labeled_rows], np.full(rest.size, -1)])
    domain = np.concatenate([np.full(b[1].size, b[2]) for b in blocks] + [np.full(len(yt), -1)])
    return sources, X, y, domain, Xt[rest], yt[rest]


def _names(sources, subset) -> str:
    return "+".join(sources[d] for d in subset)


def _oracle(X, y, domain, X_test, y_test) -> float:
    best = 0.0
    for subset in source_subsets((0, 1, 2)):
        keep = (domain < 0) | np.isin(domain, subset)
        best = max(best, float(np.mean(_pipeline().fit(X[keep], y[keep]).predict(X_test) == y_test)))
    return best


def run_labeled(targets, seeds=SEEDS, tradaboost=False):
    methods = {
        POOLED: lambda: _pipeline(),
        "SourceSelector(ridge), cross-validation": lambda: SourceSelector(_pipeline()),
    }
    if tradaboost:
        methods['TrAdaBoostClassifier (guard), sources="pooled"'] = lambda: TrAdaBoostClassifier(
            _ridge(), n_estimators=10, random_state=0
        )
        methods['TrAdaBoostClassifier (guard), sources="select"'] = lambda: TrAdaBoostClassifier(
            _ridge(), n_estimators=10, random_state=0, sources="select"
        )
    accuracy = {name: {} for name in [*methods, ORACLE]}
    choices = {name: Counter() for name in methods}
    for target in targets:
        yt = load_domain(target)[1]
        per_seed = {name: [] for name in accuracy}
        for seed in seeds:
            sources, X, y, domain, X_test, y_test = _task(target, labeled_target_rows(yt, seed))
            for name, make in methods.items():
                start = time.perf_counter()
                model = _quiet_fit(make(), X, y, domain)
                per_seed[name].append(100 * float(np.mean(model.predict(X_test) == y_test)))
                if hasattr(model, "selected_sources_"):
                    choices[name][f"{target}: {_names(sources, model.selected_sources_)}"] += 1
                print(
                    f"  target {target} seed {seed} {name}: {per_seed[name][-1]:.1f}% "
                    f"({time.perf_counter() - start:.1f} s)",
                    flush=True,
                )
            per_seed[ORACLE].append(100 * _oracle(X, y, domain, X_test, y_test))
        for name in accuracy:
            accuracy[name][target] = float(np.mean(per_seed[name]))
    return accuracy, choices


def run_unlabeled(targets):
    methods = {
        POOLED: lambda: _pipeline(),
        "SourceSelector(ridge), domain gap": lambda: SourceSelector(_pipeline(), gap_ratio=2.0),
        'DomainClassifierWeighting(ridge), sources="pooled"': lambda: DomainClassifierWeighting(_ridge()),
        'DomainClassifierWeighting(ridge), sources="select"': lambda: DomainClassifierWeighting(
            _ridge(), sources="select"
        ),
    }
    accuracy = {name: {} for name in [*methods, ORACLE]}
    choices = {name: Counter() for name in methods}
    for target in targets:
        sources, X, y, domain, X_test, y_test = _task(target)
        for name, make in methods.items():
            start = time.perf_counter()
            model = _quiet_fit(make(), X, y, domain)
            accuracy[name][target] = 100 * float(np.mean(model.predict(X_test) == y_test))
            if hasattr(model, "selected_sources_"):
                gaps = getattr(model, "source_gaps_", None)
                gap_text = (
                    ""
                    if not gaps
                    else " (MMD² " + ", ".join(f"{sources[d]} {g:.2e}" for d, g in gaps.items()) + ")"
                )
                choices[name][f"{target}: {_names(sources, model.selected_sources_)}{gap_text}"] += 1
            print(
                f"  target {target} {name}: {accuracy[name][target]:.1f}% "
                f"({time.perf_counter() - start:.1f} s)",
                flush=True,
            )
        accuracy[ORACLE][target] = 100 * _oracle(X, y, domain, X_test, y_test)
    return accuracy, choices


def format_table(accuracy: dict, targets, reference: str = POOLED) -> str:
    head = "| method | " + " | ".join(f"→{t}" for t in targets) + " | mean | worst vs pooled |"
    lines = [head, "|---" + "|---:" * (len(targets) + 2) + "|"]
    for name, values in accuracy.items():
        cells = [values[t] for t in targets]
        diffs = [values[t] - accuracy[reference][t] for t in targets]
        worst = "" if name == reference else f"{min(diffs):+.1f}"
        lines.append(
            f"| {name} | " + " | ".join(f"{c:.1f}" for c in cells) + f" | {np.mean(cells):.1f} | {worst} |"
        )
    return "\n".join(lines)


def format_choices(choices: dict) -> str:
    lines = []
    for name, counter in choices.items():
        if name == POOLED or not counter:
            continue
        kept = "; ".join(f"{key} (x{n})" if n > 1 else key for key, n in sorted(counter.items()))
        lines.append(f"- {name} kept: {kept}")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default=",".join(DOMAINS), help="comma-separated target domains")
    parser.add_argument("--setting", choices=["all", "labeled", "unlabeled"], default="all")
    parser.add_argument("--tradaboost", action="store_true", help="add TrAdaBoost, pooled and select")
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)), help="seeds of the labeled rows")
    parser.add_argument("--output", help="also write the Markdown section to this file")
    args = parser.parse_args(argv)
    targets = [t.strip().upper() for t in args.targets.split(",")]
    parts = ["## Several source domains: Office-Caltech10, three sources and one target", ""]
    parts.append(
        "Accuracy % on the target rows not labeled; L2-normalised SURF rows, `RidgeClassifier(alpha=1)`. "
        "Command: `python -m benchmarks.multi_source`."
    )
    if args.setting in ("all", "labeled"):
        seeds = tuple(int(seed) for seed in args.seeds.split(","))
        accuracy, choices = run_labeled(targets, seeds, tradaboost=args.tradaboost)
        parts += [
            "",
            f"### 3 labeled target rows per class (seeds {', '.join(map(str, seeds))}, mean)",
            "",
            format_table(accuracy, targets),
            "",
            format_choices(choices),
        ]
    if args.setting in ("all", "unlabeled"):
        accuracy, choices = run_unlabeled(targets)
        parts += [
            "",
            "### No labeled target row",
            "",
            format_table(accuracy, targets),
            "",
            format_choices(choices),
        ]
    text = "\n".join(parts) + "\n"
    print("\n" + text)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
