"""
Label shift: the class priors change, the classes do not
========================================================

Under *label shift* the target domain holds the same kinds of rows as the source, in other
proportions: a screening test moved from a general population to a clinic, a digit reader
moved to a country where some digits are more frequent. ``p(x | y)`` stays, ``p(y)``
changes, and a classifier trained on the source is biased towards the source's frequent
classes. :class:`~skltransfer.LabelShiftClassifier` estimates the target priors from the
unlabeled target rows and corrects the classifier's probabilities by the ratio of the
priors. :func:`~skltransfer.metrics.label_shift_test` says first whether there is a shift
to correct.
"""

# %%
# Source and target digits with different class priors
# ----------------------------------------------------
# scikit-learn's 8x8 digits (embedded, no download), made harder to read by the same heavy
# pixel noise in both domains, are split in two halves. The source keeps its near-uniform
# classes; the target is drawn from the other half with priors that fall geometrically from
# digit 0 to digit 9, so the images of a class look alike in both domains and only their
# frequencies differ.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import cross_val_predict, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skltransfer import LabelShiftClassifier, stack_domains
from skltransfer.metrics import label_shift_test

X_all, y_all = load_digits(return_X_y=True)
noise = np.random.default_rng(1).normal(scale=0.6, size=X_all.shape)
X_all = X_all / 16.0 + noise
Xs, X_pool, ys, y_pool = train_test_split(X_all, y_all, test_size=0.5, random_state=0, stratify=y_all)

rng = np.random.default_rng(0)
target_priors = 0.7 ** np.arange(10)
target_priors /= target_priors.sum()
n_target = 400
counts = np.minimum(rng.multinomial(n_target, target_priors), np.bincount(y_pool))
picked = np.concatenate(
    [rng.choice(np.flatnonzero(y_pool == c), n, replace=False) for c, n in enumerate(counts)]
)
Xt, yt = X_pool[picked], y_pool[picked]
print(f"{len(ys)} source rows, {len(yt)} target rows")

# %%
# Is there a shift? The test on predicted class frequencies
# ---------------------------------------------------------
# A classifier fitted on the source predicts the target rows; under label shift the
# frequencies of its predictions move with the priors. The source predictions are held
# out (cross-validated), so both sets are predictions on rows the classifier did not see.
base = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
held_out = cross_val_predict(base, Xs, ys, cv=5)
base.fit(Xs, ys)
statistic, p_value = label_shift_test(held_out, base.predict(Xt))
print(f"chi-square statistic {statistic:.1f}, p-value {p_value:.1e}")

# %%
# Estimating the target priors
# ----------------------------
# ``fit`` takes the stacked rows (target rows with ``y == -1``). The default method is EM
# (Saerens et al. 2002) on probabilities calibrated on held-out source predictions by
# bias-corrected temperature scaling; BBSE inverts the confusion matrix of held-out
# predictions instead.
X, y = stack_domains(Xs, ys, Xt)
fits = {
    "EM, BCTS calibration": LabelShiftClassifier(base, method="em", calibration="bcts"),
    "EM, no calibration": LabelShiftClassifier(base, method="em", calibration=None),
    "BBSE": LabelShiftClassifier(base, method="bbse"),
}
for clf in fits.values():
    clf.fit(X, y)
true_target = np.bincount(yt, minlength=10) / len(yt)

fig, ax = plt.subplots(figsize=(9, 4))
width = 0.16
classes = np.arange(10)
ax.bar(classes - 2 * width, fits["BBSE"].source_priors_, width, color="0.7", label="source priors")
ax.bar(classes - width, true_target, width, color="black", label="true target priors")
for offset, (name, clf) in zip((0, 1, 2), fits.items(), strict=True):
    error = np.abs(clf.target_priors_ - true_target).sum()
    ax.bar(classes + offset * width, clf.target_priors_, width, label=f"{name} (L1 error {error:.2f})")
ax.set_xticks(classes)
ax.set_xlabel("digit")
ax.set_ylabel("class prior")
ax.set_title("Target priors estimated from unlabeled target rows")
ax.legend(fontsize=8)
fig.tight_layout()

# %%
# The corrected classifier, and what calibration does
# ---------------------------------------------------
# The correction multiplies each class probability by ``target_priors_ / source_priors_``
# and renormalises. It only helps if the probabilities mean what they say: the left panel
# is the reliability diagram of the held-out source probabilities, as the estimator gives
# them and after the fitted calibration. On the right, the target accuracy of the source
# classifier and of each correction.
from sklearn.calibration import calibration_curve  # noqa: E402

proba = cross_val_predict(base, Xs, ys, cv=5, method="predict_proba")
confidence, correct = proba.max(axis=1), proba.argmax(axis=1) == ys
calibrated = fits["EM, BCTS calibration"]
logits = np.log(np.clip(proba, 1e-12, None)) / calibrated.temperature_ + calibrated.bias_
calibrated_proba = np.exp(logits - logits.max(axis=1, keepdims=True))
calibrated_proba /= calibrated_proba.sum(axis=1, keepdims=True)

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
for name, p in (("as given", proba), ("BCTS-calibrated", calibrated_proba)):
    hit = p.argmax(axis=1) == ys
    observed, predicted = calibration_curve(hit, p.max(axis=1), n_bins=8, strategy="quantile")
    left.plot(predicted, observed, "o-", label=name)
left.plot([0, 1], [0, 1], ":", color="0.5")
left.set_xlabel("confidence of the predicted class")
left.set_ylabel("fraction correct")
left.set_title(f"Held-out source rows (T = {calibrated.temperature_:.2f})")
left.legend()

accuracy = {"source classifier": accuracy_score(yt, base.predict(Xt))}
accuracy |= {name: accuracy_score(yt, clf.predict(Xt)) for name, clf in fits.items()}
right.barh(list(accuracy), list(accuracy.values()), color=["0.6", "C0", "C1", "C2"])
for i, value in enumerate(accuracy.values()):
    right.text(value, i, f" {value:.3f}", va="center")
right.set_xlim(min(accuracy.values()) - 0.05, max(accuracy.values()) + 0.05)
right.invert_yaxis()
right.set_xlabel("target accuracy")
right.set_title("Target accuracy")
fig.tight_layout()
plt.show()

# %%
# The correction needs only the target rows' predictions, and it does nothing for a change
# of the classes themselves (covariate or concept shift): test for label shift first, and
# measure on labeled target rows where you have some.
