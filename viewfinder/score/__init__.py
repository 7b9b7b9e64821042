"""Adherence per prompt dimension, statistics with intervals, verdict words.

``run_scoring(store, study, console)`` (in :mod:`viewfinder.score.aggregate`) computes the
:class:`ScoreReport` and stores it with ``store.save_aggregate``; the report reads it back
with :func:`load_score_report`.
"""

from viewfinder.score.aggregate import build_score_report, run_scoring
from viewfinder.score.model import (
    AGGREGATE_NAME,
    Agreement,
    Breakdown,
    BreakdownRow,
    Comparison,
    DimensionResult,
    GridEffect,
    LogisticModel,
    LogisticTerm,
    Mean,
    Rate,
    ScoreReport,
    ScoreResult,
    load_score_report,
)
from viewfinder.score.verdicts import SCALES, Sentence, check_sentences, check_text, verdict

__all__ = [
    "AGGREGATE_NAME",
    "Agreement",
    "Breakdown",
    "BreakdownRow",
    "Comparison",
    "DimensionResult",
    "GridEffect",
    "LogisticModel",
    "LogisticTerm",
    "Mean",
    "Rate",
    "SCALES",
    "build_score_report",
    "ScoreReport",
    "ScoreResult",
    "Sentence",
    "check_sentences",
    "check_text",
    "load_score_report",
    "run_scoring",
    "verdict",
]
