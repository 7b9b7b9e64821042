"""``build_report``: write report/post.md and report/index.html (with thumbs/ and plots/)."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from viewfinder.report.data import card_layout, embed_json, gather
from viewfinder.report.escape import md_text
from viewfinder.report.model import ReportData
from viewfinder.report.plots import render_plots
from viewfinder.report.thumbs import make_thumbs, needs_thumb
from viewfinder.report.trust import trust_section
from viewfinder.score.sentences import (
    agreement_sentence,
    comparison_sentence,
    dimension_sentences,
    grid_effect_sentence,
    score_sentences,
)
from viewfinder.score.verdicts import SCALES
from viewfinder.store import RunStore
from viewfinder.study import Study

REPORT_DIR = "report"
ANALYZER_WORDS = {
    "pixels": "pixel statistics",
    "clip": "CLIP (prompt similarity, aesthetic predictor)",
    "faces": "a face and expression analyzer",
    "judge": "a vision-language judge",
}
_URL = re.compile(r"^https?://[^\s<>\"'`]+$")


def fmt(value: float | None, digits: int = 2) -> str:
    """A number for a table cell; "n/a" when it could not be computed (never 0)."""
    return "n/a" if value is None else f"{value:.{digits}f}"


def verdict_class(word: str | None) -> str:
    return "v-" + (word or "none").replace(" ", "-")


def is_url(text: str) -> bool:
    """An http(s) address safe to print as a link (no spaces, quotes or angle brackets)."""
    return bool(_URL.match(text))


def _environment(markdown: bool) -> Environment:
    env = Environment(
        loader=PackageLoader("viewfinder.report", "templates"),
        autoescape=False if markdown else select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md_text
    env.globals.update(fmt=fmt, vclass=verdict_class, is_url=is_url)
    return env


def _asset(name: str) -> str:
    return resources.files("viewfinder.report").joinpath("assets", name).read_text(encoding="utf-8")


def headline(data: ReportData) -> tuple[str, list[str]]:
    """The post's title and summary paragraphs, from the numbers and the verdict table's words."""
    study = data.study
    models = ", ".join(m.split(":", 1)[-1] for m in data.models) or "no model yet"
    n_prompts = len({c.prompt for c in data.cards})
    summary = [study.description] if study.description else []
    if not data.cards:
        summary.append("The run has no images yet: 'viewfinder run STUDY' or 'viewfinder generate DIR' makes them.")
        return f"{study.topic}: no images yet", summary
    ran = [ANALYZER_WORDS.get(a.name, a.name) for a in data.methods.analyzers if a.images_done]
    summary.append(
        f"We made {len(data.cards)} images of {n_prompts} prompts with {len(data.models)} model(s) "
        f"({models}) and measured them with {', '.join(ran) if ran else 'no analyzer yet'}."
    )
    dimensions = data.score.dimensions if data.score is not None else []
    # a method people disagree with has no verdict (score.people_stage): no headline rests on it
    rated = [dim for dim in dimensions if dim.overall.rate is not None and dim.overall.verdict is not None]
    if not rated:
        return f"{study.topic}: how {models} follows structured prompts", summary
    best = max(rated, key=lambda d: d.overall.rate or 0.0)
    worst = min(rated, key=lambda d: d.overall.rate or 0.0)
    summary.append(
        f"Best followed: {best.label}, {best.overall.rate:.2f} of judged images "
        f"(95% CI {fmt(best.overall.ci_low)}-{fmt(best.overall.ci_high)}), {best.overall.verdict}. "
        f"Least followed: {worst.label}, {worst.overall.rate:.2f} "
        f"(95% CI {fmt(worst.overall.ci_low)}-{fmt(worst.overall.ci_high)}), {worst.overall.verdict}."
    )
    if best is worst:
        title = f"{study.topic} with {models}: {best.label} {best.overall.verdict}"
    else:
        title = (f"{best.label} {best.overall.verdict}, {worst.label} {worst.overall.verdict}: "
                 f"{study.topic} with {models}")
    return title, summary


def conclusion_texts(data: ReportData) -> dict[str, Any]:
    """The scoring stage's sentences, grouped by where the report shows them."""
    score = data.score
    if score is None:
        return {"dimension_blocks": [], "score_blocks": [], "agreement_texts": [], "comparison_texts": [],
                "effect_texts": []}
    effects = [grid_effect_sentence(item) for item in score.grid_effects]
    return {
        "dimension_blocks": [(dim, [s.text for s in dimension_sentences(dim)]) for dim in score.dimensions],
        "score_blocks": [(item, [s.text for s in score_sentences(item)]) for item in score.scores],
        "agreement_texts": [agreement_sentence(item).text for item in score.agreements],
        "comparison_texts": [comparison_sentence(item).text for item in score.comparisons],
        "effect_texts": [s.text for s in effects if s is not None],
    }


def build_report(store: RunStore, study: Study, console: Console | None = None) -> Path:
    """Write the run's report (Markdown post and self-contained HTML page); returns report/."""
    console = console or Console(stderr=True)
    report_dir = store.run_dir / REPORT_DIR
    report_dir.mkdir(parents=True, exist_ok=True)
    rows = store.images()
    with Progress(TextColumn("[bold]report[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        large = [r for r in rows if needs_thumb(r.width, r.height, r.bytes, r.format)]
        task = progress.add_task("thumbnails", total=len(large))
        thumbs = make_thumbs(((r.sha256, store.image_path(r)) for r in large), report_dir,
                             advance=lambda n: progress.advance(task, n))
    data = gather(store, study, rows, thumbs)
    plots = render_plots(data, report_dir / "plots")
    title, summary = headline(data)
    js = _asset("report.js")
    context: dict[str, Any] = {
        "data": data,
        "score": data.score,
        "title": title,
        "summary": summary,
        "plots": plots,
        "metric_rows": data.metric_summary,
        **conclusion_texts(data),
        "adherence_legend": SCALES["adherence"].legend(),
        "trust": trust_section(store),
        "built_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    html = _environment(markdown=False).get_template("index.html.j2").render(
        **context,
        css=_asset("report.css"),
        js=js,
        js_hash=base64.b64encode(hashlib.sha256(js.encode("utf-8")).digest()).decode("ascii"),
        cards_json=embed_json({"layout": card_layout(data.specs), "cards": [card.to_json() for card in data.cards]}),
    )
    markdown = _environment(markdown=True).get_template("post.md.j2").render(**context)
    _write(report_dir / "index.html", html)
    _write(report_dir / "post.md", markdown)
    console.print(f"report: {len(data.cards)} images, {len(plots)} plots -> {report_dir / 'index.html'}")
    return report_dir


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
