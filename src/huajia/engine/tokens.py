"""Count prompt tokens the way the pipeline will, without torch (so the API can check early)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huajia.errors import PromptTooLong

if TYPE_CHECKING:
    from huajia.engine.models import ModelSpec
    from huajia.engine.types import ResolvedRequest

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

    @classmethod
    def of(cls, tokenizer: Any) -> PromptMeter:
        """A meter on a private copy of a loaded `tokenizers.Tokenizer`: the pipeline turns
        truncation on in its own (at the model's limit), which would hide every excess."""
        from tokenizers import Tokenizer

        copy = Tokenizer.from_str(tokenizer.to_str())
        copy.no_truncation()
        copy.no_padding()
        meter = cls("")
        meter._tokenizer = copy
        return meter

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
                self._tokenizer.no_truncation()
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


def check_prompts(meter: PromptMeter, spec: ModelSpec, request: ResolvedRequest) -> None:
    """PromptTooLong when the prompt (or a negative prompt the model will read) is too long.

    The one check the API makes at submit and the worker makes again before running (the
    API may not have the tokenizer yet when a hub model is still downloading).
    """
    _check(meter, spec, request.prompt, "prompt")
    if request.guidance > 0 and request.negative_prompt:
        _check(meter, spec, request.negative_prompt, "negative_prompt")


def _check(meter: PromptMeter, spec: ModelSpec, text: str, field: str) -> None:
    limit = spec.limits.max_prompt_tokens
    count = meter.count(text)
    if count is not None and count > limit:
        raise PromptTooLong(
            f"{field} is {count} tokens; model {spec.name} reads at most {limit}: "
            "shorten it rather than have the end ignored"
        )
