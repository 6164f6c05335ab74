"""The shift diagnosis against every method on skada's four shift types.

Data: ``skada.datasets.make_shifted_datasets`` with ``n_samples_source=25`` and
``n_samples_target=25`` (200 source and 200 target rows; the generator makes 8 clusters of
that many rows, and 100 + 100 for ``subspace``), ``noise=0.3``, binary labels, for each of
skada's shift types (``covariate_shift``, ``target_shift`` (label shift),
``conditional_shift``, ``subspace``) and each seed. skada is not a dependency of
skltransfer: install it in a separate environment and run there with this repository on
``PYTHONPATH``, or dump the data sets once (``--dump DIR``, needs skada) and read them
anywhere (``--data DIR``, ``{shift}_{seed}.npz`` holding ``X``, ``y``, ``sample_domain``)::

    python3 -m venv /tmp/skadaenv && /tmp/skadaenv/bin/pip install skada
    PYTHONPATH=. /tmp/skadaenv/bin/python -m benchmarks.shift_diagnosis [--seeds 0 1 2]
    PYTHONPATH=. /tmp/skadaenv/bin/python -m benchmarks.shift_diagnosis --dump /tmp/shifts
    python -m benchmarks.shift_diagnosis --data /tmp/shifts

Every method fits on the source rows with their labels and the target rows with ``y == -1``
and is scored on the target rows' true labels, which nothing else reads. The base classifier
is ``SVC()`` with scikit-learn's defaults; every aligner keeps its defaults
(``n_components`` clipped to the 2 features); the label-shift corrections keep theirs
(``LabelShiftClassifier``: EM + BCTS), around ``CalibratedClassifierCV(SVC())`` (SVC has no
``predict_proba``) and around ``LogisticRegression()``, which is scored unadapted too.
"The diagnosis's choice" is ``diagnose_shift(X, y, estimator=SVC(), random_state=seed)
.make_estimator()`` with every default of ``diagnose_shift``; the second table says what it
diagnosed on each seed. Prints Markdown tables: target accuracy in %, mean over the seeds.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC

from skltransfer import (
    CORALAligner,
    DomainClassifierWeighting,
    DomainStandardScaler,
    GFKAligner,
    JointMMDAligner,
    KernelMeanMatching,
    LabelShiftClassifier,
    MMDAligner,
    SubspaceAligner,
    make_da_pipeline,
)
from skltransfer.metrics import diagnose_shift

SHIFTS = {
    "covariate_shift": "covariate shift",
    "target_shift": "label shift (target_shift)",
    "conditional_shift": "conditional shift",
    "subspace": "subspace shift",
}

METHODS = {
    "no adaptation (SVC)": lambda seed: make_da_pipeline(SVC()),
    "DomainStandardScaler": lambda seed: make_da_pipeline(DomainStandardScaler(), SVC()),
    "CORALAligner": lambda seed: make_da_pipeline(CORALAligner(), SVC()),
    "SubspaceAligner": lambda seed: make_da_pipeline(SubspaceAligner(n_components=2), SVC()),
    "GFKAligner": lambda seed: make_da_pipeline(GFKAligner(n_components=2), SVC()),
    "MMDAligner (TCA)": lambda seed: make_da_pipeline(MMDAligner(n_components=2, random_state=seed), SVC()),
    "JointMMDAligner (JDA)": lambda seed: make_da_pipeline(
        JointMMDAligner(n_components=2, random_state=seed), SVC()
    ),
    "DomainClassifierWeighting": lambda seed: DomainClassifierWeighting(SVC()),
    "KernelMeanMatching": lambda seed: KernelMeanMatching(SVC()),
    "LabelShiftClassifier (SVC)": lambda seed: LabelShiftClassifier(CalibratedClassifierCV(SVC())),
    "no adaptation (LogisticRegression)": lambda seed: make_da_pipeline(LogisticRegression()),
    "LabelShiftClassifier (LogisticRegression)": lambda seed: LabelShiftClassifier(LogisticRegression()),
}


def load(shift: str, seed: int, data: Path | None):
    """``X``, ``y`` (true labels of every row) and ``sample_domain`` of one data set."""
    if data is not None:
        with np.load(data / f"{shift}_{seed}.npz") as arrays:
            return arrays["X"], arrays["y"], arrays["sample_domain"]
    from skada.datasets import make_shifted_datasets

    return make_shifted_datasets(
        n_samples_source=25, n_samples_target=25, shift=shift, noise=0.3, label="binary", random_state=seed
    )


def target_accuracy(model, X, y, y_true) -> float:
    """Fit on every row (``y == -1`` on target rows); accuracy in % on the target rows' true labels."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    target = y == -1
    return 100.0 * float(np.mean(model.predict(X[target]) == y_true[target]))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--data", type=Path, default=None, help="read {shift}_{seed}.npz from this folder")
    parser.add_argument(
        "--dump", type=Path, default=None, help="write the data sets there (needs skada) and stop"
    )
    args = parser.parse_args(argv)

    if args.dump is not None:
        args.dump.mkdir(parents=True, exist_ok=True)
        for shift in SHIFTS:
            for seed in args.seeds:
                X, y, sample_domain = load(shift, seed, None)
                np.savez(args.dump / f"{shift}_{seed}.npz", X=X, y=y, sample_domain=sample_domain)
        print(f"wrote {len(SHIFTS) * len(args.seeds)} data sets to {args.dump}")
        return

    scores = {name: {shift: [] for shift in SHIFTS} for name in [*METHODS, "diagnosis's choice"]}
    diagnoses = {shift: [] for shift in SHIFTS}
    start = time.perf_counter()
    for shift in SHIFTS:
        for seed in args.seeds:
            X, y_true, sample_domain = load(shift, seed, args.data)
            y = np.where(sample_domain < 0, -1, y_true)  # what every method sees: no target label
            for name, make in METHODS.items():
                scores[name][shift].append(target_accuracy(make(seed), X, y, y_true))
            diagnosis = diagnose_shift(X, y, estimator=SVC(), random_state=seed)
            diagnoses[shift].append(diagnosis)
            scores["diagnosis's choice"][shift].append(
                target_accuracy(diagnosis.make_estimator(), X, y, y_true)
            )

    seeds = ", ".join(map(str, args.seeds))
    print(
        f"Target accuracy (%), mean over seeds {seeds}; skada make_shifted_datasets, noise 0.3, SVC base.\n"
    )
    print("| method | " + " | ".join(SHIFTS.values()) + " |")
    print("| --- |" + " ---: |" * len(SHIFTS))
    for name, by_shift in scores.items():
        cells = [f"{np.mean(values):.1f}" for values in by_shift.values()]
        label = f"**{name}**" if name == "diagnosis's choice" else name
        print(f"| {label} | " + " | ".join(cells) + " |")
    base = scores["no adaptation (SVC)"]
    choice = scores["diagnosis's choice"]
    gaps = {shift: np.mean(choice[shift]) - np.mean(base[shift]) for shift in SHIFTS}
    worst = min(np.subtract(choice[shift], base[shift]).min() for shift in SHIFTS)
    print(
        "\nChoice minus no adaptation (mean over seeds): "
        + ", ".join(f"{SHIFTS[shift]} {gap:+.1f}" for shift, gap in gaps.items())
        + f"; worst single seed {worst:+.1f} points.\n"
    )
    print("| shift | diagnosed (per seed) | recommended (per seed) |")
    print("| --- | --- | --- |")
    for shift, found in diagnoses.items():
        kinds = ", ".join(d.shift for d in found)
        chosen = Counter(d.recommended for d in found)
        print(f"| {SHIFTS[shift]} | {kinds} | " + ", ".join(f"{k} x{n}" for k, n in chosen.items()) + " |")
    print(f"\n{time.perf_counter() - start:.0f} s in all.")


if __name__ == "__main__":
    main()
