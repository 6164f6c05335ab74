"""
The domain and target losses as functions: how they grow with the shift
=======================================================================

The deep domain-adaptation objectives of :class:`~skltransfer.FineTunedCNNClassifier`
(``domain_loss=...``, ``target_loss=...``) are also plain functions of a batch in
:mod:`skltransfer.keras.losses`, usable in any Keras training loop. This example evaluates
four of them on batches of scikit-learn's digits, as the shift of
:func:`~skltransfer.datasets.make_digits_shift` grows from none to twice its default:

- :func:`~skltransfer.keras.losses.mmd_loss` (multi-kernel MMD of DAN) and
  :func:`~skltransfer.keras.losses.coral_loss` (Deep CORAL) compare the source and target
  features of a batch, here the pixels;
- :func:`~skltransfer.keras.losses.information_maximization_loss` (SHOT) and
  :func:`~skltransfer.keras.losses.mcc_loss` (minimum class confusion) read only the
  predictions on the target batch, here of a logistic regression trained on the source.
"""

# %%
# Losses of one batch at growing shifts
# -------------------------------------
import keras
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression

from skltransfer.datasets import make_digits_shift
from skltransfer.keras.losses import coral_loss, information_maximization_loss, mcc_loss, mmd_loss


def value(tensor):
    return float(keras.ops.convert_to_numpy(tensor))


strengths = np.linspace(0.0, 2.0, 9)
losses = {"MMD": [], "CORAL": [], "information maximisation": [], "class confusion (MCC)": []}
accuracy = []
# the source images do not depend on the shift: one classifier serves every strength
Xs, ys, _, _ = make_digits_shift(random_state=0)
clf = LogisticRegression(C=0.1, max_iter=1000).fit(Xs, ys)
for strength in strengths:
    Xs_shift, _, Xt, yt = make_digits_shift(
        rotation=10.0 * strength,
        contrast=1.0 - 0.4 * strength / 2,
        illumination=0.6 * strength,
        noise=0.1 * strength,
        random_state=0,
    )
    assert np.array_equal(Xs_shift, Xs)
    source, target = Xs[:256].astype("float32"), Xt[:256].astype("float32")  # one batch each
    losses["MMD"].append(value(mmd_loss(source, target)))
    losses["CORAL"].append(value(coral_loss(source, target)))
    logits = clf.decision_function(target).astype("float32")
    losses["information maximisation"].append(value(information_maximization_loss(clf.predict_proba(target))))
    losses["class confusion (MCC)"].append(value(mcc_loss(logits)))
    accuracy.append(clf.score(Xt, yt))
    print(f"shift x{strength:.2f}: " + ", ".join(f"{k} {v[-1]:.3g}" for k, v in losses.items()))

# %%
# Each loss against the shift, with the target accuracy for reference
# --------------------------------------------------------------------
fig, axes = plt.subplots(1, 4, figsize=(12, 3.2))
for ax, (name, values) in zip(axes, losses.items(), strict=True):
    ax.plot(strengths, values, marker="o")
    ax.set_title(name)
    ax.set_xlabel("shift (x default)")
    twin = ax.twinx()
    twin.plot(strengths, accuracy, color="gray", linestyle="--", linewidth=1)
    twin.set_ylim(0, 1)
    twin.set_yticks([] if ax is not axes[-1] else [0, 0.5, 1])
axes[0].set_ylabel("loss on one batch")
fig.suptitle("Domain and target losses as the shift grows (dashed: target accuracy, right axis)")
fig.tight_layout()
plt.show()

# %%
# The two domain losses are close to 0 without a shift (two random halves of the same
# digits) and rise with it: minimising them during training pulls the target features
# towards the source ones. Deep CORAL divides by :math:`4 d^2` (:math:`d = 64` pixels here),
# hence its small values; only its growth matters. The two target losses read only
# predictions: as the shift grows, the source classifier becomes less sure of its target
# predictions, and both rise while its accuracy falls. The class confusion is high even
# without a shift, as the probabilities of this strongly regularised linear model (C=0.1), softened at
# MCC's temperature of 2.5, are spread over several classes. Lowering these losses on
# unlabeled target images can help, but they cannot tell a confident right answer from a
# confident wrong one. The values printed above are for one batch of 256 rows per domain; on
# a network they are computed on its features and logits, batch by batch.
