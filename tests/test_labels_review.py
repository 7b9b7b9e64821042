"""The review page in headless Chromium on a real uvicorn server: label ten images with the
keyboard, reload, continue, and check the labels stored in the run; the token gate; the
stratified sample."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from labels_fixture import make_import_run

from viewfinder.labels.questions import question
from viewfinder.labels.review import bind, review_app
from viewfinder.labels.sample import review_sample, stratified_order
from viewfinder.store import RunStore

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]
TOKEN = "test-token-abc"


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[str, RunStore, list[int]]]:
    """A run of 16 imported images, its review sample of 12 served on 127.0.0.1."""
    store = RunStore(make_import_run(tmp_path, 16), create=False)
    sample = review_sample(store, 12)
    sock = bind(0)
    server = uvicorn.Server(uvicorn.Config(review_app(store, sample, "ann", TOKEN), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    for _ in range(200):
        if server.started:
            break
        threading.Event().wait(0.02)
    try:
        yield base, store, sample
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        store.close()


def test_the_sample_is_stratified_and_stored(tmp_path: Path) -> None:
    with RunStore(make_import_run(tmp_path, 16), create=False) as store:
        rows = {row.id: row for row in store.images()}
        first = review_sample(store, 8)
        strata = Counter((rows[i].model, rows[i].camera, rows[i].emotion) for i in first)
        assert len(strata) == 8 and set(strata.values()) == {1}  # 8 strata of 2 images: one of each
        assert review_sample(store, 12)[:8] == first  # extending keeps the images already chosen
        assert review_sample(store, 4) == first[:4]
        assert stratified_order(store.images()) == stratified_order(store.images())


def test_requests_without_the_token_are_forbidden(served: tuple[str, RunStore, list[int]]) -> None:
    base, _, sample = served
    assert httpx.get(f"{base}/").status_code == 403
    assert httpx.get(f"{base}/?token=wrong").status_code == 403
    assert httpx.get(f"{base}/image/{sample[0]}").status_code == 403
    assert (
        httpx.post(
            f"{base}/api/answer", json={"image_id": sample[0], "dimension": "shot_size", "answer": "wide"}
        ).status_code
        == 403
    )
    page = httpx.get(f"{base}/?token={TOKEN}")
    assert page.status_code == 200 and "script-src 'sha256-" in page.headers["content-security-policy"]
    assert httpx.get(f"{base}/image/{sample[0]}?token={TOKEN}").content[:4] == b"\x89PNG"
    bad = httpx.post(
        f"{base}/api/answer?token={TOKEN}",
        json={"image_id": sample[0], "dimension": "shot_size", "answer": "sideways"},
    )
    assert bad.status_code == 400


def test_label_ten_images_by_keyboard_reload_and_continue(served: tuple[str, RunStore, list[int]]) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    base, store, sample = served
    rows = {row.id: row for row in store.images()}
    expected: dict[tuple[int, str], str] = {}

    def label(page: object, count: int, start: int) -> None:
        for offset in range(count):
            image_id = sample[start + offset]
            assert page.text_content("#where") == f"Image {start + offset + 1} of 12"  # type: ignore[attr-defined]
            assert f"/image/{image_id}?token=" in page.get_attribute("#photo", "src")  # type: ignore[attr-defined]
            for dimension in ("camera_angle", "shot_size", "expression", "scene_match", "style_match"):
                current = page.get_attribute("#questions li.current", "data-dimension")  # type: ignore[attr-defined]
                assert current == dimension
                key = (offset + start + len(dimension)) % 3  # answers 1-3 vary with the image and question
                expected[(image_id, dimension)] = question(dimension).answers[key]
                page.keyboard.press(str(key + 1))  # type: ignore[attr-defined]
        page.wait_for_selector("body[data-pending='0']")  # type: ignore[attr-defined]

    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{base}/?token={TOKEN}")
            page.wait_for_selector("body[data-ready='1']")
            shown = page.inner_text("body")
            first = rows[sample[0]]
            assert first.prompt_text not in shown and first.emotion not in shown  # requested values hidden
            assert page.is_hidden("#prompt")
            assert "scene: A kitchen" in shown and "0 of 12 images done" in shown
            label(page, 6, 0)
            page.keyboard.press("2")  # one answer on the 7th image, then the tab is reloaded
            page.wait_for_selector("body[data-pending='0']")
            expected[(sample[6], "camera_angle")] = question("camera_angle").answers[1]
            page.reload()
            page.wait_for_selector("body[data-ready='1']")
            assert page.text_content("#where") == "Image 7 of 12"
            assert "6 of 12 images done" in (page.text_content("#done") or "")
            assert page.get_attribute("#questions li.current", "data-dimension") == "shot_size"
            page.keyboard.press("Backspace")  # back to the camera question: answer it again, differently
            page.keyboard.press("3")
            expected[(sample[6], "camera_angle")] = question("camera_angle").answers[2]
            for dimension in ("shot_size", "expression", "scene_match", "style_match"):
                expected[(sample[6], dimension)] = question(dimension).answers[0]
                page.keyboard.press("1")
            label(page, 3, 7)
            assert "10 of 12 images done" in (page.text_content("#done") or "")
        finally:
            browser.close()
    stored = {(lab.image_id, lab.dimension): lab.answer for lab in store.labels("ann")}
    assert stored == expected and len(stored) == 50
    assert {lab.source for lab in store.labels()} == {"review"}


def test_the_review_command_prints_a_tokened_url_and_serves_it(tmp_path: Path) -> None:
    run_dir = make_import_run(tmp_path, 6)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [
        sys.executable,
        "-m",
        "viewfinder",
        "review",
        str(run_dir),
        "--sample",
        "4",
        "--labeller",
        "zoe",
    ]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stderr is not None
        line = ""
        for _ in range(20):
            line = process.stderr.readline()
            if "open http" in line:
                break
        match = re.search(r"open (http://127\.0\.0\.1:\d+/)\?token=(\S+)", line)
        assert match, line
        assert "review 4 images" in line and "'zoe'" in line
        assert httpx.get(match.group(1), timeout=10).status_code == 403
        state = httpx.get(f"{match.group(1)}api/state?token={match.group(2)}", timeout=10).json()
        assert state["labeller"] == "zoe" and len(state["items"]) == 4
        assert all(item["prompt"] is None for item in state["items"])  # hidden by default
    finally:
        process.terminate()
        process.wait(10)
    with RunStore(run_dir, create=False) as store:
        assert len(review_sample(store, 4)) == 4
