"""The run folder: SQLite store and content-addressed image files."""

from viewfinder.store.files import image_relpath, sha256_hex, write_image
from viewfinder.store.run_store import DB_NAME, Measurement, MeasurementSpec, RunStore

__all__ = ["DB_NAME", "Measurement", "MeasurementSpec", "RunStore", "image_relpath", "sha256_hex", "write_image"]
