"""``viewfinder import``: a run folder from images made elsewhere.

Each good row of the prompts file becomes a completed job with one image, copied into the
run by content hash like a generated one; prompts in the grammar are parsed into their
fields, free prompts are kept whole with empty fields (so no dimension is scored for them).
A bad row is reported with file:line and field and skipped; the good rows are kept.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from viewfinder.errors import BadInput
from viewfinder.labels.import_study import study_toml
from viewfinder.labels.rows import Problem, Row, read_rows, unknown_field
from viewfinder.store import ImportedImage, NewImage, RunStore, write_image
from viewfinder.study.grammar import FIELDS, parse_prompt
from viewfinder.study.grid import GridPrompt, Job, stable_id

PROMPT_COLUMNS: tuple[str, ...] = ("image", "prompt", "model", "seed")
DEFAULT_MODEL = "import:unknown"
IMPORTED_META = "imported_from"


@dataclass
class ImportSummary:
    """What an import did: images added, rows already stored, rows skipped and why."""

    added: int = 0
    already: int = 0
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class _Good:
    job: Job
    rel: str
    data: bytes
    fmt: str
    width: int
    height: int
    seed: int | None


def model_name(text: str) -> str:
    """A model as ``backend:model-id``; a bare name gets the ``import:`` backend."""
    text = text.strip()
    if not text:
        return DEFAULT_MODEL
    return text if ":" in text.strip(":") and not text.startswith(":") else f"import:{text.strip(':')}"


def _prompt(text: str, position: int) -> GridPrompt:
    try:
        fields = parse_prompt(text).fields()
    except BadInput:
        fields = dict.fromkeys(FIELDS, "")
    return GridPrompt(id=stable_id("prompt", text), text=text, position=position, **fields)


def _read_row(path: Path, images_dir: Path, row: Row, position: int) -> _Good | Problem:
    bad = unknown_field(path, row, PROMPT_COLUMNS)
    if bad:
        return bad
    rel = row.values.get("image", "").strip()
    if not rel:
        return Problem(path, row.line, "image", "empty; give the image's path relative to the images folder")
    file = (images_dir / rel).resolve()
    if Path(rel).is_absolute() or not file.is_relative_to(images_dir.resolve()):
        return Problem(path, row.line, "image", f"{rel!r} is outside {images_dir}; give a path relative to it")
    if not file.is_file():
        return Problem(path, row.line, "image", f"no file {file}; check the path (relative to {images_dir})")
    text = row.values.get("prompt", "")
    if not text.strip():
        return Problem(path, row.line, "prompt", "empty; give the prompt the image was made from")
    seed: int | None = None
    if row.values.get("seed", "").strip():
        try:
            seed = int(row.values["seed"].strip())
        except ValueError:
            return Problem(
                path,
                row.line,
                "seed",
                f"{row.values['seed']!r} is not a whole number; give one or leave it empty",
            )
    data = file.read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt, (width, height) = (image.format or "").lower(), image.size
            image.load()
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        return Problem(
            path, row.line, "image", f"{rel}: not a readable image ({exc}); replace the file or drop the row"
        )
    model = model_name(row.values.get("model", ""))
    prompt = _prompt(text, position)
    job_id = stable_id("import", rel, text, model, seed)
    job = Job(id=job_id, prompt=prompt, model=model, seed=seed or 0, params={"imported_from": rel})
    return _Good(job, rel, data, fmt or file.suffix.lstrip(".").lower(), width, height, seed)


def import_images(images_dir: Path, prompts: Path, workdir: Path) -> tuple[RunStore, ImportSummary]:
    """Import the images listed in ``prompts`` into the run folder ``workdir`` (created or
    extended); returns the open store and the summary. Images already imported are kept."""
    if not images_dir.is_dir():
        raise BadInput(f"{images_dir}: not a folder; give the folder the prompts file's image paths are relative to")
    rows = list(read_rows(prompts, ("image", "prompt")))
    store = RunStore(workdir)
    if store.get_meta("study_toml") is not None and store.get_meta(IMPORTED_META) is None:
        store.close()
        raise BadInput(
            f"{workdir}: this run folder holds a generated study ({store.get_meta('study_name')!r}); "
            "give another --workdir for the import"
        )
    summary = ImportSummary()
    stored = store.jobs()
    start = max((job.position for job in stored), default=-1) + 1
    known = {job.id for job in stored}
    seen: dict[str, int] = {}
    goods: list[_Good] = []
    for row in rows:
        if isinstance(row, Problem):
            summary.problems.append(row)
            continue
        result = _read_row(prompts, images_dir, row, start + len(goods))
        if isinstance(result, _Good) and result.rel in seen:
            result = Problem(
                prompts,
                row.line,
                "image",
                f"{result.rel} is listed twice (first at line {seen[result.rel]}); keep one row per image",
            )
        if isinstance(result, Problem):
            summary.problems.append(result)
            continue
        seen[result.rel] = row.line
        if result.job.id in known:
            summary.already += 1
            continue
        goods.append(result)
    try:
        _store(store, goods)
        summary.added = len(goods)
        name = store.get_meta("study_name") or f"import-{images_dir.resolve().name}"
        store.set_meta("study_name", name)
        store.set_meta("study_path", str(prompts))
        store.set_meta(IMPORTED_META, str(images_dir))
        store.set_meta("study_toml", study_toml(name, store.images(), images_dir.resolve().name))
    except BaseException:
        store.close()
        raise
    return store, summary


def _store(store: RunStore, goods: list[_Good]) -> None:
    """Copy the files by content hash, then record jobs, images and sources in one transaction."""
    imported = []
    for good in goods:
        digest, rel = write_image(store.run_dir, good.data, good.fmt)
        image = NewImage(digest, rel, len(good.data), good.fmt, good.width, good.height, cost_usd=0.0)
        imported.append(ImportedImage(good.job, image, good.seed, good.rel))
    store.record_import(imported)
