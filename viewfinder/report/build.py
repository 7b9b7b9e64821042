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
from viewfinder.report.names import count, dimension_name, model_name, num, span
from viewfinder.report.plots import render_plots
from viewfinder.report.story import Story, conclusion, headline, lead
from viewfinder.report.thumbs import data_uri, embeds_as_is, image_budget, make_thumbs
from viewfinder.report.trust import trust_section
from viewfinder.score.model import ScoreReport
from viewfinder.score.sentences import (
    agreement_sentence,
    comparison_sentence,
    dimension_sentences,
    logistic_sentences,
    score_sentences,
)
from viewfinder.score.verdicts import SCALES
from viewfinder.store import ImageRecord, RunStore
from viewfinder.study import Study

REPORT_DIR = "report"
ANALYZER_WORDS = {
    "pixels": "pixel statistics",
    "clip": "CLIP (prompt similarity, aesthetic predictor)",
    "faces": "a face and expression analyzer",
    "judge": "a vision-language judge",
}
LONG_PROMPT = 280  # characters: a longer prompt is collapsed on its card (<details>)
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
    env.globals.update(
        fmt=fmt,
        vclass=verdict_class,
        is_url=is_url,
        model_name=model_name,
        num=num,
        span=span,
        count=count,
        LONG_PROMPT=LONG_PROMPT,
    )
    return env


def _asset(name: str) -> str:
    return resources.files("viewfinder.report").joinpath("assets", name).read_text(encoding="utf-8")


def story_of(data: ReportData) -> Story:
    """Headline, lead and conclusion of the run (report.story), from the stored score report."""
    ran = [ANALYZER_WORDS.get(a.name, a.name) for a in data.methods.analyzers if a.images_done]
    title = headline(data.score, data.models, data.study.topic) if data.cards else f"{data.study.topic}: no images yet"
    paragraphs = lead(
        data.score, data.study.description, len(data.cards), len({c.prompt for c in data.cards}), data.models, ran
    )
    return Story(title, paragraphs, conclusion(data.score) if data.cards else [])


def grid_effects_that_matter(score: ScoreReport) -> list[str]:
    """Sentences for the grid levels whose odds-ratio interval excludes 1 (no change), holding the
    other grid factors fixed; the report shows no other grid effect."""
    out = []
    for model in score.logistic:
        kept = [t for t in model.terms if t.factor != "model" and not (t.ci_low <= 1 <= t.ci_high)]
        out += [s.text for s in logistic_sentences(model.model_copy(update={"terms": kept}), alpha=1.0)]
    return out


def research_texts(data: ReportData) -> dict[str, Any]:
    """The scoring stage's sentences, grouped by where the researcher's section shows them."""
    score = data.score
    if score is None:
        return {
            "dimension_blocks": [],
            "score_texts": [],
            "agreement_texts": [],
            "comparison_texts": [],
            "effect_texts": [],
            "metric_rows": data.metric_summary,
        }
    blocks = []
    for dim in dict.fromkeys(d.dimension for d in score.dimensions):
        results = [d for d in score.dimensions if d.dimension == dim]
        blocks.append((dimension_name(dim), results, [s.text for d in results for s in dimension_sentences(d)]))
    scored = {item.key for item in score.scores}
    return {
        "dimension_blocks": blocks,
        "score_texts": [s.text for item in score.scores for s in score_sentences(item)],
        "agreement_texts": [agreement_sentence(item).text for item in score.agreements],
        "comparison_texts": [comparison_sentence(item).text for item in score.comparisons],
        "effect_texts": grid_effects_that_matter(score),
        "metric_rows": [row for row in data.metric_summary if row["key"] not in scored],
    }


def embed_images(store: RunStore, rows: list[ImageRecord], report_dir: Path, console: Console) -> dict[str, str]:
    """sha256 -> data URI of every readable image, down-scaled within the page's budget (report.thumbs)."""
    budget = image_budget(len(rows))
    with Progress(
        TextColumn("[bold]report[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        large = [r for r in rows if not embeds_as_is(r.width, r.height, r.bytes, r.format, budget)]
        task = progress.add_task("images", total=len(large))
        made = make_thumbs(
            ((r.sha256, store.image_path(r)) for r in large),
            report_dir,
            budget,
            advance=lambda n: progress.advance(task, n),
        )
    out = {}
    for row in rows:
        if row.sha256 in out:
            continue
        if row.sha256 in made:
            out[row.sha256] = data_uri(report_dir / made[row.sha256])
        elif embeds_as_is(row.width, row.height, row.bytes, row.format, budget):
            path = store.image_path(row)
            if path.is_file():
                out[row.sha256] = data_uri(path, row.format)
    return out


def build_report(store: RunStore, study: Study, console: Console | None = None) -> Path:
    """Write the run's report: report/post.md (relative links to the images and plots/, for
    publishing with them) and report/index.html (one file that works copied alone: images
    down-scaled and plots embedded; the full-size images are links into the run folder)."""
    console = console or Console(stderr=True)
    report_dir = store.run_dir / REPORT_DIR
    report_dir.mkdir(parents=True, exist_ok=True)
    rows = store.images()
    data = gather(store, study, rows, embed_images(store, rows, report_dir, console))
    plots = render_plots(data, report_dir / "plots")
    story = story_of(data)
    js = _asset("report.js")
    context: dict[str, Any] = {
        "data": data,
        "score": data.score,
        "story": story,
        "title": story.title,
        "plots": plots,
        **research_texts(data),
        "adherence_legend": SCALES["adherence"].legend(),
        "trust": trust_section(store),
        "kappa_legend": SCALES["kappa"].legend(),
        "built_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "several": len(data.models) > 1,
    }
    html = (
        _environment(markdown=False)
        .get_template("index.html.j2")
        .render(
            **context,
            css=_asset("report.css"),
            js=js,
            js_hash=base64.b64encode(hashlib.sha256(js.encode("utf-8")).digest()).decode("ascii"),
            plot_uris={plot.key: data_uri(report_dir / plot.path, "svg+xml") for plot in plots},
            cards_json=embed_json(
                {"layout": card_layout(data.specs), "cards": [card.to_json() for card in data.cards]}
            ),
        )
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
