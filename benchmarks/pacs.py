"""PACS with the small CNN of ``office31.py``: multi-source domain adaptation, no target label.

PACS (Li et al. 2017): 9,991 images of 7 classes (dog, elephant, giraffe, guitar, horse,
house, person) in four domains of very different style: art_painting, cartoon, photo,
sketch. Each domain in turn is the target; the other three, pooled, are the labeled source
(the usual multi-source protocol; the pooled source is one domain to every method here).
The target images are given unlabeled (``y == -1``, :func:`skltransfer.stack_domains`)
and every target image is scored (accuracy).

Backbone, images and methods are those of ``benchmarks/office31.py`` (imported from it):
the small CNN pretrained on CIFAR-10 images, reused from its cache (``--pretrain-images``
and ``--pretrain-epochs`` name the cached ``.keras``; ``--pretrain-data`` is only needed
when it is not cached), images resized to ``--size`` pixels. Rows:

- source only: ``FineTunedCNNClassifier(backbone)`` with its defaults, fit on the source;
- TENT (``skltransfer.keras.source_free``) adapting that classifier (fit time: the
  adaptation alone);
- shallow pipelines: ``PretrainedFeatureExtractor(backbone)`` -> ``StandardScaler`` /
  ``DomainStandardScaler`` -> ``LogisticRegression`` (deterministic: one run for every seed);
- the defaults given the target rows: ``FineTunedCNNClassifier(backbone).fit(
  *stack_domains(Xs, ys, Xt))`` (``target_loss="auto"`` adapts with information
  maximisation and the ~1,000-step budget);
- ``domain_loss="mmd", target_loss="im"`` (DAN + IM).

``--methods`` keeps the rows whose names contain one of its comma-separated substrings.

Data: ``--data DIR`` holds ``art_painting``, ``cartoon``, ``photo``, ``sketch``, each
``<class>/*`` (``.jpg`` or ``.png``), e.g. ``PACS`` of
github.com/MachineLearning2020/Homework3-PACS. Decoded, resized images (``.npz``) and
finished results (``pacs_results_<tag>.json``, so that an interrupted run resumes) are
cached under ``--cache`` (default ``~/.cache/skltransfer-benchmarks``). Nothing is
downloaded.

Usage::

    python benchmarks/pacs.py --data DIR --pretrain-images 20000 --pretrain-epochs 3 \\
        --targets art_painting cartoon photo sketch --seeds 0       # see results/pacs.md
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from office31 import (
    DEEP_METHODS,
    SHALLOW_METHODS,
    load_image_folder,
    pretrained_backbone,
    run_one,
    source_free_methods,
    table,
    warning_summary,
)

PACS_DOMAINS = ("art_painting", "cartoon", "photo", "sketch")

_by_name = {m[0]: m for m in DEEP_METHODS + SHALLOW_METHODS}
# target_loss="auto" is the default: passing it makes run_one fit on the stacked source and
# target rows (as ``fit(*stack_domains(Xs, ys, Xt))``) with the estimator's defaults.
DEFAULTS_WITH_TARGET = ("defaults, given the target rows", "cnn", {"target_loss": "auto"}, "")
METHODS = [
    _by_name["source only (defaults)"],
    "TENT",  # replaced by the TENT row of office31.source_free_methods when importable
    _by_name["extractor + scaler + logistic (no adaptation)"],
    _by_name["extractor + `DomainStandardScaler` + logistic"],
    DEFAULTS_WITH_TARGET,
    _by_name['DAN + IM (`domain_loss="mmd", target_loss="im"`)'],
]


def load_pacs(data: Path, size: int, cache: Path):
    domains = {}
    for name in PACS_DOMAINS:
        domains[name] = load_image_folder(data / name, size, cache, f"pacs_{name}")
    classes = {tuple(sorted(p.name for p in (data / d).iterdir() if p.is_dir())) for d in PACS_DOMAINS}
    if len(classes) != 1:
        raise SystemExit(f"the PACS domains under {data} do not share their class folders: {classes}")
    return domains


def multi_source(domains, target: str):
    """The other domains pooled as the labeled source; the target domain."""
    sources = [d for d in PACS_DOMAINS if d != target]
    Xs = np.concatenate([domains[d][0] for d in sources])
    ys = np.concatenate([domains[d][1] for d in sources])
    return (Xs, ys), domains[target]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with art_painting/, cartoon/, ...")
    parser.add_argument(
        "--pretrain-data", type=Path, default=None, help="CIFAR-10 train/<class>/*.jpg (if not cached)"
    )
    parser.add_argument("--cache", type=Path, default=Path("~/.cache/skltransfer-benchmarks").expanduser())
    parser.add_argument("--size", type=int, default=32, help="image side in pixels (default 32)")
    parser.add_argument("--pretrain-images", type=int, default=50000)
    parser.add_argument("--pretrain-epochs", type=int, default=10)
    parser.add_argument("--targets", nargs="+", default=list(PACS_DOMAINS), choices=PACS_DOMAINS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", default="", help="comma-separated substrings of method names to keep")
    parser.add_argument("--report", action="store_true", help="only write the table of the cached results")
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results" / "pacs.md")
    args = parser.parse_args()
    args.cache = args.cache.expanduser()
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    total = time.perf_counter()

    backbone = pretrained_backbone(
        args.pretrain_data, args.size, args.pretrain_images, args.pretrain_epochs, args.cache
    )
    start = time.perf_counter()
    domains = load_pacs(args.data, args.size, args.cache)
    print(
        f"PACS at {args.size} px: "
        + ", ".join(f"{d} {len(v[1])}" for d, v in domains.items())
        + f" ({time.perf_counter() - start:.0f} s)",
        flush=True,
    )

    sf_rows, sf_note = source_free_methods()
    tent = [m for m in sf_rows if m[2]["cls"] == "TENTClassifier"]
    if not tent:
        sf_note = sf_note or "TENT skipped: `skltransfer.keras.source_free` has no `TENTClassifier`."
        print(sf_note, flush=True)
    else:
        sf_note = ""
    methods = [m for row in METHODS for m in (tent if row == "TENT" else [row])]
    if args.methods:
        keep = [k.strip() for k in args.methods.split(",")]
        methods = [m for m in methods if any(k in m[0] for k in keep)]

    tag = f"{args.size}px_{args.pretrain_images}img_{args.pretrain_epochs}ep"
    store = args.cache / f"pacs_results_{tag}.json"
    results = json.loads(store.read_text()) if store.exists() else {}
    setting = "unsupervised, multi-source (target: the column; source: the other three domains)"
    for seed in args.seeds:
        for target in args.targets:
            (Xs, ys), (Xt, yt) = multi_source(domains, target)
            for method in methods:
                if method[1] == "shallow" and seed != args.seeds[0]:
                    continue
                key = f"{setting}|{target}|{method[0]}|{seed}"
                if key in results or args.report:
                    continue
                accuracy, seconds, notes, _ = run_one(method, Xs, ys, Xt, yt, backbone, seed, target)
                results[key] = {
                    "accuracy": accuracy,
                    "seconds": seconds,
                    "warnings": notes,
                    "load_average": round(os.getloadavg()[0], 2),
                    "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                }
                store.write_text(json.dumps(results, indent=1))
                print(
                    f"{target} | {method[0]} | seed {seed}: {accuracy:.3f} ({seconds:.1f} s, "
                    f"load {os.getloadavg()[0]:.1f})" + "".join(f"\n    {n}" for n in notes),
                    flush=True,
                )

    info_path = backbone.with_suffix(".json")
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    n_images = {d: len(v[1]) for d, v in domains.items()}
    shown = [r for k, r in results.items() if k.split("|")[1] in args.targets]
    loads = [r["load_average"] for r in shown if "load_average" in r]
    dates = sorted(r["finished"] for r in shown if "finished" in r)
    header = [
        "# PACS, small CNN pretrained on CIFAR-10, multi-source domain adaptation",
        "",
        f"Command: `{command}` ({time.perf_counter() - total:.0f} s for this invocation; results of "
        "earlier invocations with the same data and backbone are read from the cache).",
        "",
        f"Data: PACS ({', '.join(f'{k} {v}' for k, v in n_images.items())} images, 7 classes), resized "
        f"to {args.size} x {args.size} px. Protocol: each domain in turn is the target (a column), "
        "the other three pooled are the labeled source (multi-source, the pooled source treated as one "
        "domain); the target images are given unlabeled and every one of them is scored. Backbone: "
        f"`build_backbone` of `benchmarks/office31.py` ({info.get('parameters', '?')} parameters), "
        f"trained on {info.get('images', '?')} CIFAR-10 training images for {info.get('epochs', '?')} "
        f"epochs (hold-out accuracy {info.get('holdout_accuracy', '?')}), the cached `.keras` of "
        "`office31.py`; no ImageNet weights. Every method starts from this backbone.",
        "",
        "Target accuracy (%) on every target image (chance: 14.3 %, 7 classes), mean ± std over the "
        f"seeds run (column `seeds`; asked for: {', '.join(map(str, args.seeds))}; the shallow "
        "pipelines are deterministic: one run). A target column appears once a result exists, so a row "
        "without its mean missed a target. Fit time is the mean seconds of one fit (feature extraction "
        "included; TENT: the adaptation alone, on the source-only classifier of the same seed), on a "
        "shared 2-core CPU"
        + (
            f" (1-minute load average at the end of the fits: {min(loads):.1f}-{max(loads):.1f}"
            + (f"; fits finished {dates[0]} to {dates[-1]}" if dates else "")
            + ")"
            if loads
            else ""
        )
        + ". Every parameter not listed is the estimator's default; nothing was chosen on target labels.",
    ]
    if sf_note:
        header += ["", sf_note]
    body = [table(setting, methods, list(args.targets), args.seeds, results)]
    notes = warning_summary(results, args.targets)
    if notes:
        body.append(notes)
    text = "\n\n".join(["\n".join(header), *body]) + "\n"
    print("\n" + text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(f"written to {args.output}")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
