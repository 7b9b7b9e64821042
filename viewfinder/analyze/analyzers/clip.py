"""CLIP prompt score and LAION aesthetic score from one CLIP image forward pass.

- ``clip_score``: cosine similarity of the CLIP image embedding and the embedding of the
  whole prompt (transformers ``CLIPModel``, default ``openai/clip-vit-large-patch14``). It
  equals torchmetrics' ``CLIPScore`` / 100 (without its clamping at 0). CLIP's text encoder
  reads 77 tokens; a longer prompt is cut to its first 77 and ``clip_truncated`` is 1.
- ``clip_camera``, ``clip_scene``, ``clip_style``, ``clip_emotion``: the same cosine to
  each prompt dimension's text alone (the camera, scene and style fields, the emotion name).
- ``aesthetic``: the LAION improved aesthetic predictor (sac+logos+ava1-l14-linearMSE), an
  MLP on the L2-normalised image embedding, about 1-10.

Images are decoded and cropped with Pillow on a thread pool, the next batch while this one
runs (the same resize, crop and normalisation as ``CLIPImageProcessor``; large JPEGs are
decoded at a reduced DCT scale that still leaves at least twice the target size), then sent
to the device as 8-bit and normalised there. Text embeddings are cached per text, so a prompt shared by several models
and seeds is encoded once. bf16 (or fp16) on a GPU, fp32 on the CPU.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from viewfinder.analyze.base import AnalysisContext, AnalysisResult, Analyzer, ImageItem
from viewfinder.analyze.models import aesthetic_file, load_clip
from viewfinder.errors import BadInput
from viewfinder.providers.device import pick_device, pick_dtype
from viewfinder.store import Better, CardRole, CardSection, FlagRole, Measurement, MeasurementSpec, ScoreRole

DIMENSIONS = ("camera", "scene", "style", "emotion")
GPU_BATCH_SIZE = 256
TEXT_CHUNK = 64  # texts encoded per forward pass, sorted by length


def clip_specs(clip_model: str, text_context: int, aesthetic_model: str | None) -> list[MeasurementSpec]:
    """The measurements of the clip analyzer for these models (``aesthetic`` only with a predictor)."""
    model = f"CLIP {clip_model}"
    specs = [
        MeasurementSpec(
            "clip_score",
            "cosine (-1 to 1)",
            Better.HIGHER,
            f"cosine of the {model} image and whole-prompt embeddings (torchmetrics CLIPScore / 100)",
            (
                ScoreRole("CLIP score", "clip_score", order=10),
                CardRole(CardSection.QUALITY, "Prompt CLIP Score", 30, summary=True, plot=True),
            ),
        ),
        MeasurementSpec(
            "clip_truncated",
            "flag (0/1)",
            Better.LOWER,
            f"1 when the prompt was longer than the {text_context}-token text context and cut",
            (FlagRole("have prompts longer than CLIP's text context, cut before the CLIP score was computed"),),
        ),
    ]
    for position, dimension in enumerate(DIMENSIONS):
        text = "emotion name" if dimension == "emotion" else f"{dimension} text"
        specs.append(
            MeasurementSpec(
                f"clip_{dimension}",
                "cosine (-1 to 1)",
                Better.HIGHER,
                f"cosine of the {model} image embedding and the prompt's {text} alone",
                (ScoreRole(f"CLIP score, {dimension} text only", "clip_score", compare=False, order=11 + position),),
            )
        )
    if aesthetic_model is not None:
        specs.append(
            MeasurementSpec(
                "aesthetic",
                "LAION score (1-10)",
                Better.HIGHER,
                f"LAION improved aesthetic predictor {aesthetic_model} on the L2-normalised {model} image embedding",
                (
                    ScoreRole("Aesthetic score (LAION, 1-10)", "aesthetic_laion", order=20),
                    CardRole(CardSection.CHARACTERISTIC, "LAION Aesthetic", 30, summary=True, plot=True),
                ),
            )
        )
    return specs


class AestheticHead(nn.Module):
    """The improved-aesthetic-predictor MLP (layer names match its published state dict)."""

    def __init__(self, embedding_dim: int = 768) -> None:
        super().__init__()
        self.embedding_dim = embedding_dim
        self.layers = nn.Sequential(
            nn.Linear(embedding_dim, 1024),
            nn.Dropout(0.2),
            nn.Linear(1024, 128),
            nn.Dropout(0.2),
            nn.Linear(128, 64),
            nn.Dropout(0.1),
            nn.Linear(64, 16),
            nn.Linear(16, 1),
        )

    def forward(self, normalised_embeddings: torch.Tensor) -> torch.Tensor:
        return self.layers(normalised_embeddings).squeeze(-1)

    @classmethod
    def load(cls, path: Path) -> AestheticHead:
        """Load a state dict saved with ``torch.save`` (.pth/.pt) or as safetensors."""
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            loaded: dict[str, Any] = load_file(str(path))
        else:
            loaded = torch.load(path, map_location="cpu", weights_only=True)
        state: dict[str, torch.Tensor] = loaded.get("state_dict", loaded)
        try:
            head = cls(state["layers.0.weight"].shape[1])
            head.load_state_dict(state)
        except (KeyError, RuntimeError) as exc:
            raise BadInput(
                f"{path}: not an improved-aesthetic-predictor state dict ({exc}); "
                "give the sac+logos+ava1-l14-linearMSE weights or a file of the same layout"
            ) from None
        return head.eval()


@dataclass(frozen=True)
class CropSpec:
    """CLIPImageProcessor's geometry and normalisation."""

    shortest_edge: int
    crop_height: int
    crop_width: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    resample: int = Image.Resampling.BICUBIC
    fast_jpeg: bool = True

    @classmethod
    def from_processor(cls, processor: Any) -> CropSpec:
        size, crop = dict(processor.size), dict(processor.crop_size)
        edge = size.get("shortest_edge") or min(size["height"], size["width"])
        return cls(
            shortest_edge=int(edge),
            crop_height=int(crop["height"]),
            crop_width=int(crop["width"]),
            mean=tuple(processor.image_mean),
            std=tuple(processor.image_std),
            resample=int(processor.resample),
        )


def crop_image(path: Path, spec: CropSpec) -> np.ndarray:
    """Decode ``path``, resize its shortest edge, centre-crop: an 8-bit RGB array (H, W, 3)."""
    with Image.open(path) as image:
        width, height = image.size
        short, long = min(width, height), max(width, height)
        new_short, new_long = spec.shortest_edge, int(spec.shortest_edge * long / short)
        new_w, new_h = (new_short, new_long) if width <= height else (new_long, new_short)
        if spec.fast_jpeg and image.format == "JPEG":
            image.draft("RGB", (2 * new_w, 2 * new_h))
        rgb = image.convert("RGB")
    resized = np.asarray(rgb.resize((new_w, new_h), resample=spec.resample))
    top, left = (new_h - spec.crop_height) // 2, (new_w - spec.crop_width) // 2
    if top < 0 or left < 0:
        raise ValueError(f"crop {spec.crop_height}x{spec.crop_width} is larger than the resized image {new_h}x{new_w}")
    return resized[top : top + spec.crop_height, left : left + spec.crop_width]


def _crop_or_error(path: Path, spec: CropSpec) -> np.ndarray | str:
    try:
        return crop_image(path, spec)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        return f"{path}: not a readable image ({exc})"


def _features(output: Any) -> torch.Tensor:
    """get_*_features returns a tensor (transformers 4) or an output with pooler_output (5)."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


class ClipAnalyzer(Analyzer):
    """CLIP prompt and dimension similarities plus the aesthetic score, batched."""

    name = "clip"

    def __init__(
        self,
        clip_model: str,
        aesthetic_model: str | None,
        *,
        batch_size: int = 16,
        device: str | None = None,
        dtype: torch.dtype | None = None,
        workers: int | None = None,
        text_cache_size: int = 8192,
    ) -> None:
        self.clip_model = clip_model
        self.aesthetic_model = aesthetic_model if aesthetic_model and aesthetic_model.lower() != "none" else None
        self.batch_size = batch_size
        self.device = device or pick_device()
        self.dtype = dtype or pick_dtype(self.device)
        digest = hashlib.sha256(f"{clip_model}\n{self.aesthetic_model}".encode()).hexdigest()[:8]
        self.version = f"1-{digest}"
        self.model, self.tokenizer, processor = load_clip(clip_model, self.device, self.dtype)
        self.crop = CropSpec.from_processor(processor)
        self.text_context = int(self.model.config.text_config.max_position_embeddings)
        self.head = self._load_head(self.aesthetic_model) if self.aesthetic_model else None
        self._mean = torch.tensor(self.crop.mean, device=self.device).view(1, 3, 1, 1) * 255.0
        self._std = torch.tensor(self.crop.std, device=self.device).view(1, 3, 1, 1) * 255.0
        self._texts: OrderedDict[str, tuple[torch.Tensor, bool]] = OrderedDict()
        self._text_cache_size = text_cache_size
        self._pool = ThreadPoolExecutor(max_workers=workers or min(32, os.cpu_count() or 1))
        self._prefetched: dict[Path, Future[np.ndarray | str]] = {}
        self.overlap = self.device != "cpu"

    @classmethod
    def from_settings(cls, analysis: Any) -> ClipAnalyzer:
        """Build from the study's [analysis]; an unset batch_size becomes 256 on a GPU."""
        device = pick_device()
        batch_size = analysis.batch_size
        if "batch_size" not in analysis.model_fields_set and device != "cpu":
            batch_size = GPU_BATCH_SIZE
        return cls(analysis.clip_model, analysis.aesthetic_model, batch_size=batch_size, device=device)

    def _load_head(self, ref: str) -> AestheticHead:
        head = AestheticHead.load(aesthetic_file(ref))
        projection = int(self.model.config.projection_dim)
        if head.embedding_dim != projection:
            raise BadInput(
                f"[analysis] aesthetic_model {self.aesthetic_model!r} takes {head.embedding_dim}-d embeddings but "
                f"clip_model {self.clip_model!r} makes {projection}-d ones; use the CLIP model the predictor was "
                "trained on (ViT-L/14 for sac+logos+ava1-l14-linearMSE)"
            )
        return head.to(self.device)

    @property
    def specs(self) -> list[MeasurementSpec]:
        return clip_specs(self.clip_model, self.text_context, self.aesthetic_model if self.head is not None else None)

    # -- embeddings -------------------------------------------------------------------------
    @torch.inference_mode()
    def embed_crops(self, crops: np.ndarray) -> torch.Tensor:
        """L2-normalised image embeddings (float32, on the device) of 8-bit crops (N, H, W, 3)."""
        pixels = torch.from_numpy(crops)
        if self.device.startswith("cuda"):
            pixels = pixels.pin_memory()
        pixels = pixels.to(self.device, non_blocking=True).permute(0, 3, 1, 2).float()
        pixels = ((pixels - self._mean) / self._std).to(self.dtype)
        features = _features(self.model.get_image_features(pixel_values=pixels)).float()
        return nn.functional.normalize(features, dim=-1)

    @torch.inference_mode()
    def embed_texts(self, texts: list[str]) -> dict[str, tuple[torch.Tensor, bool]]:
        """``text -> (L2-normalised embedding, truncated)``, encoding only texts not cached."""
        new = [text for text in dict.fromkeys(texts) if text not in self._texts]
        if new:
            full = self.tokenizer(new, truncation=False, verbose=False)["input_ids"]
            lengths = {text: len(ids) for text, ids in zip(new, full, strict=True)}
            by_length = sorted(new, key=lengths.__getitem__)  # similar lengths together: little padding
            for start in range(0, len(by_length), TEXT_CHUNK):
                chunk = by_length[start : start + TEXT_CHUNK]
                tokens = self.tokenizer(
                    chunk, padding=True, truncation=True, max_length=self.text_context, return_tensors="pt"
                ).to(self.device)
                features = _features(
                    self.model.get_text_features(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"])
                ).float()
                for text, vector in zip(chunk, nn.functional.normalize(features, dim=-1), strict=True):
                    self._texts[text] = (vector, lengths[text] > self.text_context)
        out = {}
        for text in texts:
            self._texts.move_to_end(text)
            out[text] = self._texts[text]
        while len(self._texts) > self._text_cache_size:
            self._texts.popitem(last=False)
        return out

    @torch.inference_mode()
    def aesthetic_scores(self, embeddings: torch.Tensor) -> torch.Tensor:
        assert self.head is not None
        return self.head(embeddings)

    # -- analysis ---------------------------------------------------------------------------
    def analyze(self, batch: list[ImageItem], context: AnalysisContext) -> AnalysisResult:
        result = AnalysisResult()
        futures: dict[Path, Future[np.ndarray | str]] = {}  # one decode per file (files are content-addressed)
        for item in batch:
            if item.path not in futures:
                prefetched = self._prefetched.pop(item.path) if item.path in self._prefetched else None
                futures[item.path] = prefetched or self._submit(item.path)
        crops = [futures[item.path].result() for item in batch]
        good = [(item, crop) for item, crop in zip(batch, crops, strict=True) if not isinstance(crop, str)]
        failed = {item.image_id: crop for item, crop in zip(batch, crops, strict=True) if isinstance(crop, str)}
        result.failures.update(failed)
        if not good:
            return result
        images = self.embed_crops(np.stack([crop for _, crop in good]))
        role_texts = {role: [self._role_text(item, role) for item, _ in good] for role in ("prompt", *DIMENSIONS)}
        table = self.embed_texts([text for texts in role_texts.values() for text in texts if text])
        zero = torch.zeros_like(images[0])
        rows = [
            (images * torch.stack([table[text][0] if text else zero for text in texts])).sum(-1)
            for texts in role_texts.values()
        ]
        if self.head is not None:
            rows.append(self.aesthetic_scores(images))
        values = torch.stack(rows).cpu().tolist()  # one device-to-host copy per batch
        scores = dict(zip(role_texts, values, strict=False))
        aesthetic = values[-1] if self.head is not None else None
        for index, (item, _) in enumerate(good):
            add = result.measurements.append
            if item.prompt_text:
                add(Measurement(item.image_id, "clip_score", value=scores["prompt"][index]))
                add(Measurement(item.image_id, "clip_truncated", value=float(table[item.prompt_text][1])))
            for dimension in DIMENSIONS:
                if role_texts[dimension][index]:
                    add(Measurement(item.image_id, f"clip_{dimension}", value=scores[dimension][index]))
            if aesthetic is not None:
                add(Measurement(item.image_id, "aesthetic", value=aesthetic[index]))
        return result

    def prefetch(self, batch: list[ImageItem]) -> None:
        """Decode ``batch`` while the device works; on the CPU the model already uses every core."""
        if not self.overlap:
            return
        for item in batch:
            if item.path not in self._prefetched:
                self._prefetched[item.path] = self._submit(item.path)

    def _submit(self, path: Path) -> Future[np.ndarray | str]:
        return self._pool.submit(_crop_or_error, path, self.crop)

    @staticmethod
    def _role_text(item: ImageItem, role: str) -> str:
        if role == "prompt":
            return item.prompt_text
        return (item.fields.get(role) or "").strip()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._prefetched.clear()
        self._texts.clear()
