"""Why things failed: failed jobs and images grouped by reason, per-image errors, and the
measurements an analyzer could not make (``missing_measurements``)."""

from __future__ import annotations

from viewfinder.store.db import Database
from viewfinder.store.records import FailureGroup, MissingMeasurement

NO_REASON = "no reason recorded"


def failure_groups(db: Database) -> list[FailureGroup]:
    """Failed jobs (per model) and failed images (per analyzer), grouped by their reason,
    largest group first; the example is the group's first job (grid order) or image."""
    counts: dict[tuple[str, str], int] = {}
    examples: dict[tuple[str, str], str] = {}
    for job_id, model, reason in db.rows(
        f"SELECT j.id, j.model, COALESCE(j.last_error, '{NO_REASON}') FROM jobs j JOIN prompts p ON p.id = j.prompt_id"
        " WHERE j.state = 'failed' ORDER BY p.position, j.model, j.seed"
    ):
        counts[model, reason] = counts.get((model, reason), 0) + 1
        examples.setdefault((model, reason), job_id)
    groups = [FailureGroup("generate", key[0], key[1], n, examples[key]) for key, n in counts.items()]
    groups += [
        FailureGroup("analyze", analyzer, reason, count, str(image))
        for analyzer, reason, count, image in db.rows(
            f"SELECT analyzer, COALESCE(error, '{NO_REASON}'), COUNT(*), MIN(image_id) FROM analysis_runs"
            f" WHERE status = 'failed' GROUP BY analyzer, COALESCE(error, '{NO_REASON}')"
        )
    ]
    return sorted(groups, key=lambda group: (group.stage != "generate", group.source, -group.count, group.reason))


def missing_groups(db: Database) -> list[FailureGroup]:
    """Measurements left out of measured images (an invalid judge field, say), grouped by
    analyzer, measurement and reason; ``source`` is ``analyzer.name``."""
    rows = db.rows(
        "SELECT analyzer || '.' || name, reason, COUNT(*), MIN(image_id) FROM missing_measurements"
        " GROUP BY analyzer, name, reason"
    )
    groups = [FailureGroup("analyze", source, reason, count, str(image)) for source, reason, count, image in rows]
    return sorted(groups, key=lambda group: (group.source, -group.count, group.reason))


def missing_measurements(db: Database, analyzer: str | None = None) -> list[MissingMeasurement]:
    """Each measurement left out, with its reason, by image."""
    sql = "SELECT image_id, analyzer, name, reason FROM missing_measurements"
    order = " ORDER BY image_id, analyzer, name"
    rows = db.rows(sql + " WHERE analyzer=?" + order, (analyzer,)) if analyzer else db.rows(sql + order)
    return [MissingMeasurement(*row) for row in rows]


def image_errors(db: Database) -> dict[int, list[str]]:
    """Per image: each analyzer's failure and each measurement left out, as ``analyzer: reason`` lines."""
    out: dict[int, list[str]] = {}
    for image_id, analyzer, error in db.rows(
        f"SELECT image_id, analyzer, COALESCE(error, '{NO_REASON}') FROM analysis_runs"
        " WHERE status = 'failed' ORDER BY image_id, analyzer"
    ):
        out.setdefault(image_id, []).append(f"{analyzer}: {error}")
    for gap in missing_measurements(db):
        out.setdefault(gap.image_id, []).append(f"{gap.analyzer}.{gap.name} not measured: {gap.reason}")
    return out
