"""
Several source domains: leave one out, bootstrap the score, report on the target
================================================================================

With several labeled source domains, each can stand in for the unseen target in turn:
:class:`~skltransfer.model_selection.LeaveOneDomainOut` holds out one source domain per
split, trains on the others and the unlabeled target rows, and scores on the held-out
domain, so hyperparameters are chosen on a shift of the same kind as the one to correct.
Once a model is chosen, :func:`~skltransfer.model_selection.bootstrap_confidence_interval`
says how far a score measured on a few labeled target rows can be trusted, and
:func:`~skltransfer.metrics.transfer_report` gathers the target scores and the domain gap
before and after the model.
"""

# %%
# Three source "scanners" and a target one
# ----------------------------------------
# :func:`~skltransfer.datasets.make_digits_shift` draws a target device with the rotation,
# contrast loss, illumination gradient and noise it is given; four settings give three
# labeled source domains and one target domain. ``sample_domain`` numbers them: 0, 1 and 2
# for the sources, -1 for the target.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

import skltransfer as skt
from skltransfer.datasets import make_digits_shift
from skltransfer.metrics import transfer_report
from skltransfer.model_selection import LeaveOneDomainOut, bootstrap_confidence_interval

settings = [
    {"rotation": 5.0, "contrast": 0.9, "illumination": 0.2},
    {"rotation": 10.0, "contrast": 0.7, "illumination": 0.4},
    {"rotation": 15.0, "contrast": 0.5, "illumination": 0.6},
    {"rotation": 12.0, "contrast": 0.6, "illumination": 0.8},  # the target device
]
domains = [make_digits_shift(**setting, random_state=seed)[2:] for seed, setting in enumerate(settings)]
X = np.concatenate([Xd for Xd, _ in domains])
sample_domain = np.concatenate([np.full(len(yd), d if d < 3 else -1) for d, (_, yd) in enumerate(domains)])
y_true = np.concatenate([yd for _, yd in domains])
y = np.where(sample_domain < 0, -1, y_true)  # the target labels are unknown to every fit
target = sample_domain < 0
print({int(d): int(n) for d, n in zip(*np.unique(sample_domain, return_counts=True), strict=True)})

# %%
# Choosing the aligner's dimension, one held-out source domain at a time
# ----------------------------------------------------------------------
# ``LeaveOneDomainOut`` reads the domains from ``groups``. Each candidate is scored three
# times, once per held-out source; the target rows join every training fold, unlabeled.
pipe = skt.make_da_pipeline(
    skt.MMDAligner(random_state=0), StandardScaler(), LogisticRegression(max_iter=2000)
)
grid = {"mmdaligner__n_components": [5, 10, 20, 40]}
search = GridSearchCV(pipe, grid, cv=LeaveOneDomainOut()).fit(X, y, groups=sample_domain)
chosen = search.best_params_["mmdaligner__n_components"]
print(f"chosen n_components: {chosen}")

# the target accuracy of every candidate, which the search could not see
oracle = [
    accuracy_score(y_true[target], pipe.set_params(mmdaligner__n_components=n).fit(X, y).predict(X[target]))
    for n in grid["mmdaligner__n_components"]
]

# %%
# A score from 50 labeled target rows, and its uncertainty
# --------------------------------------------------------
# Suppose 50 target rows get labeled for a final check. Their accuracy is one draw: the
# percentile bootstrap gives its 95% interval, against the accuracy on all target rows.
best = search.best_estimator_
rng = np.random.default_rng(0)
checked = rng.choice(np.flatnonzero(target), 50, replace=False)
score, low, high = bootstrap_confidence_interval(
    accuracy_score, y_true[checked], best.predict(X[checked]), random_state=0
)
print(f"accuracy on 50 labeled target rows: {score:.2f}, 95% interval [{low:.2f}, {high:.2f}]")
print(f"accuracy on every target row: {accuracy_score(y_true[target], best.predict(X[target])):.2f}")

# %%
# The figure: the held-out source domains against the target
# ----------------------------------------------------------
n_components = grid["mmdaligner__n_components"]
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
for split in range(3):
    scores = search.cv_results_[f"split{split}_test_score"]
    left.plot(n_components, scores, "o--", alpha=0.6, label=f"held-out source domain {split}")
left.plot(n_components, search.cv_results_["mean_test_score"], "o-", color="black", label="mean (selection)")
left.plot(n_components, oracle, "s-", color="C3", linewidth=2, label="target (unseen by the search)")
left.axvline(chosen, color="0.5", linestyle=":")
left.set_xscale("log")
left.xaxis.set_minor_formatter(plt.NullFormatter())
left.set_xticks(n_components, [str(n) for n in n_components])
left.set_xlabel("MMDAligner n_components")
left.set_ylabel("accuracy")
left.set_title("LeaveOneDomainOut: each source stands in for the target")
left.legend(fontsize=8)

draws = [
    accuracy_score(y_true[c], best.predict(X[c]))
    for c in (rng.choice(np.flatnonzero(target), 50, replace=False) for _ in range(200))
]
right.hist(draws, bins=15, color="0.75", label="accuracy of 200 other draws of 50 rows")
right.axvspan(low, high, color="C0", alpha=0.25, label="95% bootstrap interval of one draw")
right.axvline(score, color="C0", label="the draw")
right.axvline(accuracy_score(y_true[target], best.predict(X[target])), color="C3", label="all target rows")
right.set_xlabel("target accuracy")
right.set_title("How far 50 labeled target rows can be trusted")
right.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %%
# The report on the labeled target rows
# -------------------------------------
# ``transfer_report`` takes the rows with their true labels and ``sample_domain``; it
# scores the labeled target rows and measures the maximum mean discrepancy between the
# domains before the model and after its alignment step.
checked_rows = np.concatenate([np.flatnonzero(~target), checked])
print(transfer_report(best, X[checked_rows], y_true[checked_rows], sample_domain=sample_domain[checked_rows]))
