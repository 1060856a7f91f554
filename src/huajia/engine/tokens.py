"""Count prompt tokens the way the pipeline will, without torch (so the API can check early)."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

# Qwen3's chat template for one user turn with add_generation_prompt (what ZImagePipeline sends).
_CHATML = "<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"


class PromptMeter:
    """Token counts from the model's own tokenizer.json; None where the file is not local."""

    def __init__(self, tokenizer_file: Path | None) -> None:
        self._tokenizer = None
        if tokenizer_file is not None and tokenizer_file.is_file():
            from tokenizers import Tokenizer

            self._tokenizer = Tokenizer.from_file(str(tokenizer_file))

    @classmethod
    def for_source(cls, source: str) -> PromptMeter:
        """A meter for a diffusers folder, or for a hub id already in the local cache."""
        folder = Path(source).expanduser()
        if not folder.is_dir():
            folder = _cached_snapshot(source) or folder
        return cls(folder / "tokenizer" / "tokenizer.json")

    @property
    def available(self) -> bool:
        return self._tokenizer is not None

    def count(self, prompt: str) -> int | None:
        if self._tokenizer is None:
            return None
        encoding = self._tokenizer.encode(_CHATML.format(prompt=prompt), add_special_tokens=False)
        return len(encoding.ids)


def _cached_snapshot(repo_id: str) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo_id, "tokenizer/tokenizer.json")
    except Exception:  # an id that is not a repo name, or no cache: count later in the worker
        return None
    if isinstance(found, str):
        return Path(found).parent.parent
    return None
