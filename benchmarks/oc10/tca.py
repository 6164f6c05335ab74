"""Office-Caltech10 (SURF): TCA and JDA of skltransfer against ADAPT's and skada's TCA.

Published setting (Pan et al. 2011 as run by Long et al. 2013): every row scaled to unit L2
norm, 30 linear-kernel components with ``mu = 1``, embedded rows scaled to unit L2 norm
again, 1-nearest-neighbour classifier. JDA: 100 components, ``mu = 1``, 10 rounds. No
hyperparameter is chosen on target labels. The 30-component JDA row is the setting of the
JDA row of the data folder's README (the 30 components of its TCA row), which it reproduces;
the 100-component row reproduces the JDA row of Long et al.'s paper.

The peers weight the MMD term instead of the ridge term and do not scale the MMD matrix:
their ``mu`` equivalent to ours is ``1 / (mu * ||L||_F) = 1 / (mu * (1/ns + 1/nt))``, computed
from the domain sizes of each task. Their row of the table uses it.

Run from the repository root (the peers need the benchmark environment)::

    python -m benchmarks.oc10.tca                   # all methods, 12 tasks
    python -m benchmarks.oc10.tca --tasks C-A,D-W --methods ours
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import Normalizer, normalize

from skltransfer import JointMMDAligner, MMDAligner, make_da_pipeline

from ._common import da_pipeline_method, format_table, parse_tasks, published_rows, run_methods


def published_pipeline(aligner):
    """The published pipeline around an aligner: L2 rows, align, L2 rows, 1-NN."""
    return make_da_pipeline(Normalizer(), aligner, Normalizer(), KNeighborsClassifier(n_neighbors=1))


def our_methods() -> dict:
    return {
        "1NN, no adaptation": lambda Xs, ys, Xt: KNeighborsClassifier(1).fit(Xs, ys).predict(Xt),
        "MMDAligner exact": da_pipeline_method(
            published_pipeline(MMDAligner(30, kernel="linear", mu=1.0, solver="exact", random_state=0))
        ),
        "MMDAligner Nyström (500 landmarks)": da_pipeline_method(
            published_pipeline(
                MMDAligner(30, kernel="linear", mu=1.0, solver="nystroem", n_landmarks=500, random_state=0)
            )
        ),
        "JointMMDAligner (JDA)": da_pipeline_method(
            published_pipeline(JointMMDAligner(100, kernel="linear", mu=1.0, n_iter=10, random_state=0))
        ),
        "JointMMDAligner (JDA, 30 components)": da_pipeline_method(
            published_pipeline(JointMMDAligner(30, kernel="linear", mu=1.0, n_iter=10, random_state=0))
        ),
        "MMDAligner exact, component_norm='constraint'": da_pipeline_method(
            published_pipeline(
                MMDAligner(30, kernel="linear", mu=1.0, solver="exact", component_norm="constraint")
            )
        ),
        "JointMMDAligner (JDA), component_norm='constraint'": da_pipeline_method(
            published_pipeline(
                JointMMDAligner(100, kernel="linear", mu=1.0, n_iter=10, component_norm="constraint")
            )
        ),
    }


def _peer_mu(mu: float, ns: int, nt: int) -> float:
    return 1.0 / (mu * (1.0 / ns + 1.0 / nt))


def _one_nn(Zs, ys, Zt):
    return KNeighborsClassifier(1).fit(normalize(Zs), ys).predict(normalize(Zt))


def adapt_tca(Xs, ys, Xt, mu=1.0):
    from adapt.feature_based import TCA

    Xs, Xt = normalize(Xs), normalize(Xt)
    tca = TCA(None, Xt=Xt, n_components=30, mu=_peer_mu(mu, len(Xs), len(Xt)), kernel="linear", verbose=0)
    Zs = tca.fit_transform(Xs, Xt)
    return _one_nn(Zs, ys, tca.transform(Xt))


def skada_tca(Xs, ys, Xt, mu=1.0):
    from skada import TransferComponentAnalysisAdapter

    Xs, Xt = normalize(Xs), normalize(Xt)
    X = np.vstack([Xs, Xt])
    sample_domain = np.r_[np.ones(len(Xs), dtype=int), -np.ones(len(Xt), dtype=int)]
    tca = TransferComponentAnalysisAdapter(
        kernel="linear", n_components=30, mu=_peer_mu(mu, len(Xs), len(Xt))
    )
    Z = tca.fit_transform(X, sample_domain=sample_domain)
    return _one_nn(Z[: len(Xs)], ys, Z[len(Xs) :])


def peer_methods() -> dict:
    methods = {}
    try:
        import adapt  # noqa: F401

        methods["ADAPT TCA"] = adapt_tca
    except ImportError:
        print("ADAPT not installed: its row is skipped (use the benchmark environment)")
    try:
        import skada  # noqa: F401

        methods["skada TCA"] = skada_tca
    except ImportError:
        print("skada not installed: its row is skipped (use the benchmark environment)")
    return methods


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", help="comma-separated tasks such as C-A,D-W (default: all 12)")
    parser.add_argument("--methods", choices=["all", "ours", "peers"], default="all")
    args = parser.parse_args(argv)
    tasks = parse_tasks(args.tasks)
    methods = {}
    if args.methods in ("all", "ours"):
        methods.update(our_methods())
    if args.methods in ("all", "peers"):
        methods.update(peer_methods())
    accuracy, seconds = run_methods(methods, tasks)
    names = ("1NN, no adaptation", "TCA", "JDA", "JDA, ICCV 2013 Table 2")
    reference = {k: v for k, v in published_rows().items() if k in names}
    print()
    print(format_table(accuracy, seconds, tasks, reference=reference))


if __name__ == "__main__":
    main()
