"""Warnings that name the user's line rather than a line inside the library."""

from __future__ import annotations

import os
import sys
import warnings

import joblib
import sklearn

__all__ = ["warn_at_caller"]

#: Frames in these directories are skipped when a warning looks for the user's line: the
#: library, and scikit-learn and joblib, through which pipelines and searches call it.
_LIBRARY_DIRECTORIES = (
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep,  # skltransfer/
    os.path.dirname(os.path.abspath(sklearn.__file__)) + os.sep,
    os.path.dirname(os.path.abspath(joblib.__file__)) + os.sep,
)


def warn_at_caller(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn(message, category)`` attributed to the first caller outside skltransfer,
    scikit-learn and joblib, however deep the call chain (a fixed ``stacklevel`` cannot be
    right both for ``fit`` and for ``Pipeline.fit``)."""
    # Python 3.12's warnings.warn(skip_file_prefixes=...) does this; 3.10 and 3.11 do not.
    frame, stacklevel = sys._getframe(1), 2
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_LIBRARY_DIRECTORIES):
        frame, stacklevel = frame.f_back, stacklevel + 1
    warnings.warn(message, category, stacklevel=stacklevel)
