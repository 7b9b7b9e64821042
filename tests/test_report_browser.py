"""The HTML report in real headless Chromium: loads clean, one card per image, filters,
pagination, hostile text shown as text (in the page and in the rendered Markdown)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from report_fixture import HOSTILE_TITLE, HOSTILE_VARIANT, make_run
from rich.console import Console

from viewfinder.report import build_report
from viewfinder.score import load_image_adherence

pytestmark = pytest.mark.browser
playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    with playwright_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    run_dir = tmp_path_factory.mktemp("browser-run")
    store, study = make_run(run_dir, hostile=True, seeds=3)
    with store:
        build_report(store, study, Console(quiet=True))
        rows = store.images()
        record = load_image_adherence(store)  # as the scoring stage stored it
        assert record is not None
        flags = {
            image_id: {(v.dimension, v.method): v.follows for v in verdicts}
            for image_id, verdicts in record.images.items()
        }
        images = [asdict(row) | {"flags": flags[row.id]} for row in rows]
    return run_dir / "report", images


class Page:
    """One opened report page that records console errors and page errors."""

    def __init__(self, browser: object, url: str) -> None:
        self.page = browser.new_page(viewport={"width": 1300, "height": 900})  # type: ignore[attr-defined]
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.errors.append(f"dialog: {d.message}"), d.dismiss()))
        self.page.goto(url)
        self.page.wait_for_selector("html[data-ready='1']")

    def cards(self) -> int:
        return self.page.locator("#gallery .card").count()

    def choose(self, control: str, value: str) -> None:
        self.page.select_option(control, value)

    def close(self) -> None:
        self.page.close()


@pytest.fixture()
def report_page(browser: object, hostile_run: tuple[Path, list[dict]]) -> Iterator[Page]:
    """The hostile run's report opened in a new page, closed after the test."""
    page = Page(browser, (hostile_run[0] / "index.html").as_uri())
    yield page
    page.close()


def test_page_loads_clean_with_one_card_per_image(
    hostile_run: tuple[Path, list[dict]], report_page: Page, tmp_path: Path
) -> None:
    images = hostile_run[1]
    page = report_page
    page.choose("#page-size", "0")  # all on one page
    assert page.cards() == len(images) == 36
    assert page.page.locator("#gallery").get_attribute("data-total") == "36"
    unmeasured = page.page.locator('#gallery .card[data-id="1"] dl').nth(1).inner_text()  # Quality
    assert "Entropy\nnot measured" in unmeasured and "0.00" not in unmeasured
    measured = page.page.locator('#gallery .card[data-id="2"] dl').nth(1).inner_text()
    assert re.search(r"Entropy\n\d\.\d\d\s*\(bits 0-8, higher is better\)", measured)
    page.page.evaluate("document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; })")
    for _ in range(150):  # the page's CSP forbids eval, so poll instead of wait_for_function
        if page.page.evaluate("[...document.images].every(i => i.complete)"):
            break
        page.page.wait_for_timeout(100)
    broken = page.page.evaluate("[...document.images].filter(i => i.naturalWidth === 0).map(i => i.src)")
    assert broken == []  # every thumbnail and plot resolved from the report folder
    page.page.screenshot(path=str(tmp_path / "report.png"), full_page=False)
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert page.errors == []


def test_filters_by_model_emotion_camera_and_verdict(hostile_run: tuple[Path, list[dict]], report_page: Page) -> None:
    images = hostile_run[1]
    page = report_page
    page.choose("#page-size", "0")
    page.choose("#filter-model", "fal:fal-ai/flux/dev")
    assert page.cards() == sum(i["model"] == "fal:fal-ai/flux/dev" for i in images) == 18
    assert set(page.page.locator("#gallery .card").evaluate_all("cs => cs.map(c => c.dataset.model)")) == {
        "fal:fal-ai/flux/dev"
    }
    page.choose("#filter-emotion", "Joy")
    assert page.cards() == sum(i["model"] == "fal:fal-ai/flux/dev" and i["emotion"] == "Joy" for i in images)
    page.choose("#filter-model", "")
    page.choose("#filter-emotion", "")
    page.choose("#filter-camera", "low-angle close-up")
    assert page.cards() == sum(i["camera"] == "low-angle close-up" for i in images) == 18
    page.choose("#filter-camera", "")
    page.choose("#filter-verdict", "Camera angle (judge): misses")
    misses = sum(i["flags"].get(("camera_angle", "judge")) is False for i in images)
    assert page.cards() == misses > 0
    texts = page.page.locator("#gallery .card ul.verdicts").all_inner_texts()
    assert all("Camera angle (judge): misses" in t for t in texts)
    page.choose("#filter-model", "fal:fal-ai/flux/schnell")
    assert page.cards() == sum(
        i["flags"].get(("camera_angle", "judge")) is False and i["model"] == "fal:fal-ai/flux/schnell" for i in images
    )
    page.choose("#filter-model", "")
    page.choose("#filter-verdict", "")
    page.page.fill("#filter-text", "kite")
    assert page.cards() == sum("kite" in i["prompt_text"] for i in images) == 12
    assert "of 12 images (filtered from 36)" in page.page.inner_text("#page-info")
    assert page.errors == []


def test_pagination_walks_every_card_once(hostile_run: tuple[Path, list[dict]], report_page: Page) -> None:
    images = hostile_run[1]
    page = report_page
    page.choose("#page-size", "24")
    seen: list[str] = []
    while True:
        seen += page.page.locator("#gallery .card").evaluate_all("cs => cs.map(c => c.dataset.id)")
        if page.page.is_disabled("#next-page"):
            break
        page.page.click("#next-page")
    assert sorted(map(int, seen)) == sorted(i["id"] for i in images)
    assert page.page.inner_text("#page-info").endswith("page 2 of 2")


def test_hostile_text_is_shown_as_text_and_never_runs(report_page: Page) -> None:
    page = report_page
    page.choose("#page-size", "0")
    assert page.page.evaluate("window.__pwned") is None
    titles = page.page.locator("#gallery .card h3").all_inner_texts()
    assert HOSTILE_TITLE in titles
    prompts = page.page.locator("#gallery .card .prompt").all_inner_texts()
    assert any(HOSTILE_VARIANT in p for p in prompts)
    assert page.page.evaluate("document.querySelectorAll('script').length") == 2
    assert (
        page.page.evaluate(
            "[...document.querySelectorAll('*')].filter(e => [...e.attributes]"
            ".some(a => a.name.startsWith('on'))).length"
        )
        == 0
    )
    assert page.errors == []


def test_rendered_markdown_shows_hostile_text_as_text(browser: object, hostile_run: tuple[Path, list[dict]]) -> None:
    report_dir, _ = hostile_run
    body = MarkdownIt("commonmark", {"html": True}).enable("table").render((report_dir / "post.md").read_text())
    target = report_dir / "post-rendered.html"
    target.write_text(f"<!DOCTYPE html><meta charset=utf-8><body>{body}</body>", encoding="utf-8")
    page = browser.new_page()  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (errors.append(d.message), d.dismiss()))
    page.goto(target.as_uri())
    page.wait_for_timeout(300)  # let any injected onerror handler fire
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("document.querySelectorAll('script').length") == 0
    text = page.inner_text("body")
    assert HOSTILE_TITLE in text and "**bold** ![x](javascript:alert(1))" in text
    assert errors == []
    page.close()


def test_filters_live_in_the_address(browser: object, hostile_run: tuple[Path, list[dict]]) -> None:
    report_dir, images = hostile_run
    page = Page(browser, (report_dir / "index.html").as_uri())
    page.choose("#page-size", "0")
    page.choose("#filter-emotion", "Joy")
    page.choose("#filter-camera", "eye-level")
    url = page.page.url
    assert "emotion=Joy" in url and "camera=eye-level" in url
    shared = Page(browser, url)  # the same view, opened from the address
    shared.choose("#page-size", "0")
    expected = sum(i["emotion"] == "Joy" and i["camera"] == "eye-level" for i in images)
    assert shared.cards() == expected == 6
    assert shared.page.input_value("#filter-emotion") == "Joy"
    unknown = Page(browser, (report_dir / "index.html").as_uri() + "#model=nope&emotion=%3Cscript%3E")
    assert unknown.page.input_value("#filter-model") == "" and unknown.page.evaluate("window.__pwned") is None
    assert page.errors == shared.errors == unknown.errors == []
    for p in (page, shared, unknown):
        p.close()


ARTIFACTS = Path(__file__).parent / "artifacts"
LONG_ERRORS = (
    "The image has visible noise in the shadows and a second, softer copy of the subject's hand; " * 6
    + "see https://example.com/"
    + "a" * 300
)


@pytest.fixture(scope="module")
def long_text_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-model run whose judge wrote a long text with an unbroken 320-character address, and one
    prompt of 6,000 characters (a pasted story)."""
    from viewfinder.store import Measurement

    run_dir = tmp_path_factory.mktemp("layout-run")
    store, study = make_run(run_dir, models=["fal:fal-ai/flux/schnell"], long_prompt=True, seeds=3)
    with store:
        first = store.images()[0].id
        store.write_analysis("judge", "1.0", [Measurement(first, "image_errors", text=LONG_ERRORS)], [first])
        build_report(store, study, Console(quiet=True))
    return run_dir / "report"


def _all_images_loaded(page: object) -> list[str]:
    """Sources of the <img> elements that did not decode (naturalWidth 0), after all finished."""
    for _ in range(150):  # the page's CSP forbids eval, so poll instead of wait_for_function
        if page.evaluate("[...document.images].every(i => i.complete)"):  # type: ignore[attr-defined]
            break
        page.wait_for_timeout(100)  # type: ignore[attr-defined]
    return page.evaluate(  # type: ignore[attr-defined]
        "[...document.images].filter(i => i.naturalWidth === 0).map(i => i.src.slice(0, 80))"
    )


def test_page_works_when_copied_alone(browser: object, long_text_run: Path, tmp_path: Path) -> None:
    alone = tmp_path / "elsewhere" / "index.html"
    alone.parent.mkdir()
    alone.write_bytes((long_text_run / "index.html").read_bytes())
    assert sorted(p.name for p in alone.parent.iterdir()) == ["index.html"]
    page = Page(browser, alone.as_uri())
    page.choose("#page-size", "0")
    images = page.page.evaluate("document.images.length")
    cards = page.cards()
    plots = page.page.locator("figure img").count()
    assert cards == 12 and plots >= 4 and images == cards + plots
    assert _all_images_loaded(page.page) == []  # every card image and plot is inside the page
    # the full-size image stays a link into the run folder (it is not inside the page)
    href = page.page.locator("#gallery .card a.shot").first.get_attribute("href")
    assert href is not None and href.startswith("../images/")
    assert page.errors == []
    page.close()


OVERFLOW = """() => {
  const out = [];
  const page = document.documentElement.clientWidth;
  const wide = document.documentElement.scrollWidth;
  if (wide > page) out.push('page scrolls sideways: ' + wide);
  const scrolled = e => e.closest('.scroll');
  for (const e of document.querySelectorAll('body *')) {
    const r = e.getBoundingClientRect();
    if (!r.width || scrolled(e.parentElement || e)) continue;
    if (r.right > page + 1 || r.left < -1)
      out.push(e.tagName + '.' + e.className + ' spans ' + r.left + '..' + r.right);
  }
  for (const card of document.querySelectorAll('#gallery .card')) {
    const c = card.getBoundingClientRect();
    for (const e of card.querySelectorAll('*')) {
      const r = e.getBoundingClientRect();
      if (r.width && (r.right > c.right + 1 || r.left < c.left - 1))
        out.push('card ' + card.dataset.id + ': ' + e.tagName + '.' + e.className + ' ' + r.width +
                 ' px in ' + c.width);
    }
  }
  return out;
}"""


@pytest.mark.parametrize("width", [1280, 390])
def test_layout_fits_desktop_and_phone(browser: object, long_text_run: Path, width: int) -> None:
    page = browser.new_page(viewport={"width": width, "height": 1000})  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((long_text_run / "index.html").as_uri())
    page.wait_for_selector("html[data-ready='1']")
    ARTIFACTS.mkdir(exist_ok=True)
    top, cards = ARTIFACTS / f"report-{width}.png", ARTIFACTS / f"report-{width}-cards.png"
    page.screenshot(path=str(top))  # headline, lead, conclusion
    page.select_option("#page-size", "0")
    assert _all_images_loaded(page) == []
    assert page.evaluate(OVERFLOW) == []  # no element wider than its card or the page
    heights = page.locator("#gallery .card").evaluate_all("cs => cs.map(c => c.getBoundingClientRect().height)")
    long_card = page.locator("#gallery .card", has=page.locator("details.prompt-box"))
    assert long_card.count() == 6  # the 6,000-character prompt (2 cameras x 3 seeds) is collapsed on its cards
    assert "windy beach" not in long_card.first.locator("summary").inner_text()
    tallest = max(long_card.evaluate_all("cs => cs.map(c => c.getBoundingClientRect().height)"))
    assert tallest < 1.5 * sorted(heights)[len(heights) // 2], (tallest, heights)
    long_card.first.locator("summary").click()
    assert long_card.first.locator(".prompt").inner_text().startswith("facial-expressions")
    assert page.evaluate(OVERFLOW) == []  # opened, the prompt wraps inside its card
    page.evaluate("document.getElementById('gallery').scrollIntoView()")
    page.screenshot(path=str(cards))  # the first cards: the long judge text, a long prompt opened
    print(f"screenshots for a person to look at: {top} {cards}")
    assert top.stat().st_size > 10_000 and cards.stat().st_size > 10_000
    assert errors == []
    page.close()
