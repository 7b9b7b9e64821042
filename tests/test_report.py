"""The report files: cards, units and directions, "not measured", conclusions, escaping, CLI."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from markdown_it import MarkdownIt
from PIL import Image
from report_fixture import (
    HOSTILE_DESCRIPTION,
    HOSTILE_TITLE,
    HOSTILE_VARIANT,
    elements,
    make_run,
    render_markdown,
    study_text,
)
from rich.console import Console
from typer.testing import CliRunner

from viewfinder.cli import app
from viewfinder.report import build_report
from viewfinder.report.data import embed_json
from viewfinder.report.escape import md_text
from viewfinder.report.thumbs import AS_IS_SIDE, EMBED_MAX_BYTES, EMBED_SIZE, PAGE_IMAGE_BUDGET, image_budget, shrink
from viewfinder.score import check_text, load_score_report, run_scoring
from viewfinder.score.sentences import (
    agreement_sentence,
    comparison_sentence,
    dimension_sentences,
    grid_effect_sentence,
    score_sentences,
)
from viewfinder.store import RunStore
from viewfinder.study import expand_jobs, parse_study

QUIET = Console(quiet=True)


def island_of(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="cards-data">(.*?)</script>', html, re.S)
    assert match, "the page has no data island"
    return json.loads(match.group(1))


def cards_of(html: str) -> list[dict]:
    return island_of(html)["cards"]


def lines_of(html: str, image_id: int) -> dict[str, tuple[str | None, str]]:
    """One card's lines as the page shows them: label -> (value or None, scale)."""
    data = island_of(html)
    card = next(c for c in data["cards"] if c["id"] == image_id)
    labels = [(label, scale) for _, lines in data["layout"] for label, scale in lines]
    assert len(labels) == len(card["f"])
    return {label: (value, scale) for (label, scale), value in zip(labels, card["f"], strict=False)}


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    run_dir = tmp_path_factory.mktemp("run")
    store, study = make_run(run_dir, hostile=True)
    with store:
        report_dir = build_report(store, study, QUIET)
        count = len(store.images())
    return report_dir, count


def decoded(uri: str) -> Image.Image:
    """The image inside a data URI."""
    head, _, body = uri.partition(",")
    assert head.startswith("data:image/") and head.endswith(";base64"), head
    return Image.open(io.BytesIO(base64.b64decode(body)))


def test_writes_post_page_embedded_images_and_plots(hostile_report: tuple[Path, int]) -> None:
    report_dir, count = hostile_report
    html = (report_dir / "index.html").read_text()
    cards = cards_of(html)
    assert len(cards) == count == 24
    assert len({c["id"] for c in cards}) == count
    for card in cards:
        assert (report_dir / card["img"]).resolve().is_file()  # the full-size original, linked from report/
        with decoded(card["th"]) as image:  # the page carries a down-scaled copy
            assert image.format == "JPEG"
            assert max(image.size) == (EMBED_SIZE if card["w"] > AS_IS_SIDE else card["w"])
        assert len(base64.b64decode(card["th"].partition(",")[2])) <= EMBED_MAX_BYTES
    for src in re.findall(r'<img src="([^"]+)"', html):
        assert src.startswith("data:image/svg+xml;base64,")  # plots are inside the page too
    assert "<link" not in html and 'src="http' not in html  # nothing from a CDN
    plots = sorted(p.name for p in (report_dir / "plots").glob("*.svg"))
    assert "adherence.svg" in plots and "heatmap_emotion_judge.svg" in plots
    md = (report_dir / "post.md").read_text()
    assert md.count("\n**Prompt**\n") == count
    for name in plots:  # the post links them (published with the folder); the page names its source
        assert f'data-file="plots/{name}"' in html and f"](plots/{name})" in md
    assert md.count("](../images/") == count


def test_image_budget_shrinks_with_the_run() -> None:
    assert image_budget(17) == EMBED_MAX_BYTES == 150_000
    assert image_budget(10_000) == PAGE_IMAGE_BUDGET // 10_000
    rng = np.random.default_rng(3)
    photo = Image.fromarray(np.clip(rng.normal(128, 60, (768, 1024, 3)), 0, 255).astype(np.uint8))
    for budget in (150_000, 12_000, 2_400):
        data = shrink(photo, budget)
        assert len(data) <= budget
        with Image.open(io.BytesIO(data)) as small:
            assert max(small.size) <= EMBED_SIZE


def test_cards_show_units_directions_and_not_measured(hostile_report: tuple[Path, int]) -> None:
    report_dir, _ = hostile_report
    html = (report_dir / "index.html").read_text()
    first = lines_of(html, 1)  # the first image stored has no pixel or CLIP numbers
    assert first["Entropy"] == (None, "bits 0-8, higher is better")
    assert first["Prompt CLIP Score"][0] is None and first["Likelihood of AI"][0] is not None
    measured = lines_of(html, 2)
    assert measured["Noise"][1] == "8-bit levels, lower is better"
    assert measured["Likelihood of AI"][1] == "0-1, lower is better"
    assert measured["Image errors"] == ("Some noise in the shadows.", "")
    assert float(measured["Prompt CLIP Score"][0]) > 0
    md = (report_dir / "post.md").read_text()
    assert "- Entropy : not measured\n" in md
    assert re.search(r"- Entropy : \d\\?\.\d\d \(bits 0\\?-8, higher is better\)", md)


def test_card_verdicts_follow_the_scoring_rules(hostile_report: tuple[Path, int]) -> None:
    report_dir, _ = hostile_report
    cards = cards_of((report_dir / "index.html").read_text())
    first = {(v[0], v[1]): (v[2], v[3]) for v in next(c for c in cards if c["id"] == 1)["v"]}
    # fixture: image 0 asked eye-level; judge saw "eye-level"; faces said "low-angle".
    assert first[("Camera angle", "judge")][0] == "follows"
    assert first[("Camera angle", "faces")] == ("misses", 'asked "eye-level", seen "low-angle"')
    assert first[("Style", "judge")][0] == "follows"
    outcomes = {v[2] for c in cards for v in c["v"]}
    assert outcomes == {"follows", "misses", "not judged"}


def test_conclusions_come_from_the_score_report_and_agree_with_the_table(tmp_path: Path) -> None:
    store, study = make_run(tmp_path)
    with store:
        report = load_score_report(store)
        build_report(store, study, QUIET)
    md = (tmp_path / "report" / "post.md").read_text()
    html = (tmp_path / "report" / "index.html").read_text()
    shown = [s for d in report.dimensions for s in dimension_sentences(d)]
    shown += [s for item in report.scores for s in score_sentences(item)]
    shown += [agreement_sentence(a) for a in report.agreements] + [comparison_sentence(c) for c in report.comparisons]
    for sentence in shown:
        assert md_text(sentence.text) in md
    for effect in report.grid_effects:  # "is 0.33 at every category value" is no finding: left out
        sentence = grid_effect_sentence(effect)
        assert sentence is None or md_text(sentence.text) not in md
    assert check_text(md.replace("\\", "")) == []
    for dim in report.dimensions:
        assert f"*{md_text(dim.label)}: " in md and f'<p class="note">{dim.label}: ' in html
        for rate in dim.per_model.values():
            assert f"{rate.k} of {rate.n} judged images" in md
    assert "95% CI" in md and "higher is better" in md
    assert "## Sources" in md and "<https://dramaresource.com/storytelling/>" in md
    assert "\n- javascript:alert(1)\n" in md  # a source that is no http(s) address stays text
    assert not [a for _, a in elements(render_markdown(md)) if (a.get("href") or "").startswith("javascript")]


def test_methods_name_models_judges_analyzers_seeds_costs(hostile_report: tuple[Path, int]) -> None:
    report_dir, _ = hostile_report
    md = (report_dir / "post.md").read_text()
    methods = md[md.index("## Methods") :]
    assert "fal:fal-ai/flux/schnell (12 images)" in methods
    assert "openai:gpt-4o-mini (24 images)" in methods
    assert "pixels 1.0 (23 images, 0 failed)" in methods
    assert "Seeds: 0, 1" in methods
    assert "Cost: $0.0816 in total" in methods  # 24 x (0.003 generation + 0.0004 judge)
    assert "judge\\_prompt v1" in methods


def test_unscored_run_still_reports(tmp_path: Path) -> None:
    store, study = make_run(tmp_path, score=False)
    with store:
        build_report(store, study, QUIET)
        count = len(store.images())
    md = (tmp_path / "report" / "post.md").read_text()
    assert "has not been scored yet" in md
    assert len(cards_of((tmp_path / "report" / "index.html").read_text())) == count == 16


def test_markdown_shows_hostile_text_as_text(hostile_report: tuple[Path, int]) -> None:
    report_dir, _ = hostile_report
    md = (report_dir / "post.md").read_text()
    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(md)
    tags = elements(rendered)
    assert not [t for t, _ in tags if t in {"script", "iframe", "object", "b"}]
    for tag, attrs in tags:
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        for name in ("href", "src"):
            assert not (attrs.get(name) or "").lower().startswith("javascript"), (tag, attrs)
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt; **bold**" in rendered
    assert "&lt;img src=x onerror=&quot;window.__pwned=3&quot;&gt; # Heading" in rendered
    assert "[click](javascript:window.__pwned=5) | table |" in rendered
    # one heading per card and none injected by text
    assert rendered.count("<h1>") == 1


def test_html_escapes_hostile_text_outside_the_data_island(hostile_report: tuple[Path, int]) -> None:
    report_dir, _ = hostile_report
    html = (report_dir / "index.html").read_text()
    island = re.search(r'<script type="application/json" id="cards-data">(.*?)</script>', html, re.S).group(1)
    assert "<" not in island and ">" not in island  # '</script>' in a title cannot close the island
    cards = json.loads(island)["cards"]
    assert {c["t"] for c in cards} >= {HOSTILE_TITLE}
    assert any(HOSTILE_VARIANT in c["p"] for c in cards)
    assert cards[0]["d"] == HOSTILE_DESCRIPTION
    outside = html.replace(island, "")
    assert outside.count("<script") == 2  # the data island and our own script, nothing else
    assert "window.__pwned" not in outside


@pytest.mark.parametrize("text", ["</script><script>alert(1)</script>", "\u2028<!--", "a & b > c"])
def test_embed_json_round_trips_without_markup(text: str) -> None:
    embedded = embed_json({"t": text})
    assert "<" not in embedded and ">" not in embedded and "\u2028" not in embedded
    assert json.loads(embedded) == {"t": text}


def test_md_text_escapes_markdown_and_html() -> None:
    md = MarkdownIt("commonmark", {"html": True})
    for text in [
        "**bold** _it_ `code`",
        "# heading",
        "1. item",
        "- item",
        "<b>x</b>",
        "![i](javascript:x)",
        "[l](http://e.x)",
        "a | b",
        "&amp;",
        "line\n\n# two",
    ]:
        rendered = md.render(md_text(text))
        assert rendered.startswith("<p>") and rendered.count("<p>") == 1, (text, rendered)
        assert "<strong>" not in rendered and "<em>" not in rendered and "<a " not in rendered
        assert "<img" not in rendered and "<code>" not in rendered and "<b>" not in rendered


def test_cli_report_command(tmp_path: Path) -> None:
    store, _ = make_run(tmp_path, score=False)
    store.close()
    result = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "report" / "index.html").is_file() and (tmp_path / "report" / "post.md").is_file()
    missing = CliRunner().invoke(app, ["report", str(tmp_path / "nope")])
    assert missing.exit_code == 2
    assert "not a run folder" in missing.output and "Traceback" not in missing.output


def test_rebuild_reuses_thumbnails(tmp_path: Path) -> None:
    store, study = make_run(tmp_path, score=False)
    with store:
        build_report(store, study, QUIET)
        thumbs = sorted((tmp_path / "report" / "thumbs").iterdir())
        stamps = [p.stat().st_mtime_ns for p in thumbs]
        build_report(store, study, QUIET)
    assert [p.stat().st_mtime_ns for p in thumbs] == stamps
    assert len(thumbs) == 6  # one in three images is larger than 480 px; the others are embedded as they are


def test_run_without_images_reports_that(tmp_path: Path) -> None:
    text = study_text(False)
    study = parse_study(text)
    with RunStore(tmp_path) as store:
        store.set_meta("study_toml", text)
        store.add_jobs(expand_jobs(study))
        run_scoring(store, study, QUIET)
        build_report(store, study, QUIET)
    md = (tmp_path / "report" / "post.md").read_text()
    assert md.startswith("# facial-expressions: no images yet\n")
    assert "Created with: no model yet · 0 images" in md
    assert cards_of((tmp_path / "report" / "index.html").read_text()) == []


def test_heatmap_cells_count_the_cards_verdicts(hostile_report: tuple[Path, int]) -> None:
    report_dir, _ = hostile_report
    cards = cards_of((report_dir / "index.html").read_text())
    cells: dict[tuple[str, str], list[int]] = {}
    for card in cards:
        for label, method, outcome, _ in card["v"]:
            if label == "Emotion" and method == "judge" and outcome != "not judged":
                cell = cells.setdefault((card["c"], card["e"]), [0, 0])
                cell[0] += outcome == "follows"
                cell[1] += 1
    svg = (report_dir / "plots" / "heatmap_emotion_judge.svg").read_text()
    shown = sorted(re.findall(r">(\d+/\d+)<", svg))
    assert shown == sorted(f"{k}/{n}" for k, n in cells.values()) and len(shown) == 4  # 2 cameras x 2 emotions
    for k, n in cells.values():
        assert f">{k / n:.2f}<" in svg


def test_every_plot_has_a_caption_with_its_direction(hostile_report: tuple[Path, int]) -> None:
    report_dir, _ = hostile_report
    html = (report_dir / "index.html").read_text()
    figures = re.findall(
        r'<figure id="plot-([^"]+)"><img src="data:image/svg\+xml;base64,[^"]+" alt="[^"]*" '
        r'data-file="plots/\1\.svg"><figcaption>(.*?)</figcaption>',
        html,
    )
    assert len(figures) == len(list((report_dir / "plots").glob("*.svg"))) == 7
    for _, caption in figures:
        assert "is better" in caption and re.search(r"\b(Share of|Distribution over|Mean of)\b", caption)


def test_unreadable_image_keeps_its_card_and_the_original_link(tmp_path: Path) -> None:
    store, study = make_run(tmp_path, score=False)
    with store:
        rows = [r for r in store.images() if r.width > 640]
        (tmp_path / rows[0].path).write_bytes(b"not a jpeg")
        build_report(store, study, QUIET)
    cards = {c["id"]: c for c in cards_of((tmp_path / "report" / "index.html").read_text())}
    assert cards[rows[0].id]["th"] is None  # the card says the file could not be read
    assert cards[rows[0].id]["img"] == "../" + rows[0].path  # and still links the original
    assert all(cards[r.id]["th"].startswith("data:image/jpeg;base64,") for r in rows[1:])
    assert len(cards) == 16


def test_stale_score_report_is_bad_input_with_the_fix(tmp_path: Path) -> None:
    store, _ = make_run(tmp_path, score=False)
    with store:
        store.save_aggregate("score_report", {"version": 0, "rates": [0.2]})
    result = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2
    assert "run 'viewfinder score" in " ".join(result.output.split()) and "Traceback" not in result.output


def test_methods_list_each_models_generation_changes() -> None:
    from viewfinder.report.data import _generation_settings
    from viewfinder.study import parse_study

    study = parse_study(
        'name = "s"\ntopic = "t"\ncameras = ["eye-level"]\nstyles = ["cinematic"]\n'
        'models = ["fal:a/b", "fal:c/d"]\n\n[generation]\nnum_inference_steps = 4\n\n'
        '[generation.per_model."fal:c/d"]\nnum_inference_steps = 28\nguidance_scale = 3.5\n\n'
        '[[emotions]]\nname = "Joy"\n\n[[emotions.cases]]\nvariant = "v"\nsubject = "s"\ncategory = "c"\nscene = "x"\n'
    )
    settings = _generation_settings(study)
    assert settings["num_inference_steps"] == 4
    assert settings["for fal:c/d"] == "num_inference_steps=28, guidance_scale=3.5"
    assert "per_model" not in settings


def test_heatmap_labels_stay_apart_and_one_cell_maps_are_not_drawn(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    from viewfinder.report.data import gather
    from viewfinder.report.plots import heatmap_figure

    store, study = make_run(tmp_path)
    with store:
        data = gather(store, study, store.images())
    fig = heatmap_figure(data, "emotion", "judge")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    title = fig._suptitle.get_window_extent(renderer)
    bar_label = fig.axes[1].yaxis.label.get_window_extent(renderer)
    assert not title.overlaps(bar_label)
    page = fig.bbox
    for text in fig.findobj(lambda o: hasattr(o, "get_text") and o.get_text()):
        box = text.get_window_extent(renderer)
        assert box.x0 >= page.x0 - 1 and box.x1 <= page.x1 + 1 and box.y1 <= page.y1 + 1, text.get_text()
    plt.close(fig)
    one_cell = [c for c in data.cards if c.camera_label == data.cameras[0] and c.fields["emotion"] == data.emotions[0]]
    data.cards = one_cell  # a one-camera, one-emotion study
    assert heatmap_figure(data, "emotion", "judge") is None
