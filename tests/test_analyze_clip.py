"""CLIP prompt score and aesthetic score on tiny random models, against independent computations."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data
from tiny_models import build_tiny_aesthetic, build_tiny_clip, torchmetrics_clip
from typer.testing import CliRunner

from viewfinder.analyze.analyzers.clip import AestheticHead, ClipAnalyzer
from viewfinder.analyze.base import ImageItem
from viewfinder.analyze.models import ModelUnavailable, aesthetic_file, aesthetic_location, load_clip, required_models
from viewfinder.cli import app
from viewfinder.errors import BadInput
from viewfinder.runfolder import open_run
from viewfinder.study.schema import Analysis

FIELDS = {"camera": "low-angle close-up", "scene": "a crowded cafe", "style": "cinematic", "emotion": "Jealousy"}
PROMPTS = ["a photo of an astronaut", "a cup of coffee on a table", "a cat", "a man with a camera"]
PHOTOS = ("astronaut", "coffee", "chelsea", "camera")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("tiny")
    return build_tiny_clip(root / "clip"), build_tiny_aesthetic(root / "aesthetic.pth", 16)


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("photos")
    paths = []
    for name in PHOTOS:
        image = getattr(data, name)()
        path = root / f"{name}.png"
        Image.fromarray(image).convert("RGB").save(path)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def analyzer(tiny) -> ClipAnalyzer:
    clip_dir, head = tiny
    made = ClipAnalyzer(str(clip_dir), str(head), batch_size=4, device="cpu")
    yield made
    made.close()


def _items(paths: list[Path], prompts: list[str]) -> list[ImageItem]:
    return [
        ImageItem(image_id=i, path=p, sha256="x", model="m", seed=0, prompt_text=t, fields=dict(FIELDS))
        for i, (p, t) in enumerate(zip(paths, prompts, strict=False))
    ]


def _values(result, name: str) -> list[float]:
    by_id = {m.image_id: m.value for m in result.measurements if m.name == name}
    return [by_id[i] for i in sorted(by_id)]


def _reference(clip_dir: Path, paths: list[Path], texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised image and text features through CLIPProcessor and get_*_features."""
    from transformers import AutoTokenizer, CLIPImageProcessorPil, CLIPModel

    model = CLIPModel.from_pretrained(clip_dir).eval()
    processor = CLIPImageProcessorPil.from_pretrained(clip_dir)
    tokenizer = AutoTokenizer.from_pretrained(clip_dir)
    with torch.no_grad():
        pixels = processor(images=[Image.open(p).convert("RGB") for p in paths], return_tensors="pt")["pixel_values"]
        image = model.get_image_features(pixel_values=pixels)
        tokens = tokenizer(texts, padding=True, truncation=True, max_length=77, return_tensors="pt")
        text = model.get_text_features(**tokens)
    image = image if isinstance(image, torch.Tensor) else image.pooler_output
    text = text if isinstance(text, torch.Tensor) else text.pooler_output
    return torch.nn.functional.normalize(image, dim=-1), torch.nn.functional.normalize(text, dim=-1)


def test_clip_score_matches_hand_computation(analyzer, tiny, photos) -> None:
    result = analyzer.analyze(_items(photos, PROMPTS), None)  # type: ignore[arg-type]
    assert result.failures == {}
    image, text = _reference(tiny[0], photos, PROMPTS)
    expected = (image * text).sum(-1).tolist()
    assert _values(result, "clip_score") == pytest.approx(expected, abs=1e-5)
    assert _values(result, "clip_truncated") == [0.0] * 4


def test_clip_score_matches_torchmetrics_clipscore(analyzer, tiny, photos) -> None:
    from torchmetrics.multimodal.clip_score import CLIPScore
    from transformers import AutoTokenizer, CLIPImageProcessorPil, CLIPModel, CLIPProcessor

    clip_dir = tiny[0]

    def model_and_processor():
        processor = CLIPProcessor(
            image_processor=CLIPImageProcessorPil.from_pretrained(clip_dir),
            tokenizer=AutoTokenizer.from_pretrained(clip_dir),
        )
        return torchmetrics_clip(CLIPModel.from_pretrained(clip_dir).eval()), processor

    metric = CLIPScore(model_name_or_path=model_and_processor)
    result = analyzer.analyze(_items(photos, PROMPTS), None)  # type: ignore[arg-type]
    ours = _values(result, "clip_score")
    compared = 0
    for path, prompt, score in zip(photos, PROMPTS, ours, strict=False):
        metric.reset()
        pixels = torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1)
        metric.update(pixels, prompt)
        reference = float(metric.compute())
        assert reference == pytest.approx(max(0.0, 100 * score), abs=1e-3)
        compared += reference > 0
    assert compared >= 1  # at least one score was above torchmetrics' clamp at 0


def test_prefetched_batch_gives_the_same_scores(analyzer, photos) -> None:
    items = _items(photos, PROMPTS)
    plain = _values(analyzer.analyze(items, None), "clip_score")  # type: ignore[arg-type]
    analyzer.prefetch(items[2:])
    assert analyzer._prefetched == {}  # on the CPU decoding does not overlap the model
    analyzer.overlap = True  # as on a GPU
    try:
        analyzer.prefetch(items[2:])
        assert set(analyzer._prefetched) == {photos[2], photos[3]}
        again = _values(analyzer.analyze(items, None), "clip_score")  # type: ignore[arg-type]
    finally:
        analyzer.overlap = False
    assert again == pytest.approx(plain, abs=1e-6) and analyzer._prefetched == {}


def test_dimension_scores_are_cosines_to_each_field(analyzer, tiny, photos) -> None:
    result = analyzer.analyze(_items(photos[:2], PROMPTS[:2]), None)  # type: ignore[arg-type]
    texts = [FIELDS[d] for d in ("camera", "scene", "style", "emotion")]
    image, text = _reference(tiny[0], photos[:2], texts)
    for column, dimension in enumerate(("camera", "scene", "style", "emotion")):
        assert _values(result, f"clip_{dimension}") == pytest.approx((image @ text[column]).tolist(), abs=1e-5)


def test_long_prompt_is_truncated_visibly(analyzer, tiny, photos) -> None:
    long_prompt = " ".join(["a jealous woman at a crowded party with dancing couples"] * 12)
    result = analyzer.analyze(_items(photos[:2], [long_prompt, PROMPTS[1]]), None)  # type: ignore[arg-type]
    assert _values(result, "clip_truncated") == [1.0, 0.0]
    image, text = _reference(tiny[0], photos[:1], [long_prompt])  # the reference cuts at 77 tokens too
    assert _values(result, "clip_score")[0] == pytest.approx(float(image[0] @ text[0]), abs=1e-5)


def test_aesthetic_is_the_mlp_on_normalised_image_embeddings(analyzer, tiny, photos) -> None:
    result = analyzer.analyze(_items(photos, PROMPTS), None)  # type: ignore[arg-type]
    image, _ = _reference(tiny[0], photos, PROMPTS[:1])
    head = AestheticHead(16)
    head.load_state_dict(torch.load(tiny[1], weights_only=True))
    with torch.no_grad():
        expected = head.eval()(image).tolist()
    assert _values(result, "aesthetic") == pytest.approx(expected, abs=1e-5)
    assert len(set(round(v, 6) for v in expected)) > 1  # differs between images


def test_head_state_dict_has_the_published_layout() -> None:
    keys = set(AestheticHead(768).state_dict())
    expected = {f"layers.{i}.{p}" for i in (0, 2, 4, 6, 7) for p in ("weight", "bias")}
    assert keys == expected


def test_unreadable_image_fails_alone(analyzer, photos, tmp_path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    result = analyzer.analyze(_items([photos[0], broken], PROMPTS[:2]), None)  # type: ignore[arg-type]
    assert set(result.failures) == {1} and "broken.jpg" in result.failures[1]
    assert len(_values(result, "clip_score")) == 1


def test_large_jpeg_fast_decode_stays_close(analyzer, tmp_path) -> None:
    big = Image.fromarray(data.astronaut()).resize((1024, 1024), Image.Resampling.BICUBIC)
    path = tmp_path / "big.jpg"
    big.save(path, quality=95)
    fast = analyzer.analyze(_items([path], PROMPTS[:1]), None)  # type: ignore[arg-type]
    from dataclasses import replace

    exact_analyzer_crop = analyzer.crop
    analyzer.crop = replace(exact_analyzer_crop, fast_jpeg=False)
    try:
        exact = analyzer.analyze(_items([path], PROMPTS[:1]), None)  # type: ignore[arg-type]
    finally:
        analyzer.crop = exact_analyzer_crop
    assert _values(fast, "clip_score")[0] == pytest.approx(_values(exact, "clip_score")[0], abs=0.01)


def test_mismatched_aesthetic_head_is_bad_input(tiny, tmp_path) -> None:
    wrong = build_tiny_aesthetic(tmp_path / "wide.pth", 24)
    with pytest.raises(BadInput, match="24-d embeddings"):
        ClipAnalyzer(str(tiny[0]), str(wrong), device="cpu")


def test_version_changes_with_the_models(tiny) -> None:
    with_head = ClipAnalyzer(str(tiny[0]), str(tiny[1]), device="cpu")
    without = ClipAnalyzer(str(tiny[0]), "none", device="cpu")
    assert with_head.version != without.version
    assert "aesthetic" not in {s.name for s in without.specs}
    assert "aesthetic" in {s.name for s in with_head.specs}


def test_offline_error_names_model_and_cache(monkeypatch, tmp_path) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelUnavailable) as info:
        load_clip("openai/clip-vit-large-patch14", "cpu", torch.float32)
    message = str(info.value)
    assert "openai/clip-vit-large-patch14" in message and str(tmp_path / "empty-cache") in message
    assert "viewfinder models fetch" in message
    with pytest.raises(ModelUnavailable, match="sac\\+logos\\+ava1-l14-linearMSE"):
        aesthetic_file("laion/sac+logos+ava1-l14-linearMSE")


def test_missing_local_folder_is_bad_input(tmp_path) -> None:
    with pytest.raises(BadInput, match="no such file or folder"):
        load_clip(f"{tmp_path}/nothing-here", "cpu", torch.float32)


def test_aesthetic_references() -> None:
    assert aesthetic_location("laion/sac+logos+ava1-l14-linearMSE") == (
        "camenduru/improved-aesthetic-predictor",
        "sac+logos+ava1-l14-linearMSE.pth",
    )
    assert aesthetic_location("owner/repo/sub/model.pth") == ("owner/repo", "sub/model.pth")
    with pytest.raises(BadInput, match="aesthetic_model"):
        aesthetic_location("owner/repo")
    assert required_models(Analysis()) == ["openai/clip-vit-large-patch14", "laion/sac+logos+ava1-l14-linearMSE"]


def test_analyze_cli_with_tiny_models_then_skips(image_run, tiny) -> None:
    rgb = [data.astronaut(), data.coffee(), data.chelsea()]
    run_dir = image_run(rgb, analysis={"clip_model": str(tiny[0]), "aesthetic_model": str(tiny[1])}, fmt="jpg")
    runner = CliRunner()
    first = runner.invoke(app, ["analyze", str(run_dir), "--analyzers", "pixels,clip"])
    assert first.exit_code == 0, first.output
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny[0])
    store, _ = open_run(run_dir)
    with store:
        table = store.measurement_table()
        specs = store.specs()
        prompts = {row.id: row.prompt_text for row in store.images()}
    assert len(table) == 3
    for image_id, row in table.items():
        too_long = len(tokenizer(prompts[image_id], verbose=False)["input_ids"]) > 77  # byte-level: 1 char, 1 token
        assert -1 <= row["clip.clip_score"] <= 1 and row["clip.clip_truncated"] == float(too_long)
        assert {"clip.aesthetic", "clip.clip_camera", "clip.clip_emotion", "pixels.noise"} <= set(row)
    assert specs[("clip", "aesthetic")].better == "higher"
    second = runner.invoke(app, ["analyze", str(run_dir), "--analyzers", "clip"])
    assert second.exit_code == 0 and "0 measured, 3 already stored" in second.output


def test_unavailable_clip_fails_alone_and_pixels_run(image_run, tmp_path) -> None:
    run_dir = image_run([data.astronaut()])
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "empty-cache")}
    done = subprocess.run(
        [sys.executable, "-m", "viewfinder", "analyze", str(run_dir), "--analyzers", "clip,pixels"],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert done.returncode == 1
    assert "openai/clip-vit-large-patch14" in done.stderr and str(tmp_path / "empty-cache") in done.stderr
    assert "pixels 1: 1 measured" in done.stderr and "Traceback" not in done.stderr
    fetch = subprocess.run(
        [sys.executable, "-m", "viewfinder", "models", "fetch", "--model", "openai/clip-vit-base-patch32"],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert fetch.returncode == 1 and "openai/clip-vit-base-patch32" in fetch.stderr and "Traceback" not in fetch.stderr


def test_models_fetch_local_reference_prints_its_path(tiny) -> None:
    result = CliRunner().invoke(app, ["models", "fetch", "--model", str(tiny[1])])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{tiny[1]}\t{tiny[1]}"


def test_from_settings_keeps_an_explicit_batch_size(tiny) -> None:
    settings = Analysis(clip_model=str(tiny[0]), aesthetic_model="none", batch_size=3)
    made = ClipAnalyzer.from_settings(settings)
    try:
        assert made.batch_size == 3 and made.device == "cpu"
    finally:
        made.close()


def test_device_and_dtype_choice(monkeypatch) -> None:
    from viewfinder.providers.device import pick_device, pick_dtype

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device() == "cuda"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert pick_dtype("cuda") == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert pick_dtype("cuda:1") == torch.float16
    assert pick_dtype("mps") == torch.float16 and pick_dtype("cpu") == torch.float32
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert pick_device() == "cpu"
