"""Office-Caltech10 (SURF): dense ports of the JDA / TCA reference code, formulation by formulation.

Long et al.'s MATLAB ``JDA.m`` (and ``TCA.m``, its first round) in numpy, to check which
problem and which eigenvector normalisation produce the published rows. Every round: MMD
matrix ``M = e e' C + sum_c e_c e_c'`` (the class terms from the second round on), scaled to
unit Frobenius norm, centering ``H``, the ``k`` generalized eigenvectors of smallest
eigenvalue of

- ``form="primal"``: ``(X M X' + lam I, X H X')``, ridge on the ``m x k`` projection, ``Z = A' X``;
- ``form="dual"``: ``(K M K' + lam I, K H K')`` with ``K = X' X``, ridge on the ``n x k`` dual
  coefficients, ``Z = A' K`` (the linear-kernel problem), solved in the span of ``X'``;

with the eigenvectors scaled by ``norm``: ``"unit"`` (unit Euclidean norm, as MATLAB's ``eigs``
returns them), ``"constraint"`` (``A' (.. + lam I) A = I``) or ``"variance"``
(``A' (.. H ..) A = I``, ARPACK's B-inner product). Columns of ``X`` (samples) and of ``Z``
are scaled to unit L2 norm; 1-NN of the target on the source gives the pseudo-labels and the
prediction after the last round.

Run from the repository root::

    python -m benchmarks.oc10.jda_reference                          # JDA, dual, unit (the default)
    python -m benchmarks.oc10.jda_reference --form primal --norm constraint
    python -m benchmarks.oc10.jda_reference --components 30 --rounds 1   # TCA
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import linalg
from sklearn.neighbors import KNeighborsClassifier

from ._common import format_table, parse_tasks, published_rows, run_methods


def _unit_columns(Z: np.ndarray) -> np.ndarray:
    return Z / np.linalg.norm(Z, axis=0, keepdims=True)


def reference_jda(Xs, ys, Xt, *, k=100, lam=1.0, rounds=10, form="dual", norm="unit"):
    """Target predictions of the reference JDA (``rounds=1``: TCA)."""
    X = _unit_columns(np.vstack([Xs, Xt]).T)  # m x n, one column per sample
    ns, n = len(Xs), X.shape[1]
    if form == "dual":  # K = X'X = V S^2 V', A = V g: the problem in g with features S^2 V'
        _, S, Vt = np.linalg.svd(X, full_matrices=False)
        keep = S > S.max() * 1e-10
        X = (S[keep] ** 2)[:, None] * Vt[keep]
    m = X.shape[0]
    classes = np.unique(ys)
    XHX = X @ (np.eye(n) - 1.0 / n) @ X.T
    pseudo = None
    for _ in range(rounds):
        e = np.r_[np.full(ns, 1 / ns), np.full(n - ns, -1 / (n - ns))]
        M = np.outer(e, e) * len(classes)
        if pseudo is not None:
            for c in classes:
                e = np.zeros(n)
                e[:ns][ys == c] = 1 / np.sum(ys == c)
                if np.any(pseudo == c):
                    e[ns:][pseudo == c] = -1 / np.sum(pseudo == c)
                M += np.outer(e, e)
        constraint = X @ (M / np.linalg.norm(M)) @ X.T + lam * np.eye(m)
        # smallest l of (constraint, XHX) = largest 1/l of (XHX, constraint), positive definite
        theta, A = linalg.eigh(XHX, constraint, subset_by_index=[m - k, m - 1])
        if norm == "unit":
            A = A / np.linalg.norm(A, axis=0)
        elif norm == "variance":
            A = A / np.sqrt(theta)
        Z = _unit_columns(A.T @ X)
        pseudo = KNeighborsClassifier(1).fit(Z[:, :ns].T, ys).predict(Z[:, ns:].T)
    return pseudo


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", help="comma-separated tasks such as C-A,D-W (default: all 12)")
    parser.add_argument("--form", choices=["dual", "primal"], default="dual")
    parser.add_argument("--norm", choices=["unit", "constraint", "variance"], default="unit")
    parser.add_argument("--components", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args(argv)
    tasks = parse_tasks(args.tasks)
    name = f"reference {args.form}, {args.norm} norm, k={args.components}, T={args.rounds}"

    def method(Xs, ys, Xt):
        return reference_jda(
            Xs, ys, Xt, k=args.components, rounds=args.rounds, form=args.form, norm=args.norm
        )

    accuracy, seconds = run_methods({name: method}, tasks)
    names = ("TCA", "JDA", "JDA, ICCV 2013 Table 2")
    reference = {k: v for k, v in published_rows().items() if k in names}
    print()
    print(format_table(accuracy, seconds, tasks, reference=reference))


if __name__ == "__main__":
    main()
