"""Label-free scorers choosing FineTunedCNNClassifier's domain loss, against target accuracy.

On ``skltransfer.datasets.make_digits_shift``, for each seed, the five settings of
``benchmarks/deep_da.py`` (no domain loss, MMD, CORAL and adversarial at their default
weights, adversarial at weight 1) are built by
``skltransfer.keras._demo.deep_adaptation_estimators``, and two settings with a target loss
(``target_loss="im"`` alone and with MMD: the MMD estimator with ``target_loss="im"`` set,
and without its domain loss) are fitted on
``stack_domains(Xs_train, ys_train, Xt)``. ``Xs_train`` is the source minus a fixed
stratified 20% (``train_test_split(..., stratify=ys, random_state=seed)``, the same rows for
every setting of a seed): the importance-weighted scorers read source labels, and on the
training rows they would score the fit, not the transfer. Each fitted model is scored on
``stack_domains(Xs_held, ys_held, Xt)`` (held-out labeled source rows, every target row with
``y == -1``) by ``PredictionEntropyScorer``, ``InformationMaximizationScorer``,
``SoftNeighborhoodDensityScorer``, ``ImportanceWeightedScorer``,
``DeepEmbeddedValidationScorer`` and ``CircularValidationScorer`` (one extra fit per model),
plus the plain accuracy on the held-out source rows as a reference. Target labels are read
only to evaluate: accuracy on the target digits outside the demo's 10-per-class labeled set,
as in ``deep_da.py``.

Per scorer and seed: the setting it picks (highest score), its regret (best target accuracy
of the seed minus that of the pick) and the Spearman rank correlation between its scores and
the target accuracies of the seven settings; then the means over the seeds.

Usage::

    python benchmarks/deep_da_selection.py --seeds 0 1 2      # see results/deep_da.md
    python benchmarks/deep_da_selection.py --seeds 0 --no-circular
"""

from __future__ import annotations

import argparse
import time

import numpy as np

SETTINGS = ("none", "mmd", "coral", "adv 0.1", "adv 1.0", "im", "mmd + im")
LOSSES = ("mmd", "coral", "adversarial", ("adversarial", 1.0))


def _scorers(circular: bool) -> dict:
    from sklearn.metrics import accuracy_score

    from skltransfer.model_selection import (
        CircularValidationScorer,
        DeepEmbeddedValidationScorer,
        ImportanceWeightedScorer,
        InformationMaximizationScorer,
        PredictionEntropyScorer,
        SoftNeighborhoodDensityScorer,
    )

    def source_accuracy(estimator, X, y):
        labeled = np.asarray(y) != -1
        return accuracy_score(np.asarray(y)[labeled], estimator.predict(X[labeled]))

    scorers = {
        "PredictionEntropyScorer": PredictionEntropyScorer(),
        "InformationMaximizationScorer": InformationMaximizationScorer(),
        "SoftNeighborhoodDensityScorer": SoftNeighborhoodDensityScorer(),
        "ImportanceWeightedScorer": ImportanceWeightedScorer(),
        "DeepEmbeddedValidationScorer": DeepEmbeddedValidationScorer(),
    }
    if circular:
        scorers["CircularValidationScorer"] = CircularValidationScorer()
    scorers["held-out source accuracy (reference)"] = source_accuracy
    return scorers


def _spearman(scores, accuracies) -> float:
    from scipy.stats import spearmanr

    scores = np.asarray(scores, dtype=float)
    if not np.all(np.isfinite(scores)) or np.ptp(scores) == 0:
        return float("nan")
    return float(spearmanr(scores, accuracies).statistic)


def run(seeds, circular: bool) -> None:
    from sklearn.base import clone
    from sklearn.model_selection import train_test_split

    from skltransfer import stack_domains
    from skltransfer._demo import FEW_LABELS_PER_CLASS, few_labeled_rows
    from skltransfer.datasets import make_digits_shift
    from skltransfer.keras._demo import deep_adaptation_estimators

    scorers = _scorers(circular)
    accuracy: dict[int, np.ndarray] = {}
    scores: dict[int, dict[str, np.ndarray]] = {}
    start = time.perf_counter()
    print("| seed | setting | target accuracy | " + " | ".join(scorers) + " |")
    print("| --- | --- |" + " ---: |" * (len(scorers) + 1))
    for seed in seeds:
        Xs, ys, Xt, yt = make_digits_shift(random_state=seed)
        test = np.setdiff1d(np.arange(len(yt)), few_labeled_rows(yt, FEW_LABELS_PER_CLASS, seed))
        train, held = train_test_split(np.arange(len(ys)), test_size=0.2, stratify=ys, random_state=seed)
        X, y = stack_domains(Xs[train], ys[train], Xt)
        X_score, y_score = stack_domains(Xs[held], ys[held], Xt)
        estimators = deep_adaptation_estimators(len(np.unique(ys)), (8, 8), LOSSES, random_state=seed)
        mmd = estimators[1][1]
        estimators += [
            ("im", clone(mmd).set_params(domain_loss=None, target_loss="im")),
            ("mmd + im", clone(mmd).set_params(target_loss="im")),
        ]
        accuracy[seed] = np.zeros(len(SETTINGS))
        scores[seed] = {name: np.full(len(SETTINGS), np.nan) for name in scorers}
        for i, (setting, (_, clf)) in enumerate(zip(SETTINGS, estimators, strict=True)):
            clf.fit(X, y)
            accuracy[seed][i] = np.mean(clf.predict(Xt[test]) == yt[test])
            for name, scorer in scorers.items():
                scores[seed][name][i] = scorer(clf, X_score, y_score)
            cells = " | ".join(f"{scores[seed][name][i]:.3f}" for name in scorers)
            print(f"| {seed} | {setting} | {accuracy[seed][i]:.3f} | {cells} |", flush=True)
    elapsed = time.perf_counter() - start

    print(f"\n{len(seeds)} seeds ({', '.join(map(str, seeds))}), {elapsed:.0f} s\n")
    header = " | ".join(f"seed {s}: pick, regret, rho" for s in seeds)
    print(f"| scorer | {header} | mean regret | mean rho |")
    print("| --- |" + " --- |" * len(seeds) + " ---: | ---: |")
    best = {seed: accuracy[seed].max() for seed in seeds}
    oracle = " | ".join(f"{SETTINGS[int(np.argmax(accuracy[s]))]} ({best[s]:.3f})" for s in seeds)
    print(f"| target accuracy (oracle) | {oracle} | 0.000 | 1.00 |")
    for name in scorers:
        cells, regrets, rhos = [], [], []
        for seed in seeds:
            values = scores[seed][name]
            pick = int(np.nanargmax(values))
            regret = best[seed] - accuracy[seed][pick]
            rho = _spearman(values, accuracy[seed])
            regrets.append(regret)
            rhos.append(rho)
            cells.append(f"{SETTINGS[pick]} ({accuracy[seed][pick]:.3f}), {regret:.3f}, {rho:+.2f}")
        mean_regret = f"{np.mean(regrets):.3f}" if regrets else "-"
        mean_rho = f"{np.nanmean(rhos):+.2f}" if np.any(np.isfinite(rhos)) else "-"
        print(f"| {name} | {' | '.join(cells)} | {mean_regret} | {mean_rho} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--no-circular", action="store_true", help="skip CircularValidationScorer (one extra fit per model)"
    )
    args = parser.parse_args()
    run(args.seeds, circular=not args.no_circular)


if __name__ == "__main__":
    main()
