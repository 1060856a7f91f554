"""Request checks and defaults: turn a GenerationRequest into a ResolvedRequest (no torch)."""

from __future__ import annotations

import math
import secrets

from huajia.engine.models import ModelSpec
from huajia.engine.types import GenerationRequest, ResolvedRequest
from huajia.errors import InvalidRequest

# Seeds stay below 2**53 so browsers (JavaScript numbers) round-trip them exactly.
MAX_SEED = 2**53 - 1
RANDOM_SEED_BITS = 32


def resolve_request(spec: ModelSpec, request: GenerationRequest) -> ResolvedRequest:
    """Fill in the model's defaults, check every parameter, fix one seed per image."""
    defaults, limits = spec.defaults, spec.limits
    prompt = request.prompt.strip()
    if not prompt:
        raise InvalidRequest("prompt is empty: describe the image you want")
    if not 1 <= request.n <= limits.max_images:
        raise InvalidRequest(f"n must be between 1 and {limits.max_images} (got {request.n})")
    width = _check_side("width", request.width or defaults.width, spec)
    height = _check_side("height", request.height or defaults.height, spec)
    steps = request.steps if request.steps is not None else defaults.steps
    if not 1 <= steps <= limits.max_steps:
        raise InvalidRequest(f"steps must be between 1 and {limits.max_steps} (got {steps})")
    guidance = request.guidance if request.guidance is not None else defaults.guidance
    if not math.isfinite(guidance) or not (limits.min_guidance <= guidance <= limits.max_guidance):
        raise InvalidRequest(
            f"guidance must be between {limits.min_guidance} and {limits.max_guidance} "
            f"(got {guidance})"
        )
    negative = request.negative_prompt
    if negative is None:
        negative = defaults.negative_prompt
    return ResolvedRequest(
        prompt=prompt,
        negative_prompt=negative.strip(),
        n=request.n,
        steps=steps,
        guidance=float(guidance),
        width=width,
        height=height,
        seeds=seeds_for(request.seed, request.n),
        loras=request.loras,
    )


def seeds_for(seed: int | None, n: int) -> tuple[int, ...]:
    """seed, seed+1, ... when a seed is given; independent random seeds otherwise."""
    if seed is None:
        return tuple(secrets.randbits(RANDOM_SEED_BITS) for _ in range(n))
    if not 0 <= seed <= MAX_SEED - n:
        raise InvalidRequest(f"seed must be between 0 and {MAX_SEED - n} (got {seed})")
    return tuple(seed + index for index in range(n))


def _check_side(name: str, value: int, spec: ModelSpec) -> int:
    limits = spec.limits
    if not limits.min_size <= value <= limits.max_size:
        raise InvalidRequest(
            f"{name} must be between {limits.min_size} and {limits.max_size} px "
            f"for model {spec.name} (got {value})"
        )
    if value % limits.size_multiple:
        lower = value - value % limits.size_multiple
        raise InvalidRequest(
            f"{name} must be a multiple of {limits.size_multiple} (got {value}; "
            f"try {lower} or {lower + limits.size_multiple})"
        )
    return value
