"""Recognising Dask input without importing Dask (an optional dependency)."""

from __future__ import annotations

__all__ = ["is_dask_array", "is_dask_collection"]


def is_dask_collection(X) -> bool:
    """Whether ``X`` is a Dask collection (array, bag, data frame, ...).

    Checked from the type's module and the collection protocol, so that Dask is never
    imported: a caller without Dask input does not need it installed.

    Parameters
    ----------
    X : object
        Any input.

    Returns
    -------
    is_collection : bool
        True for a Dask collection.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.utils._dask import is_dask_collection
    >>> is_dask_collection(np.zeros((2, 3)))
    False
    """
    return type(X).__module__.partition(".")[0] == "dask" and hasattr(X, "__dask_graph__")


def is_dask_array(X) -> bool:
    """Whether ``X`` is a Dask array: a Dask collection with row ``blocks``.

    Parameters
    ----------
    X : object
        Any input.

    Returns
    -------
    is_array : bool
        True for a ``dask.array.Array``.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.utils._dask import is_dask_array
    >>> is_dask_array(np.zeros((2, 3)))
    False
    """
    return is_dask_collection(X) and hasattr(X, "blocks")
