"""Export a run as one row per image: prompt fields, job, model, seed, image file, every
measurement (column ``analyzer.name``), what the prompt asks for per dimension
(``requested.<dimension>``) and adherence flags (``adherence.<dimension>.<method>``).

Formats: ``parquet`` (pyarrow), ``csv`` and ``jsonl``; each loads in one line with pandas
(``pd.read_parquet``, ``pd.read_csv``, ``pd.read_json(lines=True)``) or DuckDB
(``duckdb.sql("SELECT * FROM 'export.parquet'")``). Parquet columns carry their unit, better
direction and description as field metadata. API keys never reach an export: any text that
contains the value of a key variable is masked.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

from viewfinder.errors import BadInput
from viewfinder.providers.keys import Masker
from viewfinder.score.people_model import load_people_report
from viewfinder.score.per_image import load_image_adherence
from viewfinder.store import RunStore
from viewfinder.study import Study
from viewfinder.study.grammar import FIELDS

IMAGE_COLUMNS = (
    *("image_id", "job_id", "model", "seed", "idx", "prompt_id", "position", "prompt_text"),
    *FIELDS,
    *("sha256", "path", "bytes", "format", "width", "height", "cost_usd", "source_url", "created_at"),
)
_ROW_FIELDS = {"image_id": "id", "idx": "idx"}
ERROR_COLUMN = "error"  # why an analyzer failed on the image or left a value out ("analyzer: reason; ...")


def _mask(value: Any, masker: Masker) -> Any:
    return masker.mask(value) if isinstance(value, str) else value


def column_descriptions(store: RunStore, columns: list[str]) -> dict[str, dict[str, str]]:
    """What each measurement and adherence column means (stored in the Parquet schema)."""
    specs = store.specs()
    out: dict[str, dict[str, str]] = {}
    for column in columns:
        analyzer, _, name = column.partition(".")
        if column == ERROR_COLUMN:
            out[column] = {
                "description": "why an analyzer failed on this image or left a measurement out; "
                "null when nothing failed"
            }
        elif analyzer == "requested":
            out[column] = {
                "description": f"what the prompt asks for on {name.replace('_', ' ')} ('1' = the "
                "judge's match question; several accepted answers joined by ' | ')"
            }
        elif analyzer == "adherence":
            dimension, _, method = name.partition(".")
            out[column] = {
                "description": f"true when the image follows the prompt's {dimension.replace('_', ' ')} "
                f"according to the {method} method; null when not judged or not asked"
            }
        elif analyzer == "label":
            labeller, _, dimension = name.rpartition(".")
            out[column] = {
                "description": f"{labeller}'s reference label for {dimension.replace('_', ' ')} "
                "(a canonical answer; null when not labelled)"
            }
        elif (analyzer, name) in specs:
            spec = specs[(analyzer, name)]
            out[column] = {key: str(getattr(spec, key)) for key in ("unit", "better", "description", "version")}
    return out


def export_rows(store: RunStore, study: Study) -> tuple[list[str], list[dict[str, Any]]]:
    """Column names and one dict per image, in grid order; adherence as the scoring stage stored it."""
    try:
        record = load_image_adherence(store)
    except ValueError:
        record = None
    if record is None:
        raise BadInput(
            f"{store.run_dir}: no stored adherence of this viewfinder version; run 'viewfinder score "
            f"{store.run_dir}' first, then export again"
        )
    images = store.images()
    table = store.measurement_table()
    methods = [(m.dimension, m.method) for m in record.methods]
    measure_columns = sorted({column for values in table.values() for column in values})
    flag_columns = [f"adherence.{dimension}.{method}" for dimension, method in methods]
    dimensions = list(dict.fromkeys(dimension for dimension, _ in methods))
    request_columns = [f"requested.{dimension}" for dimension in dimensions]
    masker = Masker.from_env("[redacted]", min_length=8)  # every provider's key variables
    people: dict[int, dict[str, str]] = {}
    for label in store.labels():
        people.setdefault(label.image_id, {})[f"label.{label.labeller}.{label.dimension}"] = label.answer
    label_columns = sorted({column for values in people.values() for column in values})
    errors = store.image_errors()
    rows = []
    for image in images:
        row: dict[str, Any] = {name: getattr(image, _ROW_FIELDS.get(name, name)) for name in IMAGE_COLUMNS}
        row[ERROR_COLUMN] = "; ".join(errors[image.id]) if image.id in errors else None
        values = table.get(image.id, {})
        row.update({column: values.get(column) for column in measure_columns})
        verdicts = record.images.get(image.id, [])
        wanted = {v.dimension: " | ".join(v.requested) for v in verdicts}
        row.update({f"requested.{dimension}": wanted.get(dimension) for dimension in dimensions})
        flags = {(v.dimension, v.method): v.follows for v in verdicts}
        row.update({f"adherence.{d}.{m}": flags.get((d, m)) for d, m in methods})
        row.update({column: people.get(image.id, {}).get(column) for column in label_columns})
        rows.append({key: _mask(value, masker) for key, value in row.items()})
    return [*IMAGE_COLUMNS, ERROR_COLUMN, *measure_columns, *request_columns, *flag_columns, *label_columns], rows


def _column_types(columns: list[str], rows: list[dict[str, Any]]) -> dict[str, str]:
    """'bool', 'int', 'float' or 'string' per column; a column mixing numbers and text is text."""
    kinds: dict[str, str] = {}
    for column in columns:
        seen = {type(row[column]) for row in rows if row[column] is not None}
        if seen <= {bool}:
            kinds[column] = "bool" if seen else "string"
        elif seen <= {int}:
            kinds[column] = "int"
        elif seen <= {int, float}:
            kinds[column] = "float"
        else:
            kinds[column] = "string"
    return kinds


def _coerce(rows: list[dict[str, Any]], kinds: dict[str, str]) -> list[dict[str, Any]]:
    convert = {"float": float, "string": str, "int": int, "bool": bool}
    return [{key: None if value is None else convert[kinds[key]](value) for key, value in row.items()} for row in rows]


def write_parquet(
    path: Path, columns: list[str], rows: list[dict[str, Any]], descriptions: dict[str, dict[str, str]] | None = None
) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise BadInput(
            f"--format parquet needs pyarrow ({exc}); install it with: pip install 'viewfinder[export]', "
            "or use --format csv or jsonl"
        ) from None
    kinds = _column_types(columns, rows)
    types = {"bool": pa.bool_(), "int": pa.int64(), "float": pa.float64(), "string": pa.string()}
    schema = pa.schema(
        [pa.field(column, types[kinds[column]], metadata=(descriptions or {}).get(column)) for column in columns]
    )
    pq.write_table(pa.Table.from_pylist(_coerce(rows, kinds), schema=schema), path)


def write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def write_jsonl(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps({column: row[column] for column in columns}, ensure_ascii=False) + "\n")


WRITERS = {"parquet": write_parquet, "csv": write_csv, "jsonl": write_jsonl}


def export_run(store: RunStore, study: Study, fmt: str, output: Path | None = None) -> tuple[Path, int]:
    """Write the export of the run in ``store``; returns the file written and its row count."""
    if fmt not in WRITERS:
        raise BadInput(f"--format {fmt!r} is not supported; use one of: {', '.join(WRITERS)}")
    target = output or store.run_dir / f"export.{fmt}"
    if target.is_dir():
        raise BadInput(f"--output {target}: is a folder; give a file name such as {target / ('export.' + fmt)}")
    if not target.parent.exists():
        raise BadInput(f"--output {target}: folder {target.parent} does not exist; create it or choose another path")
    columns, rows = export_rows(store, study)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    if fmt == "parquet":
        write_parquet(tmp, columns, rows, column_descriptions(store, columns))
    else:
        WRITERS[fmt](tmp, columns, rows)
    os.replace(tmp, target)
    write_people(store, target)
    return target, len(rows)


def write_people(store: RunStore, target: Path) -> Path | None:
    """Beside the export, ``<name>.people.json``: every method against people's labels, labellers'
    agreement and the corrected rates, as the scoring stage stored them (when the run has labels)."""
    people = load_people_report(store)
    if people is None or not people.labels:
        return None
    path = target.with_name(f"{target.stem}.people.json")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(people.to_dict(), indent=1), encoding="utf-8")
    os.replace(tmp, path)
    return path
