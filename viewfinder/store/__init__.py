"""The run folder: SQLite store, typed records and content-addressed image files."""

from viewfinder.store.files import image_relpath, sha256_hex, write_image
from viewfinder.store.records import (
    JOB_STATES,
    AnalysisRun,
    AnalyzerRuns,
    CachedAnswer,
    CostTotal,
    ImageDates,
    ImageRecord,
    JobRecord,
    LedgerEntry,
    Measurement,
    MeasurementSpec,
    NewImage,
    StoredMeasurement,
    StoredSpec,
)
from viewfinder.store.run_store import DB_NAME, RunStore

__all__ = [
    "DB_NAME",
    "JOB_STATES",
    "AnalysisRun",
    "AnalyzerRuns",
    "CachedAnswer",
    "CostTotal",
    "ImageDates",
    "ImageRecord",
    "JobRecord",
    "LedgerEntry",
    "Measurement",
    "MeasurementSpec",
    "NewImage",
    "RunStore",
    "StoredMeasurement",
    "StoredSpec",
    "image_relpath",
    "sha256_hex",
    "write_image",
]
