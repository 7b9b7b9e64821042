"""Adherence per prompt dimension, statistics with intervals, verdict words.

``run_scoring(store, study, console)`` (the stage, :mod:`viewfinder.score.stage`) computes
the :class:`ScoreReport` and each image's adherence once and stores both; the report and the
export read them back with :func:`load_score_report` and :func:`load_image_adherence`.
Scoring finds its inputs by the roles the analyzers declare in their measurement specs
(score, adherence answer, flag), never by measurement name.

Modules, in pipeline order:

- :mod:`~viewfinder.score.adherence`: per image, does it follow each dimension (camera
  angle, shot size, scene, style, emotion) according to each method (VLM judge, faces)?
  ``None`` = not judged (no face, "unclear", missing), counted apart, never a failure.
- :mod:`~viewfinder.score.stats`: Wilson intervals, bootstrap means (scipy), Cohen's kappa
  with its interval, McNemar with Newcombe's paired interval, the sign-flip permutation
  test, Wilcoxon, Holm.
- :mod:`~viewfinder.score.compare` (models on the same prompts and seeds),
  :mod:`~viewfinder.score.logistic` (grid effects, Firth logistic regression).
- :mod:`~viewfinder.score.verdicts`: THE table of verdict thresholds and the checker that
  every "scored N ..., which is WORD" agrees with it; :mod:`~viewfinder.score.sentences`
  writes the conclusions from the table only.
- :mod:`~viewfinder.score.coverage`: interval coverage by simulation (``bench/coverage.py``).
"""

from viewfinder.score.aggregate import build_score_report
from viewfinder.score.model import AGGREGATE_NAME, ScoreReport, load_score_report
from viewfinder.score.per_image import load_image_adherence
from viewfinder.score.sentences import report_sentences
from viewfinder.score.stage import run_scoring
from viewfinder.score.verdicts import SCALES, Sentence, check_sentences, check_text, verdict

__all__ = [
    "AGGREGATE_NAME",
    "SCALES",
    "build_score_report",
    "ScoreReport",
    "Sentence",
    "check_sentences",
    "check_text",
    "load_image_adherence",
    "load_score_report",
    "report_sentences",
    "run_scoring",
    "verdict",
]
