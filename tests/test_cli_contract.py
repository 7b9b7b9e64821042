"""Small promises of the command line: where tables go, exit codes of bad input, one set of prompt
field rules, --version, plain --help, and a fal status stream that is not there."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from test_score_support import build_run
from typer.testing import CliRunner

from tests.servers.fal_server import FalFakeServer, Fault
from viewfinder import __version__
from viewfinder.cli import app
from viewfinder.errors import BadInput
from viewfinder.generate.runner import GenerateOptions, run_generation
from viewfinder.providers.retry import RetryPolicy
from viewfinder.runfolder import init_run
from viewfinder.study import expand_prompts, load_study, parse_study

ROOT = Path(__file__).resolve().parents[1]
SEED_STUDY = ROOT / "examples" / "seed.toml"
runner = CliRunner()


def test_score_prints_its_table_on_stdout(tmp_path: Path) -> None:
    build_run(tmp_path / "run").close()
    result = runner.invoke(app, ["score", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "adherence, 72 images" in result.stdout and "adherence, 72 images" not in result.stderr


def test_an_unknown_judge_is_bad_input_naming_the_known_ones(tmp_path: Path) -> None:
    build_run(tmp_path / "run").close()
    for command in (
        ["analyze", str(tmp_path / "run"), "--judge", "bogus:x"],
        ["run", str(SEED_STUDY), "--workdir", str(tmp_path / "new"), "--judge", "bogus:x"],
    ):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, result.output
        assert "unknown judge backend 'bogus'; use auto, openai:<model>, fal:<model> or hf:" in result.output
    assert not (tmp_path / "new").exists()


def test_prompt_rejects_a_camera_the_study_loader_rejects(tmp_path: Path) -> None:
    text = "facial-expressions Joy: Laughing ; A child; sideways; Kids; A park; cinematic"
    result = runner.invoke(app, ["prompt", text, "--json"])
    assert result.exit_code == 2 and "field camera: unknown camera position 'sideways'" in result.output
    study = tmp_path / "s.toml"
    study.write_text(SEED_STUDY.read_text().replace('cameras = ["', 'cameras = ["sideways", "', 1))
    with pytest.raises(BadInput, match="unknown camera position 'sideways'"):
        load_study(study)
    good = text.replace("sideways", "low-angle close-up")
    assert runner.invoke(app, ["prompt", good, "--json"]).exit_code == 0


SEMICOLON_STUDY = """\
name = "semi"
topic = "facial-expressions"
cameras = ["eye-level"]
styles = ["cinematic"]

[[emotions]]
name = "Joy"

[[emotions.cases]]
variant = "Laughing"
subject = "A child"
category = "Kids"
scene = "A park; with swings"
"""


def test_a_separator_in_a_field_is_rejected_with_file_line_field_and_fix() -> None:
    with pytest.raises(BadInput) as error:
        parse_study(SEMICOLON_STUDY, "semi.toml")
    assert str(error.value) == (
        "semi.toml:13: field emotions[0].cases[0].scene: scene 'A park; with swings' contains ';', which "
        "separates the parts of a prompt; write ',' instead"
    )
    with pytest.raises(BadInput, match=r"semi.toml:2: field topic: .* has spaces, .* join the words with '-'"):
        parse_study(
            SEMICOLON_STUDY.replace("A park; with swings", "A park").replace(
                "facial-expressions", "facial expressions"
            ),
            "semi.toml",
        )
    with pytest.raises(BadInput, match=r"semi.toml:7: field emotions\[0\].name: emotion 'Joy: big' contains ':'"):
        parse_study(
            SEMICOLON_STUDY.replace("A park; with swings", "A park").replace('"Joy"', '"Joy: big"'), "semi.toml"
        )
    with pytest.raises(BadInput, match=r"semi.toml:4: field styles: style 'oil; dark' contains ';'"):
        parse_study(
            SEMICOLON_STUDY.replace("A park; with swings", "A park").replace('"cinematic"', '"oil; dark"'), "semi.toml"
        )
    fine = parse_study(SEMICOLON_STUDY.replace("A park; with swings", "A park, with swings"), "semi.toml")
    prompt = expand_prompts(fine)[0]
    result = runner.invoke(app, ["prompt", prompt.text, "--json"])
    assert result.exit_code == 0 and '"scene": "A park, with swings"' in result.stdout


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"viewfinder {__version__}"


@pytest.mark.parametrize(
    "command", [[], ["run"], ["generate"], ["status"], ["score"], ["export"], ["prune"], ["prompt"]]
)
def test_help_shows_flags_without_a_bool_metavar(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output and "--help" in result.output
    if command == ["run"]:
        assert "--dry-run " in result.output and "--limit" in result.output


@pytest.mark.parametrize("status", [502, 403, 400])
def test_a_status_stream_answered_with_anything_but_200_falls_back_to_polling(
    fal_server: FalFakeServer, tmp_path: Path, status: int
) -> None:
    fal_server.add_fault(
        Fault("stream", "http", status=status, times=-1, body={"detail": "no streams behind this proxy"})
    )
    store, study = init_run(SEED_STUDY, tmp_path / "run")
    options = GenerateOptions(
        limit=3, concurrency=2, timeout_s=5, retry=RetryPolicy(attempts=2, initial_s=0.01, max_s=0.02)
    )
    with store:
        summary = run_generation(store, study, options, Console(file=io.StringIO()))
    assert (summary.completed, summary.failed) == (3, 0)
    assert len(fal_server.recorded("GET", "stream")) >= 1 and len(fal_server.recorded("GET", "status")) >= 3
