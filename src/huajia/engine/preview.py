"""Live previews: the denoising latents seen through a linear latent-to-RGB map.

The map is fitted once per engine (at load when the service has previews on, else on the
first preview asked for) to the VAE actually loaded:
a few synthetic colour fields go through its encoder and decoder, and a least-squares fit
takes the latents (as the pipeline holds them: scaled and shifted) to the decoded pixels,
pooled to the latent grid. A preview is then one small matrix product per step: no decode.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from huajia.engine.types import PreviewFrame

if TYPE_CHECKING:
    import torch

PREVIEW_MAX_SIDE = 256
FIT_SIDE = 64  # pixels per side of each fitting image: 8 x 8 latents, 64 samples each
FIT_IMAGES = 4


class LatentProjection:
    """Latents (N, C, h, w) → RGB (N, h, w, 3) bytes: `weight @ latent + bias` per position."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        self.weight = weight  # (3, C), float32
        self.bias = bias  # (3,)

    @classmethod
    def fit(cls, vae: Any, device: Any) -> LatentProjection:
        """Fit the map to this VAE from a few decodes (once; a fraction of a second on a GPU).

        `device`: where the VAE runs (under CPU offload its weights wait elsewhere)."""
        import torch

        images = _colour_fields(FIT_IMAGES, FIT_SIDE, device, vae.dtype)
        config = vae.config
        with torch.inference_mode():
            latents = vae.encode(images).latent_dist.mode()
            decoded = vae.decode(latents, return_dict=False)[0].clamp(-1, 1)
        factor = images.shape[-1] // latents.shape[-1]
        target = torch.nn.functional.avg_pool2d(decoded.float(), factor)  # (N, 3, h, w)
        # The pipeline's latents are (vae latents - shift) * scale.
        shift = getattr(config, "shift_factor", None) or 0.0
        held = (latents.float() - shift) * config.scaling_factor
        x = held.permute(0, 2, 3, 1).reshape(-1, held.shape[1])
        y = (target.permute(0, 2, 3, 1).reshape(-1, 3) + 1) / 2  # to 0..1
        ones = torch.ones(x.shape[0], 1, device=x.device)
        solution = torch.linalg.lstsq(torch.cat([x, ones], 1).cpu(), y.cpu()).solution
        return cls(solution[:-1].T.contiguous(), solution[-1].contiguous())

    def frames(
        self, latents: torch.Tensor, indexes: list[int], step: int, total: int
    ) -> list[PreviewFrame]:
        """One frame per latent row (its image index from `indexes`), longest side ≤ 256."""
        import torch

        small = latents.detach().float()
        side = max(small.shape[-2:])
        if side > PREVIEW_MAX_SIDE:
            small = torch.nn.functional.avg_pool2d(small, -(-side // PREVIEW_MAX_SIDE))
        weight, bias = self.weight.to(small.device), self.bias.to(small.device)
        rgb = torch.einsum("nchw,kc->nhwk", small, weight) + bias
        pixels = (rgb.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
        height, width = pixels.shape[1:3]
        return [
            PreviewFrame(index, step, total, width, height, pixels[row].tobytes())
            for row, index in enumerate(indexes)
        ]


def _colour_fields(count: int, side: int, device: Any, dtype: Any) -> torch.Tensor:
    """Smooth random colour fields, flat patches and gradients in -1..1: the range of colours
    and shapes the fit should hold for (fixed seed: the same fit every time)."""
    import torch

    generator = torch.Generator().manual_seed(1234)
    coarse = torch.rand(count, 3, 4, 4, generator=generator) * 2 - 1
    fields = torch.nn.functional.interpolate(coarse, size=(side, side), mode="bicubic")
    ramp = torch.linspace(-1, 1, side)
    fields[0] = torch.stack([ramp.expand(side, side), ramp[:, None].expand(side, side),
                             -ramp.expand(side, side)])  # fmt: skip
    fields[1, :, : side // 2] = torch.tensor([0.9, -0.8, -0.8])[:, None, None]
    fields[1, :, side // 2 :] = torch.tensor([-0.8, -0.6, 0.9])[:, None, None]
    return fields.clamp(-1, 1).to(device=device, dtype=dtype)
