"""Preview frames from the engine, encoded small for the task's followers.

Encoding happens on the reporter's thread when a beat is sent, not on the GPU's: a frame that
a newer one replaced before the beat went is never encoded at all.
"""

from __future__ import annotations

import io
import logging
import threading

from PIL import Image

from huajia.engine.types import PreviewFrame
from huajia.jobs.beats import PreviewImage

PREVIEW_QUALITY = 70

log = logging.getLogger(__name__)


def encode_preview(frame: PreviewFrame) -> PreviewImage:
    """A WebP of the frame (a few KB at 64 x 64)."""
    image = Image.frombytes("RGB", (frame.width, frame.height), frame.rgb)
    out = io.BytesIO()
    image.save(out, format="WEBP", quality=PREVIEW_QUALITY, method=0)
    return PreviewImage(frame.index, frame.step, frame.total, frame.width, frame.height,
                        "image/webp", out.getvalue())  # fmt: skip


class PreviewSlots:
    """The newest unsent frame of each image of one task; older ones are dropped unseen (and
    so are those of a beat that fails: the next frame is only a few steps away)."""

    def __init__(self) -> None:
        self.wanted = False  # someone follows the task with previews (the store said so)
        self._latest: dict[int, PreviewFrame] = {}
        self._lock = threading.Lock()

    def put(self, frame: PreviewFrame) -> None:
        """Called on the GPU's thread: keep the frame, nothing more."""
        with self._lock:
            self._latest[frame.index] = frame

    @property
    def waiting(self) -> bool:
        """A frame is kept and not taken yet."""
        return bool(self._latest)

    def take(self) -> tuple[PreviewImage, ...]:
        """The frames kept since the last take, encoded."""
        with self._lock:
            frames, self._latest = list(self._latest.values()), {}
        try:
            return tuple(encode_preview(frame) for frame in sorted(frames, key=lambda f: f.index))
        except Exception:  # costs these previews, never the steps or the lease they go with
            log.warning("could not encode %d preview(s)", len(frames), exc_info=True)
            return ()
