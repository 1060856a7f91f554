"""What an image file says about itself: parameters, source type, labels and credentials.

Reads only; needs neither the model nor torch (`huajia inspect` runs it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from huajia.errors import InvalidRequest
from huajia.images.c2pa import Credentials, content_type_of, read_credentials
from huajia.images.encode import read_parameters, read_xmp
from huajia.images.labels import Tc260Label, label_checks, read_label
from huajia.images.provenance import declared_source_type

Integrity = Literal["valid", "invalid", "no secret", "no label"]


@dataclass(frozen=True)
class Inspection:
    """The report `huajia inspect` prints."""

    content_type: str
    parameters: dict[str, object] | None
    source_type: str | None
    label: Tc260Label | None
    integrity: Integrity
    visible_mark: object | None
    c2pa: Credentials

    @property
    def failed(self) -> bool:
        """A label or a manifest that does not match the file."""
        return self.integrity == "invalid" or self.c2pa.state == "Invalid"

    def to_json(self) -> dict[str, object]:
        return asdict(self) | {"failed": self.failed}


def inspect_image(data: bytes, secret: bytes | None) -> Inspection:
    """Everything Huajia writes into a file, checked where it can be."""
    content_type = content_type_of(data)
    xmp = read_xmp(data) or ""
    try:
        parameters: dict[str, object] | None = read_parameters(data)
    except InvalidRequest:
        parameters = None
    label = read_label(xmp)
    return Inspection(
        content_type=content_type,
        parameters=parameters,
        source_type=declared_source_type(xmp),
        label=label,
        integrity=_integrity(label, data, secret),
        visible_mark=(parameters or {}).get("visible_mark"),
        c2pa=read_credentials(data, content_type),
    )


def _integrity(label: Tc260Label | None, data: bytes, secret: bytes | None) -> Integrity:
    if label is None:
        return "no label"
    if secret is None:
        return "no secret"
    return "valid" if label_checks(label, data, secret) else "invalid"
