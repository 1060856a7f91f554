"""`huajia model create-tiny`: a random-weight Z-Image pipeline of a few MB, built offline.

The folder has the standard diffusers layout (model_index.json, scheduler, text_encoder,
tokenizer, transformer, vae) and loads through the same `from_pretrained` path as real weights.
Its weights are random: it draws noise. It exists so tests and offline demos exercise the
real pipeline code without downloading 20 GB.
"""

from __future__ import annotations

import json
from pathlib import Path

from huajia.engine.models import TINY_MARKER

# ChatML, as Qwen3's template renders a single user turn with add_generation_prompt.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
HIDDEN = 32  # text-encoder width == transformer cap_feat_dim


def create_tiny_model(target: Path, seed: int = 0, name: str = "tiny") -> Path:
    """Write the tiny model into `target` (created; must be empty or absent). Another seed
    draws other weights; `name` is the model's name once served (two tiny models need two)."""
    import torch
    from diffusers import ZImagePipeline

    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"{target} is not empty; choose a new folder")
    torch.manual_seed(seed)
    tokenizer = _byte_level_tokenizer()
    pipe = ZImagePipeline(
        scheduler=_scheduler(),
        vae=_vae(),
        text_encoder=_text_encoder(len(tokenizer)),
        tokenizer=tokenizer,
        transformer=_transformer(),
    )
    target.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(target)  # type: ignore[attr-defined]
    marker = {"name": name, "random_weights": True, "note": "random weights: draws noise"}
    (target / TINY_MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    return target


def _byte_level_tokenizer():  # type: ignore[no-untyped-def]
    """A Qwen2 tokenizer whose vocabulary is the 256 byte symbols plus ChatML specials."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import Qwen2Tokenizer

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {symbol: index for index, symbol in enumerate(alphabet)}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    core.decoder = decoders.ByteLevel()
    core.add_special_tokens(SPECIAL_TOKENS)
    tokenizer = Qwen2Tokenizer(
        tokenizer_object=core,
        eos_token="<|im_end|>",  # noqa: S106 (a token, not a password)
        pad_token="<|endoftext|>",  # noqa: S106
        unk_token=None,  # type: ignore[arg-type]  # byte-level: every input has a token
        bos_token=None,
        model_max_length=32768,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def _text_encoder(vocab_size: int):  # type: ignore[no-untyped-def]
    from transformers import Qwen3Config, Qwen3Model

    config = Qwen3Config(
        vocab_size=vocab_size,
        hidden_size=HIDDEN,
        intermediate_size=64,
        num_hidden_layers=2,  # the pipeline reads hidden_states[-2]
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=1024,
    )
    return Qwen3Model(config)


def _transformer():  # type: ignore[no-untyped-def]
    from diffusers import ZImageTransformer2DModel

    # head dim 16 = sum(axes_dims); axes_lens as in the real model, so RoPE covers
    # captions of 512 tokens and 1024 px images (64 patches per side).
    return ZImageTransformer2DModel(
        all_patch_size=(2,),
        all_f_patch_size=(1,),
        in_channels=16,
        dim=32,
        n_layers=2,
        n_refiner_layers=1,
        n_heads=2,
        n_kv_heads=2,
        cap_feat_dim=HIDDEN,
        axes_dims=[8, 4, 4],
        axes_lens=[1024, 512, 512],
    )


def _vae():  # type: ignore[no-untyped-def]
    from diffusers import AutoencoderKL

    # Four blocks give the real model's 8x down-sampling, so sizes are multiples of 16.
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=16,
        block_out_channels=(16, 16, 16, 16),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=1,
        norm_num_groups=8,
        scaling_factor=0.3611,
        shift_factor=0.1159,
        use_quant_conv=False,
        use_post_quant_conv=False,
    )


def _scheduler():  # type: ignore[no-untyped-def]
    from diffusers import FlowMatchEulerDiscreteScheduler

    return FlowMatchEulerDiscreteScheduler(
        num_train_timesteps=1000, shift=3.0, use_dynamic_shifting=False
    )
