"""Input checks that scikit-learn's ``validate_data`` does not make."""

from __future__ import annotations

import numpy as np

from ._sklearn_compat import _num_samples

__all__ = ["check_magnitude", "reject_empty"]


def reject_empty(estimator, X) -> None:
    """Raise a ``ValueError`` naming ``estimator`` when the ``X`` it is given has no rows.

    scikit-learn's validation reads an empty list as a 1-D array and asks to reshape it;
    this check says what is wrong instead. Call it after ``check_is_fitted``.

    Parameters
    ----------
    estimator : fitted estimator
        Named in the message, with its ``n_features_in_``.
    X : array-like
        The rows given to a method of ``estimator`` (``transform``, ``predict``, ...).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skltransfer.utils._validation import reject_empty
    >>> scaler = StandardScaler().fit(np.ones((3, 2)))
    >>> reject_empty(scaler, np.ones((1, 2)))
    >>> try:
    ...     reject_empty(scaler, [])
    ... except ValueError as e:
    ...     print(e)
    StandardScaler got an empty X (0 rows): pass at least one row of 2 features.
    """
    try:
        n_rows = _num_samples(X)
    except TypeError:  # not an array: validation names the problem
        return
    if n_rows == 0:
        n_features = getattr(estimator, "n_features_in_", None)
        what = "one row" if n_features is None else f"one row of {n_features} features"
        raise ValueError(f"{type(estimator).__name__} got an empty X (0 rows): pass at least {what}.")


def check_magnitude(X: np.ndarray, input_name: str = "X", *, power: int = 2) -> None:
    """Raise a ``ValueError`` when the values of ``X`` are too large for its floating dtype.

    Kernels, covariances and distances sum squares of the values; finite values above
    ``sqrt(finfo.max / X.size)`` can overflow there and turn the result into ``inf`` or
    ``nan`` deep inside a solver. Solvers that multiply kernel matrices of a linear kernel
    (``K M K``) sum products of four values: they pass ``power=4``, and the limit is
    ``finfo.max ** (1 / power) / sqrt(X.size)`` (for ``power=2``, the bound above). This
    check names the input and the remedy instead.

    Parameters
    ----------
    X : ndarray
        A validated floating-point array.
    input_name : str, default="X"
        The name of the input in the message.
    power : int, default=2
        The highest power of the values that the solver sums.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.utils._validation import check_magnitude
    >>> check_magnitude(np.ones((3, 2)))
    >>> try:
    ...     check_magnitude(np.full((3, 2), 1e300), "X_source")
    ... except ValueError as e:
    ...     print(str(e)[:52])
    X_source holds values up to 1e+300 in magnitude: the
    >>> check_magnitude(np.full((3, 2), 1e100))
    >>> try:
    ...     check_magnitude(np.full((3, 2), 1e100), power=4)
    ... except ValueError as e:
    ...     print(str(e)[:45])
    X holds values up to 1e+100 in magnitude: the
    """
    if X.size == 0 or X.dtype.kind != "f":
        return
    largest = max(float(X.max()), -float(X.min()))  # no |X| temporary: two reading passes
    limit = float(np.finfo(X.dtype).max) ** (1.0 / power) / float(np.sqrt(X.size))
    if largest > limit:
        raise ValueError(
            f"{input_name} holds values up to {largest:.3g} in magnitude: the sums of their "
            f"{'squares' if power == 2 else f'products of {power}'} overflow {X.dtype} in this "
            f"solver (at most about {limit:.3g} for {X.size} values). Rescale the "
            "features first, e.g. with sklearn.preprocessing.MaxAbsScaler."
        )
