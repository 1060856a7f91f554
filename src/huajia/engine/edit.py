"""Image-to-image, inpaint, outpaint and upscale on the engine's one loaded model.

The edit pipelines are diffusers' `ZImageImg2ImgPipeline` and `ZImageInpaintPipeline`, built
once from the engine's text-to-image pipeline's components: the very same transformer, VAE,
text encoder and tokenizer objects, so there is no second copy of the weights and custom
weights and LoRAs apply to every operation. Batching, LoRA switching, VAE tiling, out-of-memory
retry, progress and cancel are the engine's own (`ZImageEngine.run_batch`, `step_callback`).

Quirks of those pipelines, handled here:
- `from_pipe` always ends with `.to(dtype)`, float32 unless told otherwise: it would cast the
  shared bfloat16 modules in place (doubling their memory), and even with the right dtype it
  logs a keep-in-float32 warning per module. The constructor takes the same modules and
  neither casts nor logs, so the pipelines are built with it.
- They keep per-call state (timesteps, begin index) on the scheduler, so each gets its own
  scheduler rather than the text-to-image pipeline's.
- Strength s runs only the last steps − int(steps×(1−s)) steps: progress counts those, and a
  strength that leaves none is refused before the call (diffusers would raise ValueError).
- Inpaint binarizes its mask, samples it once per latent (8 px) and decodes the whole image
  through the VAE, which softens what it was told to keep. It is given a block mask covering
  the feathered alpha, and its output is composited over the source so kept pixels are exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any

from huajia.engine.edit_plan import EditPlan, denoising_steps, plan_edit
from huajia.engine.edit_types import EditItem, EditJob
from huajia.engine.types import (
    BatchItem,
    CancelToken,
    GenerationResult,
    ProgressCallback,
    ResolvedRequest,
)
from huajia.engine.zimage import ImageJob, step_callback
from huajia.errors import GenerationCanceled

if TYPE_CHECKING:
    from PIL.Image import Image

    from huajia.engine.zimage import ZImageEngine


class Editor:
    """The edit operations of one engine; its pipelines are built on first use."""

    def __init__(self, engine: ZImageEngine) -> None:
        self._engine = engine

    @cached_property
    def img2img_pipe(self) -> Any:
        from diffusers import ZImageImg2ImgPipeline

        return self._derived(ZImageImg2ImgPipeline)

    @cached_property
    def inpaint_pipe(self) -> Any:
        from diffusers import ZImageInpaintPipeline

        return self._derived(ZImageInpaintPipeline)

    def check(self, job: EditJob) -> EditPlan:
        """Refuse a job that cannot work (InvalidRequest) before it is queued or run."""
        self._engine.loras.check(job.request.loras)
        return plan_edit(job, self._engine.spec.limits, self._engine.pipe.vae_scale_factor)

    def edit(
        self,
        job: EditJob,
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> GenerationResult:
        """Run one edit job; raises GenerationCanceled when canceled."""
        outcome = self.edit_batch([EditItem(job, on_progress, cancel)])[0]
        if isinstance(outcome, GenerationCanceled):
            raise outcome
        return outcome

    def edit_batch(self, items: Sequence[EditItem]) -> list[GenerationResult | GenerationCanceled]:
        """Run compatible edit jobs in shared pipeline calls; one outcome per item."""
        if len({item.job.batch_key() for item in items}) != 1:
            raise ValueError(
                "edit_batch needs jobs of one kind with equal strength, steps, guidance, "
                "size and LoRAs"
            )
        plans = [self.check(item.job) for item in items]
        call = partial(self._call_pipeline, plans)
        outcomes = self._engine.run_batch([item.as_batch_item() for item in items], call)
        pairs = zip(outcomes, items, strict=True)
        return [_with_operation(outcome, item.job) for outcome, item in pairs]

    def _call_pipeline(
        self,
        plans: Sequence[EditPlan],
        part: list[ImageJob],
        items: Sequence[BatchItem],
        offset: int,
        total: int,
    ) -> list[Image]:
        request, mine = items[0].request, [plans[job.item] for job in part]
        steps = denoising_steps(request.steps, mine[0].strength)
        on_step_end = step_callback(items, steps, offset, len(part), total)
        pipe = self.img2img_pipe if mine[0].repaint is None else self.inpaint_pipe
        output = pipe(**self._inputs(request, part, mine), callback_on_step_end=on_step_end)
        # Under model offload, leave the shared modules offloaded as a text-to-image call does;
        # the edit pipelines hold none of the offload hooks that would.
        self._engine.pipe.maybe_free_model_hooks()
        return [plan.finish(image) for plan, image in zip(mine, output.images, strict=True)]

    def _inputs(
        self, request: ResolvedRequest, part: list[ImageJob], mine: list[EditPlan]
    ) -> dict[str, Any]:
        import torch

        inputs: dict[str, Any] = {
            "prompt": [job.prompt for job in part],
            "negative_prompt": [job.negative for job in part] if request.guidance > 0 else None,
            "image": [plan.init for plan in mine],
            "strength": mine[0].strength,
            "height": request.height,
            "width": request.width,
            "num_inference_steps": request.steps,
            "guidance_scale": request.guidance,
            "generator": [torch.Generator(device="cpu").manual_seed(job.seed) for job in part],
            "max_sequence_length": self._engine.spec.limits.max_prompt_tokens,
        }
        if mine[0].repaint is not None:
            inputs["mask_image"] = [plan.repaint for plan in mine]
        return inputs

    def _derived(self, pipeline_class: Any) -> Any:
        """An edit pipeline on the engine's own modules, with a scheduler of its own."""
        base = self._engine.pipe
        scheduler = type(base.scheduler).from_config(base.scheduler.config)
        pipe = pipeline_class(**{**base.components, "scheduler": scheduler})
        pipe.set_progress_bar_config(disable=True)
        return pipe


def _with_operation(
    outcome: GenerationResult | GenerationCanceled, job: EditJob
) -> GenerationResult | GenerationCanceled:
    if isinstance(outcome, GenerationCanceled):
        return outcome
    return replace(outcome, operation=job.parameters())
