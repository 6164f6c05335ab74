"""Fit time of JDA, MEDA and CMMS on one Office-Caltech10 task, in their published settings.

Rows scaled to unit L2 norm, then ``fit`` on the stacked source + unlabeled target rows:
``JointMMDAligner(100, kernel="linear", mu=1, n_iter=10)``, ``MEDAClassifier(20)`` and
``CMMSClassifier()``. Prints one JSON line of seconds per method. Run it from the root of
each checkout to compare two versions, with the same thread settings::

    python -m benchmarks.oc10.fit_times                  # C -> A, the three methods
    python -m benchmarks.oc10.fit_times --task W-D --methods JDA
"""

from __future__ import annotations

import argparse
import json
import time

from sklearn.preprocessing import Normalizer

from skltransfer import CMMSClassifier, JointMMDAligner, MEDAClassifier, stack_domains

from ._common import load_domain, parse_tasks

METHODS = {
    "JDA": lambda: JointMMDAligner(100, kernel="linear", mu=1.0, n_iter=10, random_state=0),
    "MEDA": lambda: MEDAClassifier(20),
    "CMMS": lambda: CMMSClassifier(random_state=0),
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="C-A", help="one task such as C-A")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated: JDA,MEDA,CMMS")
    args = parser.parse_args(argv)
    ((source, target),) = parse_tasks(args.task)
    Xs, ys = load_domain(source)
    Xt, _ = load_domain(target)
    X, y = stack_domains(Normalizer().fit_transform(Xs), ys, Normalizer().fit_transform(Xt))
    seconds = {}
    for name in args.methods.split(","):
        start = time.perf_counter()
        METHODS[name]().fit(X, y)
        seconds[name] = round(time.perf_counter() - start, 3)
    print(json.dumps(seconds))


if __name__ == "__main__":
    main()
