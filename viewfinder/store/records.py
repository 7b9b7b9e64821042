"""Typed, frozen records the store hands out and takes in (no SQLite types leave store/)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from viewfinder.study.grammar import FIELDS as PROMPT_FIELDS
from viewfinder.study.grammar import PromptFields
from viewfinder.study.grid import Job

JobState = Literal["pending", "submitted", "completed", "failed"]
JOB_STATES: tuple[JobState, ...] = ("pending", "submitted", "completed", "failed")


@dataclass(frozen=True)
class Measurement:
    """One value an analyzer made for one image (a number, a text, or both)."""

    image_id: int
    name: str
    value: float | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class StoredMeasurement:
    """One stored measurement with the analyzer version that made it."""

    image_id: int
    analyzer: str
    version: str
    name: str
    value: float | None
    text: str | None


@dataclass(frozen=True, slots=True)
class JobRecord:
    """One image job with its prompt text; JSON columns come back decoded."""

    id: str
    prompt_id: str
    model: str
    seed: int
    params: dict[str, Any]
    state: JobState
    attempts: int
    request_id: str | None
    request: dict[str, Any] | None
    response: dict[str, Any] | None
    last_error: str | None
    cost_usd: float | None
    created_at: str
    updated_at: str
    prompt_text: str
    position: int


@dataclass(frozen=True, slots=True)
class ImageRecord(PromptFields):
    """One stored image file with its job's and prompt's fields (text, emotion, camera, ...)."""

    id: int
    job_id: str
    idx: int
    sha256: str
    path: str  # relative to the run folder
    bytes: int
    format: str
    width: int
    height: int
    model: str
    seed: int | None
    cost_usd: float
    source_url: str | None
    created_at: str
    prompt_id: str
    prompt_text: str
    position: int

    def prompt_field(self, name: str) -> str:
        """A prompt field by its grammar name (``camera``, ``scene``, ...)."""
        if name not in PROMPT_FIELDS:
            raise KeyError(f"{name!r} is not a prompt field")
        return str(getattr(self, name))


@dataclass(frozen=True, slots=True)
class NewImage:
    """An image file just written, to be recorded for its job."""

    sha256: str
    path: str
    size: int
    fmt: str
    width: int
    height: int
    cost_usd: float
    source_url: str | None = None
    detail: dict[str, Any] | None = None  # goes to the image's generation ledger entry


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One stored ledger row."""

    id: int
    kind: str
    model: str
    job_id: str | None
    image_id: int | None
    usd: float
    detail: dict[str, Any] | None
    created_at: str


@dataclass(frozen=True, slots=True)
class CostTotal:
    """Spending of one kind and model: USD and number of entries."""

    kind: str
    model: str
    usd: float
    entries: int


@dataclass(frozen=True, slots=True)
class AnalyzerRuns:
    """How many images one analyzer version handled, done and failed."""

    analyzer: str
    version: str
    done: int
    failed: int


@dataclass(frozen=True, slots=True)
class AnalysisRun:
    """The outcome of one analyzer on one image."""

    image_id: int
    analyzer: str
    version: str
    status: Literal["done", "failed"]
    error: str | None


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """A measurement an analyzer version already made for an image file and prompt text
    (lets the judge reuse answers for the same file and prompt)."""

    sha256: str
    prompt_text: str
    image_id: int
    name: str
    value: float | None
    text: str | None


@dataclass(frozen=True, slots=True)
class ImageDates:
    """When the first and the last image were stored (None when there are none)."""

    first: str | None
    last: str | None


@dataclass(frozen=True, slots=True)
class Label:
    """One labeller's canonical answer for one image on one label dimension (``camera_angle``,
    ``shot_size``, ``expression``, ``scene_match``, ``style_match``)."""

    image_id: int
    dimension: str
    labeller: str
    answer: str
    source: str = "csv"  # 'csv' or 'review'
    created_at: str = ""


@dataclass(frozen=True, slots=True)
class ImportedImage:
    """An image made elsewhere, already written by content hash: its job, file and source path."""

    job: Job
    image: NewImage
    seed: int | None
    source: str  # its path relative to the imported folder


@dataclass(frozen=True, slots=True)
class DroppedJobs:
    """What dropping jobs removed: the jobs, their image rows and what hung off those images."""

    jobs: int
    images: int
    measurements: int
    analysis_runs: int
    by_model: dict[str, int]


@dataclass(frozen=True, slots=True)
class FailureGroup:
    """Items of one stage that failed for one reason: how many, and one of them as an example.

    ``stage`` is "generate" or "analyze"; ``source`` the model (generate) or analyzer name;
    ``example`` a job id (generate) or an image id (analyze)."""

    stage: str
    source: str
    reason: str
    count: int
    example: str


@dataclass(frozen=True, slots=True)
class MissingMeasurement:
    """A measurement an analyzer could not make for an image it measured, and why."""

    image_id: int
    analyzer: str
    name: str
    reason: str
