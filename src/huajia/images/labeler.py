"""One object that turns pixels into a stored, labelled file: visible mark (when decided),
parameters and IPTC source type, the sealed TC260 label, then C2PA signing over the result.

Built once from settings (`Labeler.from_settings`) and handed to the worker, the editing
service and the one-off CLI, so nothing below reads settings.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image
from pydantic import SecretStr

from huajia.edits.font import FontLibrary
from huajia.errors import ConfigurationError
from huajia.images.encode import (
    PNG_LEVEL,
    EncodedImage,
    ImageFormat,
    encode_image,
    make_thumbnail,
)
from huajia.images.labels import seal, unsealed_label
from huajia.images.mark import VisibleMark, apply_mark

if TYPE_CHECKING:
    from huajia.images.c2pa import C2paSigner
    from huajia.settings import Settings

SECRET_FILE = "label-secret"  # noqa: S105 (a file name, not a secret)
DEFAULT_PRODUCER = "Huajia"
_Encoder = Callable[[str | None], EncodedImage]


@dataclass(frozen=True)
class LabelledImage:
    """A stored image's file and its preview, both labelled."""

    file: EncodedImage
    thumbnail: EncodedImage


@dataclass(frozen=True)
class Labeler:
    """Writes the AI labels into every image file Huajia stores."""

    secret: bytes = field(repr=False)
    producer: str = DEFAULT_PRODUCER
    fonts: FontLibrary | None = field(default=None, repr=False)
    signer: C2paSigner | None = None
    png_level: int = PNG_LEVEL

    @classmethod
    def ephemeral(cls) -> Labeler:
        """A labeler with a throwaway secret (tests, and callers built without settings)."""
        return cls(secrets.token_bytes(32))

    @classmethod
    def from_settings(cls, settings: Settings, fonts: FontLibrary | None = None) -> Labeler:
        """The server's labeler: its shared secret, producer name and C2PA signer if any."""
        signer = None
        if (settings.c2pa_cert_file is None) != (settings.c2pa_key_file is None):
            raise ConfigurationError("C2PA signing needs both c2pa_cert_file and c2pa_key_file")
        if settings.c2pa_cert_file is not None and settings.c2pa_key_file is not None:
            from huajia.images.c2pa import C2paSigner  # the native library only when used

            signer = C2paSigner.from_files(
                settings.c2pa_cert_file, settings.c2pa_key_file, settings.c2pa_tsa_url
            )
        secret = ensure_label_secret(settings.label_secret, settings.data_dir)
        return cls(secret, settings.label_producer, fonts, signer, settings.png_compress_level)

    def label(self, image: Image.Image, fmt: ImageFormat, parameters: dict[str, object],
              image_id: str, mark: VisibleMark | None = None) -> LabelledImage:  # fmt: skip
        """The file for `image` (marked first when a mark was decided) and its preview."""
        origin = str(parameters.get("origin", "generated"))
        if mark is not None:
            image = apply_mark(image, mark, self.fonts or FontLibrary.discover())
            parameters = {**parameters, "visible_mark": mark.model_dump()}
        # The preview is made beside the file (both encoders let go of the GIL).
        thumb = _beside().submit(
            self._sealed, origin, image_id,
            lambda aigc: make_thumbnail(image, origin=origin, aigc=aigc),
        )  # fmt: skip
        try:
            level = self.png_level
            file = self._sealed(
                origin, image_id, lambda aigc: encode_image(image, fmt, parameters, aigc, level),
                image if fmt == "png" else None,
            )  # fmt: skip
            if self.signer is not None:
                file = replace(file, data=self.signer.sign(file.data, file.content_type, origin))
        except BaseException:
            wait([thumb])  # the file's error is the one to tell; the preview's thread is done
            raise
        return LabelledImage(file, thumb.result())

    def _sealed(self, origin: str, image_id: str, encode: _Encoder,
                lossless_from: Image.Image | None = None) -> EncodedImage:  # fmt: skip
        if origin == "original":  # no model involved: the label makes no claim
            return encode(None)
        label, placeholder = unsealed_label(self.producer, image_id)
        encoded = encode(label.to_json())
        sealed = seal(encoded.data, placeholder, self.secret, lossless_from)
        return replace(encoded, data=sealed)


_BESIDE: ThreadPoolExecutor | None = None
_BESIDE_LOCK = threading.Lock()


def _beside() -> ThreadPoolExecutor:
    """Threads that encode previews while the caller encodes the file itself."""
    global _BESIDE
    with _BESIDE_LOCK:
        if _BESIDE is None:
            _BESIDE = ThreadPoolExecutor(2, thread_name_prefix="thumbnails")
        return _BESIDE


def find_label_secret(configured: SecretStr | None, data_dir: Path) -> bytes | None:
    """The label secret: the setting, else the file `data_dir/label-secret`, else None."""
    if configured is not None:
        return configured.get_secret_value().encode()
    path = data_dir / SECRET_FILE
    return (path.read_bytes().strip() or None) if path.is_file() else None


def ensure_label_secret(configured: SecretStr | None, data_dir: Path) -> bytes:
    """The label secret, made once in `data_dir` (mode 0600) when there is none yet."""
    found = find_label_secret(configured, data_dir)
    if found is not None:
        return found
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32).encode()
    try:
        descriptor = os.open(data_dir / SECRET_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return (data_dir / SECRET_FILE).read_bytes().strip()
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(value)
    return value
