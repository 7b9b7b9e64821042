"""Reference labels from a CSV: ``image``, ``labeller`` and any of the five label dimensions.

``image`` names the image as in the prompts file of an import (or its path in the run folder,
its sha256 or its id); each dimension cell holds a canonical answer or a synonym, and an empty
cell is no label. A bad row is reported with file:line and field, and skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from viewfinder.labels.questions import answer_help, canonical_label
from viewfinder.labels.rows import Problem, read_rows, unknown_field
from viewfinder.store import Label, RunStore
from viewfinder.store.labels import LABEL_DIMENSIONS

LABEL_COLUMNS: tuple[str, ...] = ("image", "labeller", *LABEL_DIMENSIONS)


@dataclass
class LabelImport:
    """Labels stored from a file and the rows skipped."""

    stored: int = 0
    images: int = 0
    problems: list[Problem] = field(default_factory=list)


def read_labels(path: Path, keys: dict[str, int]) -> tuple[list[Label], list[Problem]]:
    """Labels of the file at ``path``; ``keys`` maps the names of images to their ids."""
    out: list[Label] = []
    problems: list[Problem] = []
    for row in read_rows(path, ("image", "labeller")):
        if isinstance(row, Problem):
            problems.append(row)
            continue
        bad = unknown_field(path, row, LABEL_COLUMNS)
        image = row.values.get("image", "").strip()
        labeller = row.values.get("labeller", "").strip()
        if bad is None and image not in keys:
            bad = Problem(
                path,
                row.line,
                "image",
                f"no image {image!r} in the run; name it as in the prompts file "
                "(or by its path in the run folder or its sha256)",
            )
        if bad is None and not labeller:
            bad = Problem(path, row.line, "labeller", "empty; give the name of the person who labelled the image")
        found: list[Label] = []
        for dimension in LABEL_DIMENSIONS:
            text = row.values.get(dimension, "").strip()
            if bad is not None or not text:
                continue
            answer = canonical_label(dimension, text)
            if answer is None:
                bad = Problem(
                    path,
                    row.line,
                    dimension,
                    f"{text!r} is not an answer; use one of: {answer_help(dimension)} (or leave the cell empty)",
                )
                continue
            found.append(Label(keys[image], dimension, labeller, answer, "csv"))
        if bad is not None:
            problems.append(bad)
        else:
            out.extend(found)
    return out, problems


def import_labels(store: RunStore, path: Path) -> LabelImport:
    """Store the good rows of the labels file ``path`` in the run; a labeller's earlier answer
    for the same image and dimension is replaced, other labellers' are kept."""
    found, problems = read_labels(path, store.image_keys())
    store.add_labels(found)
    return LabelImport(stored=len(found), images=len({lab.image_id for lab in found}), problems=problems)
