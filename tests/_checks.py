"""Running scikit-learn's estimator checks on domain adaptation estimators.

scikit-learn's checks call ``fit(X, y)`` with every row labeled, so a domain adaptation
estimator sees no target row and (rightly) raises. The checks therefore run on a subclass
that changes one thing: when the caller gives no domain information, every second pair of
rows is a target pair (rows 2, 3, 6, 7, ...: pairs, so that labels alternating row by row,
as some checks use, still give the source rows every class). Everything else (validation,
fitted state, transform, pickling) is the real estimator's.
"""

import sys

import numpy as np
import pytest

from skltransfer._domains import unlabeled_mask


class _AlternateDomainsMixin:
    def _resolve_domains(self, y, sample_domain, n_samples):
        if sample_domain is None and (y is None or not unlabeled_mask(y).any()):
            sample_domain = np.where((np.arange(n_samples) // 2) % 2 == 0, 0, -1)
        return super()._resolve_domains(y, sample_domain, n_samples)


def with_alternate_domains(cls):
    """The module-level (so picklable) subclass of ``cls`` used by the estimator checks."""
    name = f"AlternateDomains{cls.__name__}"
    module = sys.modules[__name__]
    if not hasattr(module, name):
        subclass = type(name, (_AlternateDomainsMixin, cls), {"__module__": __name__, "__doc__": cls.__doc__})
        setattr(module, name, subclass)
    return getattr(module, name)


#: scikit-learn checks of input conversion alone: the containers, dtypes and layouts of X and
#: y, converted before anything estimator-specific runs.
INPUT_CONVERSION_CHECKS = frozenset(
    {
        "check_classifier_data_not_an_array",
        "check_dtype_object",
        "check_estimators_dtypes",
        "check_f_contiguous_array_estimator",
        "check_fit2d_predict1d",
        "check_readonly_memmap_input",
        "check_regressor_data_not_an_array",
        "check_regressors_int",
        "check_supervised_y_2d",
    }
)


def converts_input_only(check) -> bool:
    """Whether a check of ``parametrize_with_checks`` tests input conversion alone.

    One of ``INPUT_CONVERSION_CHECKS``, or another check rerun on read-only memory-mapped
    or float32 data.
    """
    keywords = {}
    while not hasattr(check, "__name__"):  # functools.partial layers
        keywords.update(check.keywords)
        check = check.func
    return check.__name__ in INPUT_CONVERSION_CHECKS or bool({"readonly_memmap", "X_dtype"} & set(keywords))


def check_beyond_input_conversion(estimator, check, converted_by: str) -> None:
    """Run ``check`` unless it tests input conversion alone, which ``converted_by``'s checks test.

    For a variant of an estimator (a domain loss, a sibling class) that converts its input
    with the same code as ``converted_by``, whose checks run every input conversion check:
    the variant's checks then spend their fits on what the variant changes.
    """
    if converts_input_only(check):
        pytest.skip(f"input conversion only: the code of {converted_by}, whose checks run this one")
    check(estimator)
