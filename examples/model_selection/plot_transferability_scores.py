"""
Ranking source models before training: LEEP, NCE, LogME and H-score
===================================================================

Several models trained on source tasks are at hand, and a new task comes with a few labeled
rows. Which source model should be reused? Transferability scores answer from one pass of
each model over the labeled rows, without training anything on them:

- :func:`~skltransfer.metrics.leep_score` (LEEP, Nguyen et al. 2020) and its scorer
  :class:`~skltransfer.metrics.LEEPScorer` read the source model's probabilities;
- :func:`~skltransfer.metrics.nce_score` (NCE, Tran et al. 2019) and
  :class:`~skltransfer.metrics.NCEScorer` read its hard source labels;
- :func:`~skltransfer.metrics.logme_score` (LogME, You et al. 2021) and
  :func:`~skltransfer.metrics.h_score` (H-score, Bao et al. 2019) read features.

The source models here are logistic regressions trained on the source digits of
:func:`~skltransfer.datasets.make_digits_shift` for four source tasks: the digit itself,
the digit modulo 3, its parity, and labels drawn at random. The new task is the digit of
the shifted target images, with 100 labeled rows; the check is the accuracy of a
classifier trained on those 100 rows on top of each source model's outputs.
"""

# %%
# Four source models
# ------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skltransfer.datasets import make_digits_shift
from skltransfer.metrics import LEEPScorer, NCEScorer, h_score, leep_score, logme_score, nce_score

Xs, ys, Xt, yt = make_digits_shift(random_state=0)
rng = np.random.default_rng(0)
tasks = {
    "digit": ys,
    "digit mod 3": ys % 3,
    "parity": ys % 2,
    "random": rng.integers(0, 10, len(ys)),
}
sources = {
    name: make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=1000)).fit(Xs, labels)
    for name, labels in tasks.items()
}
labeled = rng.choice(len(yt), 100, replace=False)
rest = np.setdiff1d(np.arange(len(yt)), labeled)

# %%
# Scores from the labeled rows alone
# ----------------------------------
# The scorers take the source model, the rows and their labels, as ``scoring`` in a
# ``GridSearchCV`` over source models would; the functions take the model's outputs. The
# features of LogME and H-score are the source model's log-probabilities.
scores = {"LEEP": {}, "NCE": {}, "LogME": {}, "H-score": {}}
accuracy = {}
for name, source in sources.items():
    X_new, y_new = Xt[labeled], yt[labeled]
    proba = source.predict_proba(X_new)
    scores["LEEP"][name] = LEEPScorer()(source, X_new, y_new)
    assert np.isclose(scores["LEEP"][name], leep_score(proba, y_new))
    scores["NCE"][name] = NCEScorer()(source, X_new, y_new)
    assert np.isclose(scores["NCE"][name], nce_score(source.predict(X_new), y_new))
    features = np.log(np.clip(proba, 1e-12, None))
    scores["LogME"][name] = logme_score(features, y_new)
    scores["H-score"][name] = h_score(features, y_new)
    # the check: a classifier trained on the 100 labeled rows on top of the source outputs
    head = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(features, y_new)
    outputs = np.log(np.clip(source.predict_proba(Xt[rest]), 1e-12, None))
    accuracy[name] = accuracy_score(yt[rest], head.predict(outputs))
    print(
        f"{name:12s} LEEP {scores['LEEP'][name]:6.3f}  NCE {scores['NCE'][name]:6.3f}  "
        f"LogME {scores['LogME'][name]:6.3f}  H-score {scores['H-score'][name]:6.3f}  "
        f"accuracy after transfer {accuracy[name]:.3f}"
    )

# %%
# Do the scores rank the models as the accuracy does?
# ---------------------------------------------------
fig, axes = plt.subplots(1, 4, figsize=(11, 3.2), sharey=True)
names = list(sources)
for ax, (score, values) in zip(axes, scores.items(), strict=True):
    ax.scatter([values[n] for n in names], [accuracy[n] for n in names])
    for n in names:
        ax.annotate(n, (values[n], accuracy[n]), fontsize="small", xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel(score)
    ax.margins(x=0.25)
axes[0].set_ylabel("target accuracy after transfer")
fig.suptitle("Transferability scores (x) against the accuracy they predict (y)")
fig.tight_layout()
plt.show()

# %%
# Here the four scores order the source models as the accuracy after transfer does: the
# digit model first, then digit modulo 3, random labels, parity (LogME nearly ties the last
# two). They are not on one scale: LEEP and NCE are log-likelihoods (at most 0; a model that
# says nothing scores about :math:`-\log 10 \approx -2.30` on ten balanced classes), LogME is
# an evidence per row and the H-score a sum over classes, so compare each score across
# models, not across scores. LEEP and NCE separate the candidates by little under this
# strong shift, because they read only what the source model predicts on the shifted images:
# with the source models fitted at ``C=1`` instead of ``C=0.1``, both put the digit-modulo-3
# model slightly ahead of the digit model, while LogME and the H-score, which read the
# outputs as features, still ranked the digit model first. The scores come from one draw of
# 100 labeled rows.
