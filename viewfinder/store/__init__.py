"""The run folder: SQLite store and content-addressed image files."""

from viewfinder.store.files import image_relpath, sha256_hex, write_image
from viewfinder.store.run_store import DB_NAME, Measurement, RunStore
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
    "AdherenceRole",
    "Better",
    "CardRole",
    "CardSection",
    "DB_NAME",
    "Dimension",
    "FlagRole",
    "Measurement",
    "MeasurementSpec",
    "ModelRole",
    "Reading",
    "Role",
    "ScoreRole",
    "StoredSpec",
    "RunStore",
    "image_relpath",
    "sha256_hex",
    "write_image",
]
