"""The one ``_resolve_domains`` of every domain adaptation estimator."""

from __future__ import annotations

from .._domains import Domains, resolve_domains

__all__ = ["DomainFitMixin"]


class DomainFitMixin:
    """Resolve the domain of every fitted row: ``y == -1`` unlabeled target rows,
    ``sample_domain`` overriding the rule (the domain convention of skltransfer).

    ``_requires_labels`` (a class attribute, or a property where it depends on a parameter)
    says whether the labeled source rows must hold at least two classes.
    """

    _requires_labels = False

    def _resolve_domains(self, y, sample_domain, n_samples: int) -> Domains:
        return resolve_domains(y, sample_domain, n_samples=n_samples, require_labels=self._requires_labels)
