"""Count prompt tokens the way the pipeline will, without torch (so the API can check early)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# Qwen3's chat template for one user turn with add_generation_prompt (what ZImagePipeline sends).
_CHATML = "<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"
RETRY_SECONDS = 30.0


class PromptMeter:
    """Token counts from the model's own tokenizer.json, once it is on this machine.

    A hub model may not be downloaded yet when the API starts (the worker fetches it): the
    meter looks again now and then, and until then the worker makes the same check.
    """

    def __init__(self, source: str) -> None:
        self._source = source
        self._tokenizer: Any = None
        self._next_try = 0.0

    @classmethod
    def for_source(cls, source: str) -> PromptMeter:
        return cls(source)

    @property
    def available(self) -> bool:
        return self._loaded() is not None

    def count(self, prompt: str) -> int | None:
        tokenizer = self._loaded()
        if tokenizer is None:
            return None
        encoding = tokenizer.encode(_CHATML.format(prompt=prompt), add_special_tokens=False)
        return len(encoding.ids)

    def _loaded(self) -> Any:
        if self._tokenizer is None and time.monotonic() >= self._next_try:
            self._next_try = time.monotonic() + RETRY_SECONDS
            found = _tokenizer_file(self._source)
            if found is not None:
                from tokenizers import Tokenizer

                self._tokenizer = Tokenizer.from_file(str(found))
        return self._tokenizer


def _tokenizer_file(source: str) -> Path | None:
    folder = Path(source).expanduser()
    if not folder.is_dir():
        folder = _cached_snapshot(source) or folder
    file = folder / "tokenizer" / "tokenizer.json"
    return file if file.is_file() else None


def _cached_snapshot(repo_id: str) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo_id, "tokenizer/tokenizer.json")
    except Exception:  # an id that is not a repo name, or no cache: count later in the worker
        return None
    if isinstance(found, str):
        return Path(found).parent.parent
    return None
