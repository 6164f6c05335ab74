"""
Estimating accuracy from a few labeled rows: LabeledOnly and the bootstrap
==========================================================================

A target domain often comes with a few labeled rows among many unlabeled ones, stacked in one
``X`` with ``y == -1`` on the unlabeled rows. Two things go wrong with plain scikit-learn
tools: a classifier learns ``-1`` as a class, and a scorer such as ``"accuracy"`` counts every
unlabeled row of a test fold as a wrong answer. :class:`~skltransfer.LabeledOnly` (what
:func:`~skltransfer.make_da_pipeline` wraps the last step in) fits and scores the labeled rows
only; :func:`~skltransfer.model_selection.get_labeled_scorer` turns any scikit-learn scorer
into one that skips the unlabeled rows. With so few labeled rows, the bootstrap
(:class:`~skltransfer.model_selection.BootstrapSplit`, Efron's
:func:`~skltransfer.model_selection.bootstrap_632_score`) estimates the accuracy from more
fits than a 5-fold split.

The data are the shifted target digits of :func:`~skltransfer.datasets.make_digits_shift`:
40 of them labeled, the others not. The labels of the others, hidden from every estimate,
give the true accuracy.
"""

# %%
# Five estimates of one accuracy, over ten draws of 40 labeled rows
# -----------------------------------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import accuracy_score
from sklearn.model_selection import KFold, cross_val_score
from sklearn.neighbors import NearestCentroid
from sklearn.preprocessing import StandardScaler

from skltransfer import LabeledOnly, make_da_pipeline
from skltransfer.datasets import make_digits_shift
from skltransfer.model_selection import BootstrapSplit, bootstrap_632_score, get_labeled_scorer

_, _, Xt, yt = make_digits_shift(random_state=0)
model = make_da_pipeline(StandardScaler(), NearestCentroid())
assert isinstance(model.steps[-1][1], LabeledOnly)

estimates = {
    "5-fold,\n'accuracy'": [],
    "5-fold,\nlabeled scorer": [],
    "bootstrap,\nout of bag": [],
    ".632\nbootstrap": [],
}
truth = []
rng = np.random.default_rng(0)
for draw in range(10):
    labeled = rng.choice(len(yt), 40, replace=False)
    y = np.full(len(yt), -1)
    y[labeled] = yt[labeled]
    folds = KFold(5, shuffle=True, random_state=draw)
    estimates["5-fold,\n'accuracy'"].append(
        cross_val_score(model, Xt, y, cv=folds, scoring="accuracy").mean()
    )
    labeled_accuracy = get_labeled_scorer("accuracy")
    estimates["5-fold,\nlabeled scorer"].append(
        cross_val_score(model, Xt, y, cv=folds, scoring=labeled_accuracy).mean()
    )
    bootstrap = BootstrapSplit(n_splits=20, random_state=draw)
    estimates["bootstrap,\nout of bag"].append(
        cross_val_score(model, Xt, y, cv=bootstrap, scoring=labeled_accuracy).mean()
    )
    estimates[".632\nbootstrap"].append(
        bootstrap_632_score(model, Xt, y, scoring=labeled_accuracy, n_splits=20, random_state=draw)
    )
    hidden = y == -1
    truth.append(accuracy_score(yt[hidden], model.fit(Xt, y).predict(Xt[hidden])))

truth = np.array(truth)
for name, values in estimates.items():
    error = np.array(values) - truth
    print(f"{name.replace(chr(10), ' '):28s} mean error {error.mean():+.3f}, spread {error.std():.3f}")

# %%
# Error of each estimate
# ----------------------
fig, ax = plt.subplots(figsize=(8, 3.8))
names = list(estimates)
ax.boxplot([np.array(estimates[n]) - truth for n in names])
ax.set_xticks(np.arange(1, len(names) + 1), names)
ax.axhline(0, color="gray", linewidth=0.8)
ax.set_ylabel("estimate - true accuracy")
ax.set_title("Accuracy of a classifier on 40 labeled target digits, estimated ten times")
fig.tight_layout()
plt.show()

# %%
# The plain ``"accuracy"`` scorer counts the unlabeled rows of each test fold as errors and
# reports less than half of the true accuracy; the labeled scorer removes that bias. Every
# estimate that scores labeled rows only is still off, each its own way. A 5-fold split
# trains on 32 of the 40 rows and underestimates a little (by about 0.06 in the run printed
# above), with the widest spread. The out-of-bag bootstrap trains on about 63% of the
# distinct rows and underestimates more (about 0.12), with less spread. The .632 estimate
# blends in the score of the fit on all 40 rows, scored on those same rows, and here
# overshoots (about +0.07): with 40 rows in 64 dimensions that apparent score is far too
# optimistic. Ten draws are few: read the boxes as an indication, not a ranking.
