"""The Z-Image engine: one loaded diffusers pipeline, batches of requests in, images out.

Reads like a diffusers pipeline: checks first, then named steps under `torch.inference_mode()`.
Per-call state (progress, cancel, seeds) lives in the call, never on the shared pipeline.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huajia.engine import memory
from huajia.engine.accel import Accelerations, accelerate
from huajia.engine.checks import resolve_request
from huajia.engine.lora import LoraLibrary
from huajia.engine.models import ModelSpec
from huajia.engine.tokens import PromptMeter, check_prompts
from huajia.engine.types import (
    BatchItem,
    CancelToken,
    GeneratedImage,
    GenerationRequest,
    GenerationResult,
    PreviewFrame,
    ProgressCallback,
    ResolvedRequest,
)
from huajia.engine.weights import WeightsReport, apply_weights
from huajia.errors import GenerationCanceled, ModelLoadError, OutOfMemory

if TYPE_CHECKING:
    from huajia.engine.edit import Editor
    from huajia.engine.edit_types import EditItem
    from huajia.engine.preview import LatentProjection

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineOptions:
    """How to place and drive the pipeline; built from Settings by the composition root."""

    device: str = "auto"
    offload: str = "auto"
    cuda_alloc_conf: str = "expandable_segments:True"
    vae_tiling_min_pixels: int = 1536 * 1536
    weights: Path | None = None
    weights_min_match: float = 0.9
    loras: dict[str, Path] = field(default_factory=dict)
    lora_allow_partial: bool = False
    local_files_only: bool = False
    accel: Accelerations = field(default_factory=Accelerations)


@dataclass(frozen=True)
class ImageJob:
    """One image of a batch: the item it belongs to, its place there, prompt and seed."""

    item: int
    index: int
    prompt: str
    negative: str
    seed: int


PipelineCall = Callable[[list[ImageJob], Sequence[BatchItem], int, int], list[Any]]
"""Runs one chunk of images: (chunk, items, chunk offset, images in all) -> images."""


class ZImageEngine:
    """Holds one ZImagePipeline and generates with it."""

    def __init__(self, spec: ModelSpec, pipe: Any, device: str, offload: str, opts: EngineOptions):
        self.spec = spec
        self.pipe = pipe
        self.device = device
        self.offload = offload
        self.options = opts
        self.weights: WeightsReport | None = None
        self.loras = LoraLibrary(pipe, allow_partial=opts.lora_allow_partial)
        self._meter: PromptMeter | None = None
        self._previews_failed = False

    @classmethod
    def load(cls, spec: ModelSpec, opts: EngineOptions) -> ZImageEngine:
        """Load the pipeline once: allocator first, then weights, then placement."""
        memory.configure_allocator(opts.cuda_alloc_conf)
        device = memory.pick_device(opts.device)
        pipe = _load_pipeline(spec, device, opts.local_files_only)
        engine = cls(spec, pipe, device, "none", opts)
        if opts.weights is not None:
            engine.apply_weights(opts.weights)
        for name, path in opts.loras.items():
            engine.loras.load(name, path)
        engine.offload = _place(pipe, device, opts.offload)
        accelerate(pipe, opts.accel)  # after placement: compiled for the device it runs on
        log.info("engine ready: %s on %s (offload %s)", spec.name, device, engine.offload)
        return engine

    def apply_weights(self, path: Path) -> WeightsReport:
        """Apply fine-tuned transformer weights; a refused file leaves the model untouched."""
        report = apply_weights(self.pipe, path, min_match=self.options.weights_min_match)
        self.weights = report
        return report

    def use_lora(self, name: str, path: Path, identity: str) -> None:
        """Load a LoRA registered at run time (again if its file changed); no restart."""
        self.loras.ensure(name, path, identity)

    def resolve(self, request: GenerationRequest) -> ResolvedRequest:
        """Defaults and checks, including the text encoder's token limit."""
        resolved = resolve_request(self.spec, request)
        self.check_prompts(resolved)
        self.loras.check(resolved.loras)
        return resolved

    def check_prompts(self, request: ResolvedRequest) -> None:
        """The same token check the API makes, with this pipeline's own tokenizer."""
        if self._meter is None:
            self._meter = PromptMeter.of(self.pipe.tokenizer.backend_tokenizer)
        check_prompts(self._meter, self.spec, request)

    def generate(
        self,
        request: GenerationRequest | ResolvedRequest,
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> GenerationResult:
        """Generate one request's images; raises GenerationCanceled when canceled."""
        if isinstance(request, GenerationRequest):
            request = self.resolve(request)
        outcome = self.generate_batch([BatchItem(request, on_progress, cancel)])[0]
        if isinstance(outcome, GenerationCanceled):
            raise outcome
        return outcome

    def generate_batch(
        self, items: Sequence[BatchItem]
    ) -> list[GenerationResult | GenerationCanceled]:
        """Run compatible requests in shared pipeline calls; one outcome per item."""
        keys = {item.request.batch_key() for item in items}
        if len(keys) != 1:
            raise ValueError(
                "generate_batch needs requests with equal steps, guidance, size and LoRAs"
            )
        return self.run_batch(items, self._call_pipeline)

    @cached_property
    def editor(self) -> Editor:
        """Image-to-image, inpaint, outpaint and upscale on this engine's weights."""
        from huajia.engine.edit import Editor

        return Editor(self)

    def edit_batch(self, items: Sequence[EditItem]) -> list[GenerationResult | GenerationCanceled]:
        """Run compatible edit jobs in shared pipeline calls; one outcome per item."""
        return self.editor.edit_batch(items)

    def run_batch(
        self, items: Sequence[BatchItem], call: PipelineCall
    ) -> list[GenerationResult | GenerationCanceled]:
        """LoRAs, VAE tiling, out-of-memory retry and results around `call`, for every operation."""
        import torch

        started = time.perf_counter()
        first = items[0].request
        self.loras.activate(first.loras)
        self._set_vae_tiling(first.width * first.height)
        jobs = _image_jobs(items)
        with torch.inference_mode():
            images = self._run_jobs(jobs, items, call)
        return self._collect(items, jobs, images, time.perf_counter() - started)

    def _run_jobs(
        self, jobs: list[ImageJob], items: Sequence[BatchItem], call: PipelineCall
    ) -> list[Any]:
        """Chunks of images; on out-of-memory, free memory and retry with half the chunk."""
        chunk, done, out = len(jobs), 0, []
        while done < len(jobs):
            part = jobs[done : done + chunk]
            try:
                out.extend(call(part, items, done, len(jobs)))
            except Exception as error:
                if not memory.is_out_of_memory(error):
                    raise
                memory.free_device_memory()
                if chunk == 1:
                    size = f"{items[0].request.width}x{items[0].request.height}"
                    raise OutOfMemory(
                        f"not enough GPU memory for even one {size} image; "
                        "try a smaller size, or set offload to 'model' or 'sequential'"
                    ) from None
                chunk = max(1, chunk // 2)
                log.warning("out of GPU memory; retrying with batches of %d", chunk)
                continue
            done += len(part)
        return out

    def _call_pipeline(
        self, part: list[ImageJob], items: Sequence[BatchItem], offset: int, total: int
    ) -> list[Any]:
        import torch

        request = items[0].request
        on_step_end = step_callback(
            items, request.steps, offset, len(part), total, part, self._preview_frames
        )
        generators = [torch.Generator(device="cpu").manual_seed(job.seed) for job in part]
        output = self.pipe(
            prompt=[job.prompt for job in part],
            negative_prompt=[job.negative for job in part] if request.guidance > 0 else None,
            height=request.height,
            width=request.width,
            num_inference_steps=request.steps,
            guidance_scale=request.guidance,
            generator=generators,
            callback_on_step_end=on_step_end,
            max_sequence_length=self.spec.limits.max_prompt_tokens,
        )
        return list(output.images)

    @cached_property
    def preview_projection(self) -> LatentProjection:
        """The latent-to-RGB map of this VAE, fitted on the first preview asked for."""
        from huajia.engine.preview import LatentProjection

        started = time.perf_counter()
        projection = LatentProjection.fit(self.pipe.vae, self.pipe._execution_device)
        log.info("preview map fitted to the VAE in %.2f s", time.perf_counter() - started)
        return projection

    def prepare_previews(self) -> None:
        """Fit the preview map now, at load, so no task pays for it (previews are on for this
        service); a failure turns previews off, never the engine."""
        try:
            self.preview_projection  # noqa: B018 (a cached property: computed once)
        except Exception:
            self._previews_failed = True
            log.warning("live previews are off: the preview map could not be fitted",
                        exc_info=True)  # fmt: skip

    def _preview_frames(
        self, latents: Any, indexes: list[int], step: int, total: int
    ) -> list[PreviewFrame]:
        """Frames for these latent rows; a failure costs the previews, never the images."""
        if self._previews_failed:
            return []
        try:
            return self.preview_projection.frames(latents, indexes, step, total)
        except Exception:
            self._previews_failed = True
            log.warning("live previews failed; none from this worker from now on", exc_info=True)
            return []

    def _collect(
        self, items: Sequence[BatchItem], jobs: list[ImageJob], images: list[Any], seconds: float
    ) -> list[GenerationResult | GenerationCanceled]:
        outcomes: list[GenerationResult | GenerationCanceled] = []
        for position, item in enumerate(items):
            if item.canceled:
                outcomes.append(GenerationCanceled("canceled"))
                continue
            mine = [
                GeneratedImage(image, job.seed, job.index)
                for job, image in zip(jobs, images, strict=True)
                if job.item == position
            ]
            outcomes.append(
                GenerationResult(
                    request=item.request,
                    images=tuple(mine),
                    model=self.spec.name,
                    weights=self.weights.name if self.weights else None,
                    seconds=seconds,
                )
            )
        return outcomes

    def _set_vae_tiling(self, pixels: int) -> None:
        vae = self.pipe.vae
        if pixels >= self.options.vae_tiling_min_pixels:
            vae.enable_tiling()
        else:
            vae.disable_tiling()

    def describe(self) -> dict[str, Any]:
        """What health checks and `huajia model info` report about the loaded engine."""
        reading = memory.read_vram(self.device)
        return {
            "model": self.spec.name,
            "source": self.spec.source,
            "family": self.spec.family,
            "random_weights": self.spec.is_random_weights,
            "device": self.device,
            "dtype": str(self.pipe.transformer.dtype).removeprefix("torch."),
            "offload": self.offload,
            "vram_used_bytes": reading.used_bytes if reading else None,
            "vram_total_bytes": reading.total_bytes if reading else None,
            "vram_source": reading.source if reading else None,
            "weights": self.weights.summary() if self.weights else None,
            "loras": self.loras.describe(),
            "accelerations": self.options.accel.names(),
        }


def step_callback(
    items: Sequence[BatchItem], steps: int, offset: int, part: int, total: int,
    jobs: Sequence[ImageJob] = (), frames: FrameMaker | None = None,
) -> Callable[[Any, int, Any, dict[str, Any]], dict[str, Any]]:  # fmt: skip
    """A `callback_on_step_end` for one chunk: progress per item, previews for the items that
    want one now (the chunk's `jobs` name each latent row), cancel once all are canceled.

    `steps` is how many the pipeline runs per chunk; progress counts across every chunk.
    """
    if all(item.canceled for item in items):
        raise GenerationCanceled("canceled before the pipeline started")
    chunks, chunk_no = max(1, -(-total // max(1, part))), offset // max(1, part)
    watched = frames is not None and any(item.previews is not None for item in items)

    def on_step_end(_pipe: Any, step: int, _t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        done, all_steps = chunk_no * steps + step + 1, chunks * steps
        if watched and frames is not None:
            _send_previews(items, jobs, kwargs.get("latents"), frames, done, all_steps)
        for item in items:
            if item.on_progress is not None and not item.canceled:
                item.on_progress(done, all_steps)
        # Raising unwinds the pipeline at once: no further steps, no VAE decode.
        if all(item.canceled for item in items):
            raise GenerationCanceled(f"canceled after step {step + 1} of {steps}")
        return kwargs

    return on_step_end


FrameMaker = Callable[[Any, list[int], int, int], list[PreviewFrame]]
"""(latent rows, their image indexes, step, total) -> one preview frame per row."""


def _send_previews(items: Sequence[BatchItem], jobs: Sequence[ImageJob], latents: Any,
                   frames: FrameMaker, step: int, total: int) -> None:  # fmt: skip
    """One projection for every latent row whose request wants a preview at this step."""
    due = {
        position
        for position, item in enumerate(items)
        if item.previews is not None and not item.canceled and item.previews.due(step, total)
    }
    rows = [row for row, job in enumerate(jobs) if job.item in due]
    if latents is None or not rows:
        return
    made = frames(latents[rows], [jobs[row].index for row in rows], step, total)
    for row, frame in zip(rows, made, strict=False):  # none made: previews failed
        feed = items[jobs[row].item].previews
        if feed is not None:
            feed.send(frame)


def _image_jobs(items: Sequence[BatchItem]) -> list[ImageJob]:
    return [
        ImageJob(position, index, item.request.prompt, item.request.negative_prompt, seed)
        for position, item in enumerate(items)
        for index, seed in enumerate(item.request.seeds)
    ]


def _load_pipeline(spec: ModelSpec, device: str, local_files_only: bool) -> Any:
    from diffusers import ZImagePipeline
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    # Their per-file loading bars would interleave with the service's own logs.
    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
    for library in (diffusers_logging, transformers_logging):  # their lines in our format
        library.disable_default_handler()
        library.enable_propagation()

    dtype = memory.pick_dtype(device, spec.dtype)
    try:
        pipe = ZImagePipeline.from_pretrained(
            spec.source, dtype=dtype, local_files_only=local_files_only
        )
    except (OSError, ValueError) as error:
        raise ModelLoadError(
            f"could not load model {spec.name} from {spec.source}: {error}"
        ) from error
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _place(pipe: Any, device: str, requested: str) -> str:
    """Move the pipeline to its device, or install offload hooks: never both."""
    free = None
    if device == "cuda":
        import torch

        free = torch.cuda.mem_get_info()[0]
    mode = memory.choose_offload(requested, device, _component_bytes(pipe), free)
    if mode == "model":
        pipe.enable_model_cpu_offload()
    elif mode == "sequential":
        pipe.enable_sequential_cpu_offload()
    else:
        pipe.to(device)
    return mode


def _component_bytes(pipe: Any) -> list[int]:
    sizes = []
    for name in ("transformer", "text_encoder", "vae"):
        module = getattr(pipe, name, None)
        if module is not None:
            sizes.append(sum(p.numel() * p.element_size() for p in module.parameters()))
    return sizes
