"""`viewfinder run --until generate` with the OpenAI, Replicate and BFL backends, as a user runs it."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tests.servers.bfl_server import BFL_TEST_KEY
from tests.servers.fake_api import Fault
from tests.servers.openai_images_server import OPENAI_TEST_KEY
from tests.servers.replicate_server import REPLICATE_TEST_TOKEN
from viewfinder.cli import app
from viewfinder.store import RunStore

SEED_STUDY = Path(__file__).resolve().parent.parent / "examples" / "seed.toml"
MODELS = ["openai:gpt-image-1.5", "replicate:black-forest-labs/flux-schnell", "bfl:flux-2-pro"]


def run(run_dir: Path, *extra: str):
    arguments = ["run", str(SEED_STUDY), "--workdir", str(run_dir), "--until", "generate", "--concurrency", "32"]
    for model in MODELS:
        arguments += ["--model", model]
    return CliRunner().invoke(app, [*arguments, *extra], env={"COLUMNS": "200"})


def test_three_providers_in_one_run(openai_images_server, replicate_server, bfl_server, tmp_path):
    result = run(tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert "30 completed, 0 failed" in result.output and "$0.8300" in result.output  # 10 x (0.05 + 0.003 + 0.03)
    for key in (OPENAI_TEST_KEY, REPLICATE_TEST_TOKEN, BFL_TEST_KEY):
        assert key not in result.output
    with RunStore(tmp_path / "run", create=False) as store:
        by_model: dict[str, tuple[int, float]] = {}
        for image in store.images():
            n, usd = by_model.get(image.model, (0, 0.0))
            by_model[image.model] = (n + 1, usd + image.cost_usd)
        by_model = {model: (n, round(usd, 6)) for model, (n, usd) in by_model.items()}
    assert by_model == {MODELS[0]: (10, 0.5), MODELS[1]: (10, 0.03), MODELS[2]: (10, 0.3)}
    again = run(tmp_path / "run")
    assert again.exit_code == 0 and "already completed" in again.output


def test_a_failed_job_exits_1_and_the_rest_are_kept(openai_images_server, replicate_server, bfl_server, tmp_path):
    bfl_server.add_fault(Fault("submit", "moderate", match="superhero"))
    result = run(tmp_path / "run")
    assert result.exit_code == 1, result.output
    assert "29 completed, 1 failed" in result.output and "BFL moderation blocked the prompt" in result.output


def test_a_missing_key_exits_2_with_the_fix(openai_images_server, replicate_server, bfl_server, tmp_path, monkeypatch):
    monkeypatch.delenv("REPLICATE_API_TOKEN")
    result = run(tmp_path / "run")
    assert result.exit_code == 2
    assert "REPLICATE_API_TOKEN is not set; export REPLICATE_API_TOKEN=" in result.output
    assert "Traceback" not in result.output
    assert openai_images_server.recorded() == [] and bfl_server.recorded() == []
