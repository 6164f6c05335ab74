"""
Reweighting the source rows under covariate shift (regression)
==============================================================

Covariate shift: the inputs of the target domain are distributed differently from the
source's, while the relation ``y = f(x)`` is the same. A model that cannot represent ``f``
exactly (here a straight line fitted to a cubic) fits the region where the source rows are
dense, which is not where the target rows are. Weighting each source row by the density
ratio ``p_target(x) / p_source(x)`` makes the fit care about the target region, without a
single target label. This is the textbook example of Shimodaira (2000): source inputs
``x ~ N(0.5, 0.5²)``, target inputs ``x ~ N(0, 0.3²)``, ``y = -x + x³ + noise``.
"""

# %%
# The data
# --------
# Regression targets stay float; :func:`~skltransfer.stack_domains` gives the unlabeled
# target rows ``NaN`` (``-1.0`` is a target value like any other).
import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import norm
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_squared_error

import skltransfer as skt

rng = np.random.default_rng(0)


def f(x):
    return -x + x**3


xs = rng.normal(0.5, 0.5, size=200)
xt = rng.normal(0.0, 0.3, size=200)
ys = f(xs) + rng.normal(0.0, 0.3, size=200)
yt = f(xt) + rng.normal(0.0, 0.3, size=200)  # kept aside, to score only
X, y = skt.stack_domains(xs[:, None], ys, xt[:, None])
print(f"{np.isnan(y).sum()} unlabeled target rows (y is NaN)")

# %%
# Three ways to weight the source rows, and none
# ----------------------------------------------
# Each meta-estimator computes one weight per source row from the source and target
# inputs, then fits the wrapped regressor with them as ``sample_weight``. The true density
# ratio is known here, so it joins as a reference that no real problem has.
models = {
    "no weights": skt.make_da_pipeline(LinearRegression()),
    "KernelMeanMatching": skt.KernelMeanMatching(LinearRegression()),
    "LeastSquaresImportanceFitting": skt.LeastSquaresImportanceFitting(LinearRegression(), random_state=0),
    "DomainClassifierWeighting": skt.DomainClassifierWeighting(LinearRegression()),
}
true_ratio = norm.pdf(xs, 0.0, 0.3) / norm.pdf(xs, 0.5, 0.5)
grid = np.linspace(-1.2, 2.0, 200)[:, None]

fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5.5), layout="constrained")
left.scatter(xs, ys, s=8, color="0.6", label="source rows (labeled)")
left.scatter(xt, np.full_like(xt, -2.6), s=8, marker="|", color="C3", label="target inputs (no label)")
left.plot(grid, f(grid), color="black", linewidth=1, label="f(x) = -x + x³")
for k, (name, model) in enumerate(models.items()):
    model.fit(X, y)
    error = mean_squared_error(yt, model.predict(xt[:, None]))
    left.plot(grid, model.predict(grid), color=f"C{k}", label=f"{name} (target MSE {error:.3f})")
    print(f"{name:30s} target mean squared error {error:.3f}")
    if name != "no weights":
        weights = model.weights_[~np.isnan(y)]
        right.scatter(xs, weights / weights.mean(), s=8, color=f"C{k}", label=name)
right.scatter(xs, true_ratio / true_ratio.mean(), s=8, color="black", marker="x", label="true density ratio")
left.set_ylim(-2.8, 3.0)
left.set_xlabel("x")
left.set_ylabel("y")
left.set_title("Straight lines fitted to the source rows")
left.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)
right.set_xlabel("x of the source row")
right.set_ylabel("weight / mean weight")
right.set_title("Source weights")
right.legend(fontsize="small")
plt.show()

# %%
# The unweighted line follows the source rows, dense around ``x = 0.5``, and misses the
# slope of ``f`` around ``x = 0``, where the target rows are. Every weighting puts the mass
# on the source rows that look like target rows and tilts the line towards the target
# region, and halves the target error. Their weights follow the shape of the true density
# ratio, each with its own noise: weights cost variance, and with few source rows in the
# target region a handful of rows carries the fit (the largest uLSIF and domain-classifier
# weights, on the left).
