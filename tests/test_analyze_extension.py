"""Adding an analyzer is one module plus one registry line: its numbers reach the score output
and the report through the roles its specs declare, with no other change."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from viewfinder.analyze import registry
from viewfinder.cli import app


@pytest.fixture()
def brightness(monkeypatch: pytest.MonkeyPatch) -> None:
    from extra_analyzers.brightness import BrightnessAnalyzer

    monkeypatch.setitem(registry.ANALYZERS, "brightness", lambda analysis: BrightnessAnalyzer())  # the one line


def test_an_extra_analyzer_reaches_scores_and_report(image_run, brightness, tmp_path: Path) -> None:
    levels = [220, 200, 40, 30]  # two bright images follow the "style", two dark ones do not
    run_dir = image_run([np.full((24, 32, 3), level, dtype=np.uint8) for level in levels])
    runner = CliRunner()
    analyzed = runner.invoke(app, ["analyze", str(run_dir), "--analyzers", "brightness"])
    assert analyzed.exit_code == 0, analyzed.output

    scored = runner.invoke(app, ["score", str(run_dir), "--json"])
    assert scored.exit_code == 0, scored.output
    report = json.loads(scored.stdout.strip().splitlines()[-1])
    score = next(s for s in report["scores"] if s["key"] == "brightness.brightness")
    assert score["label"] == "Brightness probe (0-1)" and score["direction"] == "higher"
    assert score["overall"]["mean"] == pytest.approx(np.mean(levels) / 255, abs=1e-3)
    style = next(d for d in report["dimensions"] if (d["dimension"], d["method"]) == ("style", "brightness"))
    assert style["label"] == "Style (brightness probe)"
    assert (style["overall"]["k"], style["overall"]["n"]) == (2, 4)

    made = runner.invoke(app, ["report", str(run_dir)])
    assert made.exit_code == 0, made.output
    md = (run_dir / "report" / "post.md").read_text()
    html = (run_dir / "report" / "index.html").read_text()
    for text in (md, html):
        assert "Brightness probe (0-1)" in text  # the score table
        assert "Style (brightness probe)" in text  # the adherence table
        assert "brightness.brightness" in text  # the summary table and the measurement definitions
    assert re.search(r"Brightness probe\W+0\.86", md)  # the first card's line (220 / 255)
    island = re.search(r'<script type="application/json" id="cards-data">(.*?)</script>', html, re.S).group(1)
    layout = json.loads(island)["layout"]
    assert ["Brightness probe", "mean luminance / 255 (0-1), higher is better"] in dict(layout)["Quality"]
