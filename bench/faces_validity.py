"""Validity of the faces analyzer on a labelled folder of real photographs.

    .venv/bin/python bench/faces_validity.py ../shared/data/headpose-dev          # reads labels.csv there
    .venv/bin/python bench/faces_validity.py photos/ --labels mine.csv --json out.json

The labels CSV has a ``file`` (or ``image``) column, relative to the CSV's folder, and any of:
``tilt``/``tilt_deg`` and ``pan``/``pan_deg`` (the Pointing'04 convention of headpose-dev:
tilt < 0 looks down, pan < 0 turned towards the image's right), ``pitch``/``yaw`` (viewfinder's
convention: pitch > 0 seen from above, yaw > 0 nose towards the image's right),
``camera_angle``, ``shot_size`` and ``expression`` (canonical words). Tilt and pan become
pitch = -tilt and yaw = -pan; without a ``camera_angle`` column the expected angle is the
class of the labelled pitch (``viewfinder.faces.camera.angle_class``: eye-level within +-15
degrees inclusive, high/low beyond, bird's/worm's-eye beyond 45), not the estimate's limits.

It runs the real ``FacesAnalyzer`` (decode, detection, mesh, pose, expression model) and
prints: the share of photos with a face found (and with a head pose), overall and for
|pitch| <= 30; pitch and yaw mean absolute error and Spearman rank correlation, and the mean
measured pitch per labelled pitch; camera-angle accuracy with a Wilson 95% interval and the
confusion matrix; shot-size accuracy; expression accuracy per class.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from viewfinder.analyze.base import ImageItem  # noqa: E402
from viewfinder.errors import BadInput  # noqa: E402
from viewfinder.faces.camera import angle_class  # noqa: E402
from viewfinder.score.stats import confusion_matrix, wilson_interval  # noqa: E402
from viewfinder.study.vocabulary import (  # noqa: E402
    CAMERA_ANGLES,
    EXPRESSIONS,
    NO_FACE,
    SHOT_SIZES,
    canonical_angle,
    canonical_expression,
    canonical_shot_size,
)

BAND_DEG = 30.0


@dataclass
class Label:
    """What the labels say about one photo (None: not labelled)."""

    path: Path
    pitch: float | None = None
    yaw: float | None = None
    camera_angle: str | None = None
    shot_size: str | None = None
    expression: str | None = None


def read_labels(csv_path: Path) -> list[Label]:
    """The labelled photos; BadInput naming the file, line and field of a bad value."""
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise BadInput(f"{csv_path}: cannot read the labels ({exc}); give --labels FILE") from None
    reader = csv.DictReader(text.splitlines())
    columns = set(reader.fieldnames or ())
    file_column = "file" if "file" in columns else "image" if "image" in columns else None
    if file_column is None:
        raise BadInput(f"{csv_path}: line 1: no 'file' (or 'image') column; add one with each photo's relative path")
    labels = []
    for line, row in enumerate(reader, start=2):
        number = partial(_number, csv_path, line, row)
        word = partial(_word, csv_path, line, row)
        pitch = number("pitch")
        pitch = pitch if pitch is not None else number("tilt", "tilt_deg", sign=-1.0)
        yaw = number("yaw")
        yaw = yaw if yaw is not None else number("pan", "pan_deg", sign=-1.0)
        angle = word("camera_angle", canonical_angle, CAMERA_ANGLES)
        if angle is None and pitch is not None:
            angle = angle_class(pitch)
        name = (row.get(file_column) or "").strip()
        if not name:
            raise BadInput(f"{csv_path}: line {line}: field '{file_column}' is empty; give the photo's path")
        labels.append(
            Label(
                csv_path.parent / name,
                pitch,
                yaw,
                angle,
                word("shot_size", canonical_shot_size, SHOT_SIZES),
                word("expression", canonical_expression, EXPRESSIONS),
            )
        )
    return labels


def _number(csv_path: Path, line: int, row: dict[str, str], *names: str, sign: float = 1.0) -> float | None:
    """The first non-empty of ``names`` in ``row`` as a number (times ``sign``)."""
    for name in names:
        value = (row.get(name) or "").strip()
        if value:
            try:
                return sign * float(value)
            except ValueError:
                raise BadInput(
                    f"{csv_path}: line {line}: field '{name}' = {value!r} is not a number (degrees); fix or empty it"
                ) from None
    return None


def _word(
    csv_path: Path, line: int, row: dict[str, str], name: str, canon: Any, vocabulary: tuple[str, ...]
) -> str | None:
    """Field ``name`` of ``row`` as a canonical word (``canon`` maps synonyms), None when empty."""
    value = (row.get(name) or "").strip()
    if not value:
        return None
    found = NO_FACE if value.lower() == NO_FACE else canon(value)
    if found is None:
        raise BadInput(
            f"{csv_path}: line {line}: field '{name}' = {value!r} is not one of "
            f"{', '.join(vocabulary)}; use a canonical word"
        )
    return str(found)


def measure(labels: list[Label], expression_model: str, workers: int | None) -> list[dict[str, Any]]:
    """The faces analyzer's measurements of every labelled photo (name -> value or text)."""
    from viewfinder.analyze.analyzers.faces import FacesAnalyzer
    from viewfinder.study.schema import Analysis

    missing = [label.path for label in labels if not label.path.is_file()]
    if missing:
        raise BadInput(f"{missing[0]}: no such photo ({len(missing)} missing); check the labels' file column")
    analyzer = FacesAnalyzer.from_settings(Analysis(expression_model=expression_model), workers=workers)
    items = [ImageItem(i, label.path, "", "", None, "", {}) for i, label in enumerate(labels)]
    out: list[dict[str, Any]] = [{} for _ in items]
    try:
        for offset in range(0, len(items), analyzer.batch_size):
            result = analyzer.analyze(items[offset : offset + analyzer.batch_size], None)  # type: ignore[arg-type]
            for image_id, message in result.failures.items():
                out[image_id]["failure"] = message
            for m in result.measurements:
                out[m.image_id][m.name] = m.value if m.text is None else m.text
    finally:
        analyzer.close()
    return out


def spearman(a: list[float], b: list[float]) -> float | None:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic) if len(a) > 2 else None


def figures(labels: list[Label], measured: list[dict[str, Any]]) -> dict[str, Any]:
    """Every figure the bench prints, as plain numbers (also what --json writes)."""
    found = [bool(m.get("face_count")) for m in measured]
    posed = ["pitch" in m for m in measured]
    band = [label.pitch is not None and abs(label.pitch) <= BAND_DEG for label in labels]
    out: dict[str, Any] = {
        "photos": len(labels),
        "face_found": sum(found),
        "posed": sum(posed),
        "band_photos": sum(band),
        "band_face_found": sum(f for f, b in zip(found, band, strict=True) if b),
        "band_posed": sum(p for p, b in zip(posed, band, strict=True) if b),
        "expressions_said": dict(Counter(str(m["expression"]) for m in measured if m.get("face_count"))),
    }
    for angle in ("pitch", "yaw"):
        pairs = [
            (getattr(label, angle), m[angle])
            for label, m in zip(labels, measured, strict=True)
            if getattr(label, angle) is not None and angle in m
        ]
        if pairs:
            truth, value = (list(x) for x in zip(*pairs, strict=True))
            by_level: dict[float, list[float]] = defaultdict(list)
            for t, v in pairs:
                by_level[t].append(v)
            out[angle] = {
                "n": len(pairs),
                "mae": float(np.mean(np.abs(np.subtract(value, truth)))),
                "spearman": spearman(truth, value),
                "mean_by_label": {f"{k + 0.0:g}": float(np.mean(v)) for k, v in sorted(by_level.items())},
            }
    for field, vocabulary in (
        ("camera_angle", CAMERA_ANGLES),
        ("shot_size", SHOT_SIZES),
        ("expression", EXPRESSIONS),
    ):
        pairs = [
            (getattr(label, field), str(m.get(field, NO_FACE)))
            for label, m in zip(labels, measured, strict=True)
            if getattr(label, field) is not None
        ]
        if not pairs:
            continue
        truth, said = (list(x) for x in zip(*pairs, strict=True))
        right = sum(t == s for t, s in pairs)
        names = [n for n in (*vocabulary, NO_FACE) if n in truth or n in said]
        names, matrix = confusion_matrix(truth, said, names)
        per_class = {
            name: {"n": truth.count(name), "right": sum(t == s == name for t, s in pairs)}
            for name in names
            if name in truth
        }
        out[field] = {
            "n": len(pairs),
            "right": right,
            "interval": wilson_interval(right, len(pairs)),
            "labels": names,
            "matrix": matrix.tolist(),
            "per_class": per_class,
        }
    return out


def share(k: int, n: int) -> str:
    return f"{k}/{n} = {100 * k / n:.1f}%" if n else "n/a"


def report(fig: dict[str, Any]) -> str:
    lines = [
        f"photos: {fig['photos']}",
        f"face found: {share(fig['face_found'], fig['photos'])}; head pose: {share(fig['posed'], fig['photos'])}",
    ]
    if fig["band_photos"]:
        lines.append(
            f"|pitch| <= {BAND_DEG:g}: face found {share(fig['band_face_found'], fig['band_photos'])}; "
            f"head pose {share(fig['band_posed'], fig['band_photos'])}"
        )
    said = ", ".join(f"{name} {count}" for name, count in sorted(fig["expressions_said"].items(), key=lambda x: -x[1]))
    lines.append(f"expressions said (all faces): {said or 'none'}")
    for angle in ("pitch", "yaw"):
        if angle in fig:
            a = fig[angle]
            rho = "n/a" if a["spearman"] is None else f"{a['spearman']:.3f}"
            levels = ", ".join(f"{k} -> {v:+.1f}" for k, v in a["mean_by_label"].items())
            lines.append(
                f"{angle}: MAE {a['mae']:.1f} degrees, Spearman {rho} (n={a['n']}); mean measured by label: {levels}"
            )
    for field in ("camera_angle", "shot_size", "expression"):
        if field not in fig:
            continue
        f = fig[field]
        low, high = f["interval"]
        lines.append(f"{field}: accuracy {share(f['right'], f['n'])} (95% Wilson {100 * low:.1f}-{100 * high:.1f}%)")
        width = max(len(n) for n in f["labels"]) + 2
        lines.append("  label \\ measured".ljust(width + 2) + "".join(n[:10].rjust(11) for n in f["labels"]))
        for name, row in zip(f["labels"], f["matrix"], strict=True):
            if name in f["per_class"]:
                lines.append(f"  {name}".ljust(width + 2) + "".join(str(c).rjust(11) for c in row))
        per_class = ", ".join(f"{n} {share(c['right'], c['n'])}" for n, c in f["per_class"].items())
        lines.append(f"  per class: {per_class}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="folder of labelled photos")
    parser.add_argument("--labels", type=Path, help="labels CSV (default: FOLDER/labels.csv)")
    parser.add_argument("--expression-model", default="", help="[analysis] expression_model ('' = the default)")
    parser.add_argument("--workers", type=int, default=None, help="analyzer threads (default: one per core)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    try:
        labels = read_labels(args.labels or args.folder / "labels.csv")
        fig = figures(labels, measure(labels, args.expression_model, args.workers))
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report(fig))
    if args.json:
        args.json.write_text(json.dumps(fig, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
