"""C2PA Content Credentials: a signed manifest saying a model made (or edited) the image.

Signing runs last, over the final bytes (TC260 label and all), with the operator's PEM
certificate chain and private key. Checked once at start-up: a signer that cannot sign a
tiny image is a configuration error, not a surprise at the first generated image.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import c2pa
from PIL import Image

from huajia.errors import ConfigurationError, InvalidRequest
from huajia.images.provenance import SOFTWARE, SOURCE_TYPES


@dataclass(frozen=True)
class C2paSigner:
    """Signs image bytes with a PEM chain (signing certificate first) and its ES256 key."""

    chain_pem: bytes = field(repr=False)
    key_pem: bytes = field(repr=False)
    tsa_url: str | None = None

    @classmethod
    def from_files(cls, cert_file: Path, key_file: Path, tsa_url: str | None) -> C2paSigner:
        """Read and check the files; ConfigurationError (never the key) when unusable."""
        try:
            signer = cls(cert_file.read_bytes(), key_file.read_bytes(), tsa_url)
        except OSError as error:
            raise ConfigurationError(
                f"cannot read the C2PA certificate or key: {error.strerror}"
            ) from None
        probe = io.BytesIO()
        Image.new("RGB", (16, 16)).save(probe, "PNG")
        try:
            signer.sign(probe.getvalue(), "image/png", "generated")
        except c2pa.C2paError as error:
            raise ConfigurationError(
                f"the C2PA certificate chain and key cannot sign (need an ES256 key matching "
                f"the first certificate, with a document-signing or e-mail EKU): {error}"
            ) from None
        return signer

    def sign(self, data: bytes, content_type: str, origin: str) -> bytes:
        """`data` with an embedded manifest recording who made it and how."""
        info = c2pa.C2paSignerInfo(
            c2pa.C2paSigningAlg.ES256, self.chain_pem, self.key_pem, self.tsa_url
        )
        with (
            c2pa.Signer.from_info(info) as signer,
            c2pa.Builder.from_json(json.dumps(manifest(origin))) as builder,
        ):
            signed = io.BytesIO()
            builder.sign(signer, content_type, io.BytesIO(data), signed)
        return signed.getvalue()


def manifest(origin: str) -> dict[str, object]:
    """The manifest definition: `c2pa.created` for new images; an edit is created (C2PA 2
    wants that first) and then `c2pa.edited`, both with the composite source type."""
    created: dict[str, object] = {"action": "c2pa.created"}
    source_type = SOURCE_TYPES.get(origin)
    if source_type:
        created["digitalSourceType"] = source_type
    actions = [created]
    if origin != "generated":
        actions.append({**created, "action": "c2pa.edited"})
    name, _, version = SOFTWARE.partition(" ")
    return {
        "claim_generator_info": [{"name": name, "version": version}],
        "assertions": [{"label": "c2pa.actions", "data": {"actions": actions}}],
    }


@dataclass(frozen=True)
class Credentials:
    """What a reader finds in a file's C2PA manifest."""

    state: str  # Valid, Trusted, Invalid; "absent" when the file has none
    signed_by: str | None = None
    actions: tuple[str, ...] = ()
    source_types: tuple[str, ...] = ()
    failures: tuple[str, ...] = ()


def read_credentials(data: bytes, content_type: str) -> Credentials:
    """Validate the file's manifest; an untrusted signer is reported, not hidden."""
    try:
        reader = c2pa.Reader.try_create(content_type, io.BytesIO(data))
    except c2pa.C2paError as error:
        return Credentials("Invalid", failures=(str(error),))
    if reader is None:
        return Credentials("absent")
    with reader:
        active = reader.get_active_manifest() or {}
        state = reader.get_validation_state() or "unknown"
        results = reader.get_validation_results() or {}
    actions = [
        action
        for assertion in active.get("assertions", [])
        if str(assertion.get("label", "")).startswith("c2pa.actions")
        for action in assertion.get("data", {}).get("actions", [])
    ]
    signature = active.get("signature_info") or {}
    failures = results.get("activeManifest", {}).get("failure", [])
    return Credentials(
        state=state,
        signed_by=signature.get("issuer") or signature.get("common_name"),
        actions=tuple(str(action.get("action")) for action in actions),
        source_types=tuple(
            str(a["digitalSourceType"]) for a in actions if "digitalSourceType" in a
        ),
        failures=tuple(str(failure.get("code")) for failure in failures),
    )


def content_type_of(data: bytes) -> str:
    """The MIME type C2PA needs, from the file's own signature."""
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    raise InvalidRequest("not a PNG, WebP or JPEG image")
