"""The one ``_resolve_domains`` of every domain adaptation estimator."""

from __future__ import annotations

from .._domains import Domains, resolve_domains

__all__ = ["DomainFitMixin"]


class DomainFitMixin:
    """Resolve the domain of every fitted row: ``y == -1`` unlabeled target rows,
    ``sample_domain`` overriding the rule (the domain convention of skltransfer).

    Class attributes (or properties, where they depend on a parameter):

    - ``_requires_labels``: the labeled source rows must hold at least two classes;
    - ``_regression``: the ``regression`` argument of
      ``skltransfer._domains.unlabeled_mask`` (``True``: float targets, NaN marks the
      unlabeled rows; ``False``: class labels, ``-1`` marks them; ``None``: from ``y``).
    """

    _requires_labels = False
    _regression: bool | None = None

    def _resolve_domains(self, y, sample_domain, n_samples: int) -> Domains:
        return resolve_domains(
            y,
            sample_domain,
            n_samples=n_samples,
            require_labels=self._requires_labels,
            regression=self._regression,
        )
