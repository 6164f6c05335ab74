"""Input checks that scikit-learn's ``validate_data`` does not make."""

from __future__ import annotations

import numpy as np

__all__ = ["check_magnitude"]


def check_magnitude(X: np.ndarray, input_name: str = "X") -> None:
    """Raise a ``ValueError`` when the values of ``X`` are too large for its floating dtype.

    Kernels, covariances and distances sum squares of the values; finite values above
    ``sqrt(finfo.max / X.size)`` can overflow there and turn the result into ``inf`` or
    ``nan`` deep inside a solver. This check names the input and the remedy instead.

    Parameters
    ----------
    X : ndarray
        A validated floating-point array.
    input_name : str, default="X"
        The name of the input in the message.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.utils._validation import check_magnitude
    >>> check_magnitude(np.ones((3, 2)))
    >>> try:
    ...     check_magnitude(np.full((3, 2), 1e300), "X_source")
    ... except ValueError as e:
    ...     print(str(e)[:54])
    X_source holds values up to 1e+300 in magnitude: their
    """
    if X.size == 0 or X.dtype.kind != "f":
        return
    largest = max(float(X.max()), -float(X.min()))  # no |X| temporary: two reading passes
    limit = float(np.sqrt(np.finfo(X.dtype).max / X.size))
    if largest > limit:
        raise ValueError(
            f"{input_name} holds values up to {largest:.3g} in magnitude: their squares and sums "
            f"overflow {X.dtype} (at most about {limit:.3g} for {X.size} values). Rescale the "
            "features first, e.g. with sklearn.preprocessing.MaxAbsScaler."
        )
