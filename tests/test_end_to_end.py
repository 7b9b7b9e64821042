"""The product end to end, as a user runs it: ``viewfinder run examples/seed.toml`` against
the local fal queue server, the local OpenAI-protocol judge server and tiny local CLIP and
aesthetic models, then the whole report opened in headless Chromium."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from report_fixture import elements_of_markdown
from tiny_models import build_tiny_aesthetic, build_tiny_clip
from typer.testing import CliRunner

from tests.servers.fal_server import FAL_TEST_KEY, FalFakeServer
from tests.servers.openai_server import FakeOpenAI, good_answer
from viewfinder.cli import app
from viewfinder.report.data import format_number
from viewfinder.report.escape import md_text
from viewfinder.score import check_text
from viewfinder.store import RunStore

SEED = Path(__file__).resolve().parents[1] / "examples" / "seed.toml"
HOSTILE_TITLE = '<script>window.__pwned = 1</script> **Jealous** <img src=x onerror="window.__pwned=2">'
ENV_NAMES = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "FAL_KEY", "VIEWFINDER_FAL_URL", "VIEWFINDER_JUDGE_PRICE")


def judge_answers() -> Any:
    """Answers that differ per image: angles, expressions and one hostile title."""
    counter = itertools.count()

    def answer(request: dict[str, Any]) -> dict[str, Any]:
        i = next(counter)
        return good_answer(
            title=HOSTILE_TITLE if i == 0 else f"A look that speaks volumes, number {i}",
            camera_angle=("eye-level", "low-angle", "high-angle")[i % 3],
            expression=("contempt", "happiness", "anger", "sadness")[i % 4],
            scene_match="yes" if i % 4 else "no",
        )

    return answer


@pytest.fixture(scope="module")
def seed_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Any, str]]:
    root = tmp_path_factory.mktemp("e2e")
    clip = build_tiny_clip(root / "models" / "clip")
    aesthetic = build_tiny_aesthetic(root / "models" / "aesthetic.pth", 16)
    study = root / "seed.toml"
    study.write_text(
        SEED.read_text(encoding="utf-8") + f'\n[analysis]\nclip_model = "{clip}"\naesthetic_model = "{aesthetic}"\n',
        encoding="utf-8",
    )
    with pytest.MonkeyPatch.context() as patch:
        for name in ENV_NAMES:
            patch.delenv(name, raising=False)
        with FalFakeServer(latency_s=0.02, key=FAL_TEST_KEY) as fal, FakeOpenAI() as judge:
            judge.responder = judge_answers()
            env = {
                "VIEWFINDER_FAL_URL": fal.url,
                "FAL_KEY": FAL_TEST_KEY,
                "OPENAI_BASE_URL": judge.url,
                "OPENAI_API_KEY": judge.key,
            }
            result = CliRunner().invoke(app, ["run", str(study), "--workdir", str(root / "run")], env=env)
            yield root / "run", result, judge.key


def test_run_produces_the_whole_report(seed_run: tuple[Path, Any, str]) -> None:
    run_dir, result, judge_key = seed_run
    assert result.exit_code == 0, result.output
    report = run_dir / "report"
    md = (report / "post.md").read_text(encoding="utf-8")
    html = (report / "index.html").read_text(encoding="utf-8")
    with RunStore(run_dir, create=False) as store:
        images = store.images()
        table = store.measurement_table()
        versions = {r.analyzer: r.version for r in store.analysis_runs()}
        specs = {f"{s.analyzer}.{s.name}": s for s in store.specs().values()}
    analyzers = set(versions)
    assert len(images) == 10
    assert analyzers == {"pixels", "clip", "faces", "judge"}
    # one card per image, in the seed's shape, with real numbers from each analyzer and their scales
    assert md.count("\n**Prompt**\n") == 10
    for row in images:
        values = table[row.id]
        for label, key in (
            ("Entropy", "pixels.entropy"),
            ("Noise", "pixels.noise"),
            ("Prompt CLIP Score", "clip.clip_score"),
            ("Likelihood of AI", "judge.ai_likelihood"),
        ):
            spec = specs[key]
            scale = f"{spec.unit}, {'higher' if spec.better == 'higher' else 'lower'} is better"
            assert f"- {label} : {md_text(format_number(values[key]))} ({md_text(scale)})" in md
    assert "Camera angle (judge): misses" in md and "Camera angle (judge): follows" in md
    # conclusions per dimension from the scoring stage, consistent with the verdict table
    for label in ("Camera angle (VLM judge)", "Scene (VLM judge)", "Emotion (VLM judge)"):
        assert f"\n*{label}: " in md
    # a headline and a prose conclusion written from those numbers, before the cards
    assert md.startswith("# FLUX.1 \\[schnell\\] ") and md.index("Overall, FLUX.1") < md.index("\n**Prompt**\n")
    assert check_text(md.replace("\\", "")) == []
    stated = (
        r"adherence for fal:fal\\?-ai/flux/schnell scored \d\.\d\d "
        r"\(share of judged images, higher is better; 95% CI"
    )
    assert re.search(stated, md.replace("\\", ""))
    # plots, sources and methods
    for plot in ("adherence", "scores", "distributions"):
        assert (report / "plots" / f"{plot}.svg").is_file() and f'data-file="plots/{plot}.svg"' in html
    assert not list((report / "plots").glob("heatmap_*"))  # one camera, one emotion: no one-cell heatmap
    assert "<https://fal.ai/models/fal-ai/flux/schnell/api>" in md
    methods = md[md.index("## Methods") :]
    assert "- Judges: openai:gpt-4o-mini (10 images)" in methods
    for name, version in versions.items():
        assert f"{md_text(name)} {md_text(version)} (10 images, 0 failed)" in methods
    assert "- Seeds: 0\n" in methods and "generation fal:fal-ai/flux/schnell $0.0300" in methods
    # hostile judge text is text; keys never reach the report
    assert not [tag for tag, _ in elements_of_markdown(md) if tag == "script"]
    assert "\\<script\\>window.\\_\\_pwned = 1\\</script\\>" in md
    for text in (md, html, result.output):
        assert judge_key not in text and FAL_TEST_KEY not in text


@pytest.mark.browser
def test_report_opens_in_chromium(seed_run: tuple[Path, Any, str], tmp_path: Path) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian chromium is not installed")
    run_dir, result, _ = seed_run
    assert result.exit_code == 0, result.output
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((run_dir / "report" / "index.html").as_uri())
        page.wait_for_selector("html[data-ready='1']")
        assert page.locator("#gallery .card").count() == 10
        assert HOSTILE_TITLE in page.locator("#gallery .card h3").all_inner_texts()
        assert page.evaluate("window.__pwned") is None
        page.locator("#images").scroll_into_view_if_needed()
        for _ in range(100):  # lazy images in view finish loading (the page's CSP forbids eval)
            if page.evaluate(
                "[...document.querySelectorAll('#gallery img')]"
                ".filter(i => i.getBoundingClientRect().top < innerHeight).every(i => i.complete)"
            ):
                break
            page.wait_for_timeout(50)
        assert (
            page.evaluate(
                "[...document.querySelectorAll('#gallery img')].filter(i => i.complete && i.naturalWidth > 0).length"
            )
            >= 3
        )
        page.screenshot(path=str(tmp_path / "seed-report.png"))
        browser.close()
    assert errors == []
