"""The review sample: images stratified by model and by the study's factors (camera position,
emotion), in an order whose every prefix is close to proportional to the strata.

Each stratum is shuffled (fixed seed); its i-th image gets the key (i + u) / size with u
uniform in [0, 1), and images are taken by key. So the first N images hold each stratum in
proportion to its size (a random sample within each), which keeps the corrected rates
unbiased, and asking for more later only extends the sample. The sample is stored in the run,
so every labeller sees the same images (their agreement is measurable) and a rerun continues.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from viewfinder.store import ImageRecord, RunStore

STRATA: tuple[str, ...] = ("model", "camera", "emotion")
SAMPLE_NAME = "review"


def stratified_order(images: Sequence[ImageRecord], *, seed: int = 0) -> list[int]:
    """Ids of ``images`` (``RunStore.images`` rows) in proportional stratified order."""
    strata: dict[tuple[str, ...], list[int]] = {}
    for row in images:
        strata.setdefault(tuple(str(getattr(row, name)) for name in STRATA), []).append(row.id)
    rng = np.random.default_rng(seed)
    keyed: list[tuple[float, float, int]] = []
    for key in sorted(strata):
        ids = list(strata[key])
        rng.shuffle(ids)
        offsets = rng.random(len(ids))
        keyed += [((i + offsets[i]) / len(ids), float(rng.random()), image_id) for i, image_id in enumerate(ids)]
    return [image_id for _, _, image_id in sorted(keyed)]


def review_sample(store: RunStore, size: int, *, seed: int = 0) -> list[int]:
    """The run's stored review sample, extended in stratified order to ``size`` images when it
    is shorter (never reordered or shrunk: labels already given stay in it)."""
    kept = store.review_sample(SAMPLE_NAME)
    if len(kept) >= size:
        return kept[:size]
    chosen = set(kept)
    extra = [image_id for image_id in stratified_order(store.images(), seed=seed) if image_id not in chosen]
    sample = kept + extra[: size - len(kept)]
    store.save_review_sample(SAMPLE_NAME, sample)
    return sample
