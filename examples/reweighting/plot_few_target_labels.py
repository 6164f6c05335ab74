"""
A few labeled target rows: TrAdaBoost and TransferRidge
=======================================================

Sometimes a handful of target rows do have labels: a few images labeled by hand on the new
device, a few measurements from the new sensor. Fitting on them alone overfits; pooling them
with the many source rows drowns them. :class:`~skltransfer.TrAdaBoostClassifier` boosts
its way between the two: each round lowers the weight of the source rows it gets wrong and
raises that of the target rows it gets wrong. For regression,
:class:`~skltransfer.TrAdaBoostRegressor` moves weight from source to target rows step by
step, and :class:`~skltransfer.TransferRidge` fits the target rows with a ridge penalty that
pulls the coefficients towards the source model's. The labeled target rows are marked with
``sample_domain`` (the ``y == -1`` rule can only say "unlabeled").
"""

# %%
# Classification: the digits shift with k labeled target digits per class
# ------------------------------------------------------------------------
# :func:`~skltransfer.stack_domains` with the target labels and
# ``return_sample_domain=True`` gives ``sample_domain`` (0 for source rows, -1 for target
# rows), which ``fit`` takes. The other target digits are the test set. The curves show
# the transfer fits themselves (``guard=False``); the last section shows the guard, which
# compares a transfer fit with the plain fits it could have been.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, mean_squared_error

import skltransfer as skt
from skltransfer.datasets import make_digits_shift

Xs, ys, Xt, yt = make_digits_shift(random_state=0)
rng = np.random.default_rng(0)
per_class = [1, 3, 10]
curves = {"source only": [], "target only": [], "pooled": [], "TrAdaBoost": []}
for k in per_class:
    few = np.concatenate([rng.choice(np.flatnonzero(yt == c), k, replace=False) for c in range(10)])
    test = np.setdiff1d(np.arange(len(yt)), few)
    X, y, domain = skt.stack_domains(Xs, ys, Xt[few], yt[few], return_sample_domain=True)

    def lr():
        return LogisticRegression(C=0.1, max_iter=1000)

    curves["source only"].append(accuracy_score(yt[test], lr().fit(Xs, ys).predict(Xt[test])))
    curves["target only"].append(accuracy_score(yt[test], lr().fit(Xt[few], yt[few]).predict(Xt[test])))
    curves["pooled"].append(accuracy_score(yt[test], lr().fit(X, y).predict(Xt[test])))
    boost = skt.TrAdaBoostClassifier(lr(), n_estimators=10, random_state=0, guard=False)
    boost.fit(X, y, sample_domain=domain)
    curves["TrAdaBoost"].append(accuracy_score(yt[test], boost.predict(Xt[test])))
    print(f"{k:>2} per class: " + ", ".join(f"{name} {values[-1]:.3f}" for name, values in curves.items()))

# %%
# Regression: a linear relation that moved
# ----------------------------------------
# The source relation is ``y = x @ w``; in the target one coefficient changed and an offset
# appeared. With few target rows, ridge on them alone is noisy; the source fit is biased;
# both transfer methods use the source fit as a starting point.
n_features = 20
w_source = rng.normal(size=n_features)
w_target = w_source + np.r_[1.5, np.zeros(n_features - 1)]
Xs_r = rng.normal(size=(500, n_features))
ys_r = Xs_r @ w_source + 0.5 * rng.normal(size=500)
Xt_test = rng.normal(size=(1000, n_features))
yt_test = Xt_test @ w_target + 1.0 + 0.5 * rng.normal(size=1000)
sizes = [5, 10, 20, 40]
errors = {"source only": [], "target only": [], "TrAdaBoostRegressor": [], "TransferRidge": []}
for n in sizes:
    Xt_r = rng.normal(size=(n, n_features))
    yt_r = Xt_r @ w_target + 1.0 + 0.5 * rng.normal(size=n)
    X, y, domain = skt.stack_domains(Xs_r, ys_r, Xt_r, yt_r, return_sample_domain=True)
    fits = {
        "source only": Ridge(1.0).fit(Xs_r, ys_r),
        "target only": Ridge(1.0).fit(Xt_r, yt_r),
        "TrAdaBoostRegressor": skt.TrAdaBoostRegressor(
            Ridge(1.0), n_steps=5, n_estimators=5, cv=3, random_state=0, guard=False
        ).fit(X, y, sample_domain=domain),
        "TransferRidge": skt.TransferRidge(guard=False).fit(X, y, sample_domain=domain),
    }
    for name, model in fits.items():
        errors[name].append(mean_squared_error(yt_test, model.predict(Xt_test)))

# %%
# The figures
# -----------
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
for name, values in curves.items():
    left.plot(per_class, values, "o-", label=name, linewidth=2.5 if name == "TrAdaBoost" else 1.2)
left.set_xscale("log")
left.set_xticks(per_class, [str(k) for k in per_class])
left.set_xlabel("labeled target digits per class")
left.set_ylabel("accuracy on the other target digits")
left.set_title("Classification: TrAdaBoostClassifier")
left.legend()
for name, values in errors.items():
    right.plot(sizes, values, "o-", label=name, linewidth=2.5 if name.startswith("Tr") else 1.2)
right.set_xticks(sizes)
right.set_yscale("log")

right.set_xlabel("labeled target rows")
right.set_ylabel("target mean squared error")
right.set_title("Regression: TrAdaBoostRegressor and TransferRidge")
right.legend()
fig.tight_layout()
plt.show()

# %%
# The guard: keep the transfer fit only where it is better
# --------------------------------------------------------
# A transfer method can lose to a plain fit: to the source-only fit when the target labels
# are too few to steer it, to the pooled fit when the shift is mild. With ``guard=True``
# (the default) the estimator cross-validates the transfer fit and the plain ones on the
# labeled target rows, keeps the best, says so in a warning, and records the choice in
# ``selected_`` and the scores in ``baseline_scores_``. On the digits shift, pooling the
# rows is hard to beat (left panel above), and the guard finds it from 30 labeled target
# rows alone: measure on your own data, and let the guard check.
import warnings  # noqa: E402

few = np.concatenate([rng.choice(np.flatnonzero(yt == c), 3, replace=False) for c in range(10)])
test = np.setdiff1d(np.arange(len(yt)), few)
X, y, domain = skt.stack_domains(Xs, ys, Xt[few], yt[few], return_sample_domain=True)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    guarded = skt.TrAdaBoostClassifier(lr(), n_estimators=10, random_state=0).fit(X, y, sample_domain=domain)
print(
    f"kept: {guarded.selected_!r}; target accuracy {accuracy_score(yt[test], guarded.predict(Xt[test])):.3f}"
)
for name, score in guarded.baseline_scores_.items():
    print(f"{name:>12}: {score['mean']:.3f} +- {score['std_error']:.3f}")
for warning in caught:
    print(warning.message)
