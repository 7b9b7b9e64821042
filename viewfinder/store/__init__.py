"""The run folder: SQLite store, typed records and content-addressed image files.

The package exports what the stages import; every record type is in :mod:`viewfinder.store.records`."""

from viewfinder.store.files import image_relpath, sha256_hex, write_image
from viewfinder.store.records import AnalysisRun, ImageRecord, JobRecord, Measurement, NewImage
from viewfinder.store.run_store import DB_NAME, RunStore
from viewfinder.store.specs import (
    AdherenceRole,
    Better,
    CardRole,
    CardSection,
    Dimension,
    FlagRole,
    MeasurementSpec,
    ModelRole,
    Reading,
    Role,
    ScoreRole,
    StoredSpec,
)

__all__ = [
    "DB_NAME",
    "AdherenceRole",
    "AnalysisRun",
    "Better",
    "CardRole",
    "CardSection",
    "Dimension",
    "FlagRole",
    "ImageRecord",
    "JobRecord",
    "Measurement",
    "MeasurementSpec",
    "ModelRole",
    "NewImage",
    "Reading",
    "Role",
    "RunStore",
    "ScoreRole",
    "StoredSpec",
    "image_relpath",
    "sha256_hex",
    "write_image",
]
