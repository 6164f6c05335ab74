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
