"""The filtration layer: named rules flag events into a QC table; nothing is deleted.

Entry points: :func:`apply_filters` (one partition), :class:`FilterConfig` (one sub-model per rule),
:func:`score_against_truth` (precision/recall against the simulator's injected artifacts). The rules
and their reason codes are listed in :mod:`orderflow.filters.rules`.
"""

from orderflow.filters.apply import (
    ARTIFACT_KINDS,
    RULE_KIND,
    FilterResult,
    apply_filters,
    score_against_truth,
)
from orderflow.filters.config import RULES, FilterConfig

__all__ = [
    "ARTIFACT_KINDS",
    "RULES",
    "RULE_KIND",
    "FilterConfig",
    "FilterResult",
    "apply_filters",
    "score_against_truth",
]
