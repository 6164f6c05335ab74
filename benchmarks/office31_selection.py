"""Office-31: choosing the deep objective and its weight without target labels, and the regret.

Per task and seed, every candidate of a grid over ``FineTunedCNNClassifier``'s objectives
(``domain_loss``, ``target_loss`` and their weights; all other parameters at their
defaults) is fitted once on 80 % of the labeled source images (stratified, drawn by the
seed) and every unlabeled target image. Each label-free scorer of
:mod:`skltransfer.model_selection` then scores the fitted candidate on the rows a
``DomainAwareSplit(..., unlabeled_in_test=True)`` test fold would hold: the 20 % held-out
source images and the target images (``y == -1``). The scorer's choice is the candidate
with the highest score; its **regret** is the target accuracy of the best candidate (the
oracle, which reads the target labels) minus the target accuracy of the chosen one.

Scorers: prediction entropy, information maximization, soft neighborhood density (SND),
importance-weighted source accuracy (density ratio on the pixels: the estimator is not a
pipeline), deep embedded validation (the same space), and the plain held-out source
accuracy. Circular validation needs one more CNN fit per candidate and is left out.

The same backbone, data and cache as ``benchmarks/office31.py`` (which see for ``--data``
and ``--pretrain-data``); results go to ``office31_selection_<tag>.json`` in the cache so
that an interrupted run resumes.

Usage::

    python benchmarks/office31_selection.py --data DIR --pretrain-images 20000 --pretrain-epochs 3 \\
        --tasks 'D->W' 'W->D' 'A->W' --seeds 0      # see results/office31_selection.md
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from office31 import DOMAINS, TASKS, load_office31, pretrained_backbone

# (name, keyword arguments of FineTunedCNNClassifier); weights are multiples of the "auto" ones (1.0).
# Without target_loss, the default "auto" is "im" on these fits (they hold target rows).
CANDIDATES = [
    ("source only (target_loss=None)", {"target_loss": None}),
    ('domain_loss="mmd"', {"domain_loss": "mmd", "target_loss": None}),
    (
        'domain_loss="mmd", domain_loss_weight=0.3',
        {"domain_loss": "mmd", "domain_loss_weight": 0.3, "target_loss": None},
    ),
    (
        'domain_loss="mmd", domain_loss_weight=3',
        {"domain_loss": "mmd", "domain_loss_weight": 3.0, "target_loss": None},
    ),
    ('domain_loss="coral"', {"domain_loss": "coral", "target_loss": None}),
    ('domain_loss="adversarial"', {"domain_loss": "adversarial", "target_loss": None}),
    ('domain_loss="cdan"', {"domain_loss": "cdan", "target_loss": None}),
    ('target_loss="mcc"', {"target_loss": "mcc"}),
    ('target_loss="im"', {"target_loss": "im"}),
    ('target_loss="im", target_loss_weight=0.3', {"target_loss": "im", "target_loss_weight": 0.3}),
    ('target_loss="im", target_loss_weight=3', {"target_loss": "im", "target_loss_weight": 3.0}),
    ('domain_loss="mmd", target_loss="im"', {"domain_loss": "mmd", "target_loss": "im"}),
]
HELD_OUT_SOURCE = 0.2


def scorers() -> dict:
    """The label-free scorers, by the name the tables use."""
    from skltransfer.model_selection import (
        DeepEmbeddedValidationScorer,
        ImportanceWeightedScorer,
        InformationMaximizationScorer,
        PredictionEntropyScorer,
        SoftNeighborhoodDensityScorer,
    )

    def source_accuracy(estimator, X, y):
        labeled = y != -1
        return float(np.mean(estimator.predict(X[labeled]) == y[labeled]))

    return {
        "held-out source accuracy": source_accuracy,
        "importance weighted": ImportanceWeightedScorer(),
        "deep embedded validation": DeepEmbeddedValidationScorer(),
        "prediction entropy": PredictionEntropyScorer(),
        "information maximization": InformationMaximizationScorer(),
        "soft neighborhood density": SoftNeighborhoodDensityScorer(),
    }


def split_source(ys, seed: int):
    """Stratified training / held-out indices of the source rows."""
    from sklearn.model_selection import train_test_split

    return train_test_split(np.arange(len(ys)), test_size=HELD_OUT_SOURCE, stratify=ys, random_state=seed)


def fit_and_score(params, Xs, ys, Xt, yt, backbone: Path, seed: int) -> dict:
    """Fit one candidate on the training source rows + the target rows; its scores and accuracy."""
    import skltransfer as skt

    shape = Xs.shape[1:]
    flat_s, flat_t = Xs.reshape(len(Xs), -1), Xt.reshape(len(Xt), -1)
    train, held = split_source(ys, seed)
    estimator = skt.FineTunedCNNClassifier(str(backbone), image_shape=shape, random_state=seed, **params)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(*skt.stack_domains(flat_s[train], ys[train], flat_t))
    seconds = time.perf_counter() - start
    X_eval = np.concatenate([flat_s[held], flat_t])
    y_eval = np.concatenate([ys[held], np.full(len(yt), -1)])
    scores = {name: float(scorer(estimator, X_eval, y_eval)) for name, scorer in scorers().items()}
    accuracy = float(np.mean(estimator.predict(flat_t) == yt))
    notes = sorted({f"{w.category.__name__}: {str(w.message)[:80]}" for w in caught})
    return {"accuracy": accuracy, "scores": scores, "seconds": seconds, "warnings": notes}


def regret_table(results: dict, tasks, seeds) -> str:
    """Per scorer: the candidate it picks on each task and seed, and the mean regret."""
    names = list(scorers())
    runs = []  # (task, seed, {candidate: record}) with every candidate present
    for task in tasks:
        for seed in seeds:
            records = {c: results.get(f"{task}|{c}|{seed}") for c, _ in CANDIDATES}
            if all(records.values()):
                runs.append((task, seed, records))
    if not runs:
        return "No task has every candidate yet."
    columns = [f"{task} (seed {seed})" for task, seed, _ in runs]
    lines = [
        "| rule | " + " | ".join(columns) + " | mean regret | worst regret |",
        "| --- |" + " ---: |" * (len(columns) + 2),
    ]

    def row(label, pick):
        cells, regrets = [], []
        for _, _, records in runs:
            best = max(r["accuracy"] for r in records.values())
            chosen = pick(records)
            regret = best - records[chosen]["accuracy"]
            regrets.append(regret)
            cells.append(f"{records[chosen]['accuracy'] * 100:.1f} ({regret * 100:.1f}): {chosen}")
        lines.append(
            f"| {label} | "
            + " | ".join(cells)
            + f" | {np.mean(regrets) * 100:.1f} | {np.max(regrets) * 100:.1f} |"
        )

    row("oracle (reads the target labels)", lambda r: max(r, key=lambda c: r[c]["accuracy"]))
    row('the defaults (target_loss="auto": "im" with target rows)', lambda r: 'target_loss="im"')
    row("source only", lambda r: CANDIDATES[0][0])
    row('one fixed setting: domain_loss="mmd", target_loss="im"', lambda r: CANDIDATES[-1][0])
    for name in names:
        row(f"{name} picks", lambda r, n=name: max(r, key=lambda c: r[c]["scores"][n]))
    return "\n".join(lines)


def candidate_table(results: dict, tasks, seeds) -> str:
    """Target accuracy and every score of every candidate (the raw material of the regrets)."""
    names = list(scorers())
    lines = []
    for task in tasks:
        for seed in seeds:
            records = [(c, results.get(f"{task}|{c}|{seed}")) for c, _ in CANDIDATES]
            records = [(c, r) for c, r in records if r]
            if not records:
                continue
            lines += [
                f"#### {task}, seed {seed}",
                "",
                "| candidate | target accuracy (%) | " + " | ".join(names) + " | fit s |",
                "| --- | ---: |" + " ---: |" * (len(names) + 1),
            ]
            for name, r in records:
                lines.append(
                    f"| {name} | {r['accuracy'] * 100:.1f} | "
                    + " | ".join(f"{r['scores'][n]:.3f}" for n in names)
                    + f" | {r['seconds']:.0f} |"
                )
            lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with amazon/, dslr/, webcam/")
    parser.add_argument("--pretrain-data", type=Path, default=None, help="CIFAR-10 train/<class>/*.jpg")
    parser.add_argument("--cache", type=Path, default=Path("~/.cache/skltransfer-benchmarks").expanduser())
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--pretrain-images", type=int, default=50000)
    parser.add_argument("--pretrain-epochs", type=int, default=10)
    parser.add_argument("--tasks", nargs="+", default=["D->W", "W->D", "A->W"], choices=TASKS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--report", action="store_true", help="only write the tables of the cached results")
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).parent / "results" / "office31_selection.md"
    )
    args = parser.parse_args()
    args.cache = args.cache.expanduser()
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    total = time.perf_counter()
    backbone = pretrained_backbone(
        args.pretrain_data, args.size, args.pretrain_images, args.pretrain_epochs, args.cache
    )
    domains = load_office31(args.data, args.size, args.cache)
    tag = f"{args.size}px_{args.pretrain_images}img_{args.pretrain_epochs}ep"
    store = args.cache / f"office31_selection_{tag}.json"
    results = json.loads(store.read_text()) if store.exists() else {}
    for seed in args.seeds:
        for task in args.tasks:
            (Xs, ys), (Xt, yt) = domains[task[0]], domains[task[-1]]
            for name, params in CANDIDATES:
                key = f"{task}|{name}|{seed}"
                if key in results or args.report:
                    continue
                results[key] = fit_and_score(params, Xs, ys, Xt, yt, backbone, seed)
                store.write_text(json.dumps(results, indent=1))
                print(f"{task} | {name} | seed {seed}: {results[key]['accuracy']:.3f}", flush=True)
    n_images = {DOMAINS[d]: len(v[1]) for d, v in domains.items()}
    text = "\n".join(
        [
            "# Office-31: label-free choice of the deep objective and its weight",
            "",
            f"Command: `{command}` ({time.perf_counter() - total:.0f} s for this invocation; earlier "
            "results are read from the cache).",
            "",
            f"Data and backbone as in `office31.md` ({', '.join(f'{k} {v}' for k, v in n_images.items())} "
            f"images at {args.size} px; the CIFAR-10 backbone of `benchmarks/office31.py`). Each candidate "
            f"is fitted on {100 - HELD_OUT_SOURCE * 100:.0f} % of the source images and every unlabeled "
            "target image; the scorers see the held-out source images and the target images. Cell: target "
            "accuracy (%) of the chosen candidate (regret in points): the candidate.",
            "",
            "## Regret of each rule",
            "",
            regret_table(results, args.tasks, args.seeds),
            "",
            "## Every candidate",
            "",
            candidate_table(results, args.tasks, args.seeds),
        ]
    )
    print("\n" + text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(f"written to {args.output}")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
