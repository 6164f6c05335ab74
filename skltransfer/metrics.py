"""Metrics of domain adaptation: the maximum mean discrepancy between domains.

:func:`maximum_mean_discrepancy` measures how far apart two samples are;
:func:`mmd_permutation_test` tests whether they share a distribution.
"""

from ._mmd import maximum_mean_discrepancy, median_heuristic_gamma, mmd_permutation_test

__all__ = ["maximum_mean_discrepancy", "median_heuristic_gamma", "mmd_permutation_test"]
