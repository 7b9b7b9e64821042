"""Per-image prices of the OpenAI, Replicate and BFL models, next to fal's per-megapixel ones."""

from __future__ import annotations

import pytest

from viewfinder.providers.pricing import estimate_job_cost, has_price, image_cost, price_per_image


@pytest.mark.parametrize(
    ("model", "width", "height", "usd"),
    [
        ("openai:gpt-image-1.5", 1024, 1024, 0.034),
        ("openai:gpt-image-1.5", 1536, 1024, 0.05),
        ("openai:gpt-image-1", 1024, 1536, 0.063),
        ("openai:gpt-image-1-mini", 96, 64, 0.015),  # any image of aspect 3:2 is priced as 1536x1024
        ("replicate:black-forest-labs/flux-schnell", 1184, 880, 0.003),
        ("bfl:flux-pro-1.1", 1024, 768, 0.04),
        ("bfl:flux-2-pro", 1024, 768, 0.03),  # under one megapixel: the first-megapixel price
        ("bfl:flux-2-pro", 2000, 1000, 0.045),  # 0.03 + 0.015 per further megapixel
        ("bfl:flux-2-klein-4b", 1000, 1000, 0.014),
    ],
)
def test_per_image_prices(model, width, height, usd):
    assert price_per_image(model, width, height) == pytest.approx(usd)
    assert image_cost(model, width, height) == pytest.approx(usd)


def test_estimates_use_the_size_the_provider_will_make():
    # landscape 4:3 (1024x768) becomes OpenAI's 1536x1024, priced as such
    assert estimate_job_cost("openai:gpt-image-1.5", {"image_size": "landscape_4_3"}) == 0.05
    assert estimate_job_cost("openai:gpt-image-1.5", {"image_size": "square_hd"}) == 0.034
    assert estimate_job_cost("bfl:flux-2-max", {"width": 2048, "height": 1024}) == pytest.approx(
        0.07 + 0.03 * 1.097152, abs=1e-6
    )


def test_a_study_price_overrides_the_per_image_table_as_usd_per_megapixel():
    overrides = {"openai:gpt-image-1.5": 0.01}
    assert image_cost("openai:gpt-image-1.5", 1536, 1024, overrides) == 0.02  # 2 billed megapixels
    assert has_price("replicate:owner/unknown", {"replicate:owner/unknown": 0.002})


def test_fal_prices_and_unknown_models_are_unchanged():
    assert price_per_image("fal:fal-ai/flux/schnell", 1024, 768) is None
    assert image_cost("fal:fal-ai/flux/schnell", 1024, 1024) == 0.006
    assert image_cost("replicate:owner/unknown", 1024, 1024) == 0.0
    assert (
        has_price("fal:fal-ai/flux/schnell")
        and has_price("bfl:flux-2-pro")
        and not has_price("replicate:owner/unknown")
    )
