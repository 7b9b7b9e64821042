"""Tiny randomly initialised models saved to disk, so tests load them through the same
``from_pretrained`` code paths as the real hub weights (no download, well under a second).

Each engineer adds builders for their own models here.
"""

from __future__ import annotations

from pathlib import Path

# -- CLIP (analysis engineer) -------------------------------------------------------------------


def tiny_clip_tokenizer():
    """A byte-level CLIP BPE tokenizer with a 518-token vocabulary (bytes, bytes</w>, merges)."""
    from transformers import CLIPTokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    chars = list(bytes_to_unicode().values())
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": i + len(chars) for i, c in enumerate(chars)})
    merges = [("t", "h"), ("th", "e</w>"), ("a", "n"), ("an", "d</w>"), ("i", "n</w>")]
    for left, right in merges:
        vocab.setdefault(left + right, len(vocab))
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=merges)


# The shapes of openai/clip-vit-large-patch14 and clip-vit-base-patch32 (benchmarks with random weights).
_CLIP_SHAPE = (
    "image_size",
    "patch_size",
    "hidden",
    "layers",
    "heads",
    "projection",
    "text_hidden",
    "text_layers",
    "text_heads",
)
VIT_L_14 = dict(zip(_CLIP_SHAPE, (224, 14, 1024, 24, 16, 768, 768, 12, 12), strict=True))
VIT_B_32 = dict(zip(_CLIP_SHAPE, (224, 32, 768, 12, 12, 512, 512, 12, 8), strict=True))


def build_tiny_clip(
    folder: Path,
    *,
    image_size: int = 32,
    patch_size: int = 8,
    hidden: int = 32,
    layers: int = 2,
    heads: int = 4,
    projection: int = 16,
    text_context: int = 77,
    text_hidden: int | None = None,
    text_layers: int | None = None,
    text_heads: int | None = None,
    seed: int = 0,
) -> Path:
    """Save a random CLIPModel + tokenizer + image processor to ``folder``; return it.

    With the defaults it is tiny (about 60k parameters); the text tower copies the vision
    sizes unless ``text_*`` are given. See ``VIT_L_14`` for the openai/clip-vit-large-patch14 shape.
    """
    import torch
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel

    torch.manual_seed(seed)
    tokenizer = tiny_clip_tokenizer()
    config = CLIPConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": text_hidden or hidden,
            "intermediate_size": (text_hidden or hidden) * 4,
            "num_hidden_layers": text_layers or layers,
            "num_attention_heads": text_heads or heads,
            "max_position_embeddings": text_context,
            "bos_token_id": tokenizer.convert_tokens_to_ids("<|startoftext|>"),
            "eos_token_id": tokenizer.convert_tokens_to_ids("<|endoftext|>"),
            "pad_token_id": tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        },
        vision_config={
            "hidden_size": hidden,
            "intermediate_size": hidden * 4,
            "num_hidden_layers": layers,
            "num_attention_heads": heads,
            "image_size": image_size,
            "patch_size": patch_size,
        },
        projection_dim=projection,
    )
    model = CLIPModel(config).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.model_max_length = text_context
    tokenizer.save_pretrained(folder)
    CLIPImageProcessorPil(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    ).save_pretrained(folder)
    return folder


def build_tiny_aesthetic(path: Path, embedding_dim: int = 16, *, seed: int = 1) -> Path:
    """Save a random LAION-style aesthetic MLP (same layer layout, input ``embedding_dim``) as .pth."""
    import torch

    from viewfinder.analyze.analyzers.clip import AestheticHead

    torch.manual_seed(seed)
    head = AestheticHead(embedding_dim)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(head.state_dict(), path)
    return path


# -- VLM judge (judge engineer) -----------------------------------------------------------------


def build_tiny_blip_vlm(folder: Path, *, seed: int = 0, context: int = 4096) -> Path:
    """Save a random BlipForConditionalGeneration + BlipProcessor (WordLevel tokenizer) to ``folder``.

    It loads through ``AutoProcessor``/``AutoModelForImageTextToText`` like a hub VLM and writes
    garbage text quickly; ``context`` positions leave room for the judge's whole prompt.
    """
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessorPil,
        BlipProcessor,
        PreTrainedTokenizerFast,
    )

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words = (
        specials + list('{}[]":,.') + ["title", "yes", "no", "face", "image", "eye-level", "close-up", "true", "0", "1"]
    )
    tokenizer = Tokenizer(models.WordLevel(vocab={w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        bos_token="[CLS]",
        eos_token="[SEP]",
    )
    torch.manual_seed(seed)
    config = BlipConfig(
        text_config={
            "vocab_size": len(words),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "max_position_embeddings": context,
            "bos_token_id": 2,
            "eos_token_id": 3,
            "pad_token_id": 0,
            "sep_token_id": 3,
            "encoder_hidden_size": 32,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=16,
    )
    folder.mkdir(parents=True, exist_ok=True)
    BlipForConditionalGeneration(config).eval().save_pretrained(folder)
    BlipProcessor(
        image_processor=BlipImageProcessorPil(size={"height": 32, "width": 32}), tokenizer=fast
    ).save_pretrained(folder)
    return folder


def torchmetrics_clip(model):
    """Wrap a transformers 5 CLIPModel so torchmetrics' CLIPScore (written for transformers 4,
    whose get_*_features return tensors) can use it; the computation is unchanged."""
    import torch

    def tensor(output):
        return output if isinstance(output, torch.Tensor) else output.pooler_output

    class TensorFeatures(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model
            self.config = model.config

        def get_image_features(self, pixel_values):
            return tensor(self.model.get_image_features(pixel_values=pixel_values))

        def get_text_features(self, input_ids, attention_mask=None):
            return tensor(self.model.get_text_features(input_ids=input_ids, attention_mask=attention_mask))

    return TensorFeatures()


# -- expression classifier (faces engineer) ------------------------------------------------------


def build_tiny_expression_classifier(
    folder: Path,
    labels: list[str],
    *,
    favour: str | None = None,
    image_size: int = 32,
    patch_size: int = 8,
    hidden: int = 32,
    layers: int = 2,
    heads: int = 4,
    seed: int = 0,
) -> Path:
    """A tiny random ViT image classifier with ``labels``, saved with its image processor.

    With ``favour`` the classification head is zeroed and that label's bias set high, so
    every image gets that label with probability > 0.99: tests can tell its output apart.
    ``image_size=224, patch_size=16, hidden=768, layers=12, heads=12`` gives a ViT-B/16 shape.
    """
    import torch
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessorPil

    torch.manual_seed(seed)
    config = ViTConfig(
        image_size=image_size,
        patch_size=patch_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=hidden * 4 + 5,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    model = ViTForImageClassification(config).eval()
    if favour is not None:
        with torch.no_grad():
            model.classifier.weight.zero_()
            model.classifier.bias.zero_()
            model.classifier.bias[labels.index(favour)] = 10.0
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    ViTImageProcessorPil(size={"height": image_size, "width": image_size}).save_pretrained(folder)
    return folder


# -- Stable Diffusion pipeline (generation engineer) ------------------------------------------


def build_tiny_sd_pipeline(folder: Path, *, seed: int = 0) -> Path:
    """A random-weight StableDiffusionPipeline (7 MB) saved to ``folder``; 64x64 in 1 step."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=8,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=4,
        norm_num_groups=8,
    )
    vae = AutoencoderKL(
        block_out_channels=(32, 32, 32, 64),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        norm_num_groups=8,
    )
    tokenizer = tiny_clip_tokenizer()
    tokenizer.model_max_length = 77
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=77,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    pipeline = StableDiffusionPipeline(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipeline.save_pretrained(folder)
    return folder
