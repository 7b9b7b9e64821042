"""Pixel statistics: known answers on synthetic images and real photographs."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data
from skimage.restoration import estimate_sigma

from viewfinder.analyze.analyzers.pixels import PixelAnalyzer, pixel_stats, read_bgr
from viewfinder.analyze.base import AnalysisContext, ImageItem

PHOTOS = ("astronaut", "coffee", "chelsea", "camera")


def _bgr(rgb_or_grey: np.ndarray) -> np.ndarray:
    if rgb_or_grey.ndim == 2:
        return cv2.cvtColor(rgb_or_grey, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(rgb_or_grey, cv2.COLOR_RGB2BGR)


def _add_grey_noise(rgb: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0.0, sigma, rgb.shape[:2])
    if rgb.ndim == 3:
        noise = noise[..., None]
    return np.clip(rgb + noise, 0, 255).round().astype(np.uint8)


def test_constant_image() -> None:
    stats = pixel_stats(np.full((40, 60, 3), 128, np.uint8))
    assert stats == {"entropy": 0.0, "noise": 0.0, "sharpness": 0.0, "clipped": 0.0, "colourfulness": 0.0}


def test_ramp_of_256_levels_has_8_bits() -> None:
    ramp = np.tile(np.arange(256, dtype=np.uint8), (10, 1))
    stats = pixel_stats(ramp)
    assert stats["entropy"] == pytest.approx(8.0, abs=1e-12)
    assert stats["clipped"] == pytest.approx(2 / 256)


def test_two_equal_levels_have_one_bit() -> None:
    image = np.zeros((10, 10), np.uint8)
    image[:, 5:] = 200
    assert pixel_stats(image)["entropy"] == pytest.approx(1.0)
    assert pixel_stats(image)["clipped"] == pytest.approx(0.5)


@pytest.mark.parametrize("sigma", [1.0, 2.0, 5.0, 10.0, 20.0])
def test_gaussian_noise_on_flat_grey_within_10_percent(sigma: float) -> None:
    noisy = _add_grey_noise(np.full((512, 512), 128, np.uint8).astype(float), sigma, seed=int(sigma))
    assert pixel_stats(noisy)["noise"] == pytest.approx(sigma, rel=0.10)


@pytest.mark.parametrize("name", PHOTOS)
def test_noise_added_to_real_photographs_within_10_percent(name: str) -> None:
    photo = getattr(data, name)()
    clean = pixel_stats(_bgr(photo))["noise"]
    noisy = _add_grey_noise(photo.astype(float), 15.0)
    estimate = pixel_stats(_bgr(noisy))["noise"]
    assert clean < 2.5  # clean photographs: little noise
    assert estimate == pytest.approx(15.0, rel=0.10)
    grey = cv2.cvtColor(_bgr(noisy), cv2.COLOR_BGR2GRAY).astype(float)
    assert estimate == pytest.approx(estimate_sigma(grey), rel=0.10)  # scikit-image's wavelet estimator agrees


@pytest.mark.parametrize("name", PHOTOS)
def test_entropy_matches_scikit_image_on_photographs(name: str) -> None:
    from skimage.measure import shannon_entropy

    photo = getattr(data, name)()
    grey = cv2.cvtColor(_bgr(photo), cv2.COLOR_BGR2GRAY)
    assert pixel_stats(_bgr(photo))["entropy"] == pytest.approx(shannon_entropy(grey, base=2), abs=1e-9)


def test_blur_lowers_sharpness_and_grey_has_no_colour() -> None:
    photo = _bgr(data.astronaut())
    blurred = cv2.GaussianBlur(photo, (0, 0), 3)
    assert pixel_stats(blurred)["sharpness"] < pixel_stats(photo)["sharpness"] / 5
    grey = pixel_stats(_bgr(data.camera()))
    assert grey["colourfulness"] == 0.0 and pixel_stats(photo)["colourfulness"] > 30


def test_sharpness_is_laplacian_variance() -> None:
    image = np.random.default_rng(3).integers(0, 256, (64, 64), dtype=np.uint8)
    lap = cv2.Laplacian(image.astype(np.float64), cv2.CV_64F)
    assert pixel_stats(image)["sharpness"] == pytest.approx(lap.var(), rel=1e-6)


def test_colourfulness_matches_the_formula() -> None:
    rgb = np.random.default_rng(4).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    r, g, b = (rgb[..., i].astype(float) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    expected = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
    assert pixel_stats(_bgr(rgb))["colourfulness"] == pytest.approx(expected, rel=1e-6)


def test_analyzer_measures_files_and_reports_unreadable_ones(tmp_path) -> None:
    good = tmp_path / "good.jpg"
    cv2.imwrite(str(good), _bgr(data.astronaut()))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG broken")
    items = [
        ImageItem(image_id=i, path=p, sha256="x", model="m", seed=0, prompt_text="t", fields={})
        for i, p in ((1, good), (2, bad))
    ]
    analyzer = PixelAnalyzer(workers=2)
    try:
        result = analyzer.analyze(items, AnalysisContext(study=None, store=None))  # type: ignore[arg-type]
    finally:
        analyzer.close()
    assert set(result.failures) == {2} and "bad.png" in result.failures[2]
    names = {m.name: m.value for m in result.measurements if m.image_id == 1}
    assert set(names) == {spec.name for spec in analyzer.specs}
    assert names == pytest.approx(pixel_stats(read_bgr(good)))
