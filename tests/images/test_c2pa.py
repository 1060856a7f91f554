"""C2PA Content Credentials, checked with c2pa-python's own Reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from huajia.errors import ConfigurationError
from huajia.images.c2pa import C2paSigner, read_credentials
from huajia.images.encode import read_xmp
from huajia.images.labeler import Labeler
from huajia.images.labels import label_checks, read_label
from huajia.images.provenance import AI_SOURCE_TYPE, COMPOSITE_SOURCE_TYPE
from tests.images.pictures import noise
from tests.support.certs import SigningFiles, make_signing_files

SECRET = b"c2pa-test-secret"


@pytest.fixture(scope="module")
def signing(tmp_path_factory: pytest.TempPathFactory) -> SigningFiles:
    return make_signing_files(tmp_path_factory.mktemp("c2pa"))


@pytest.fixture(scope="module")
def signer(signing: SigningFiles) -> C2paSigner:
    return C2paSigner.from_files(signing.cert_file, signing.key_file, None)


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_generated_images_carry_valid_credentials(signer: C2paSigner, fmt: str) -> None:
    file = Labeler(SECRET, signer=signer).label(noise(64, 48), fmt, {}, "id1").file  # type: ignore[arg-type]
    found = read_credentials(file.data, file.content_type)
    assert found.state in {"Valid", "Trusted"}, found.failures
    assert found.actions == ("c2pa.created",)
    assert found.source_types == (AI_SOURCE_TYPE,)
    assert found.signed_by == "Huajia Test Studio"
    # Signed after the TC260 label: the label is still there and still checks.
    label = read_label(read_xmp(file.data) or "")
    assert label is not None and label_checks(label, file.data, SECRET)


def test_edits_are_recorded_as_edits_of_a_composite(signer: C2paSigner) -> None:
    parameters: dict[str, object] = {"origin": "composite"}
    file = Labeler(SECRET, signer=signer).label(noise(64, 48), "png", parameters, "id2").file
    found = read_credentials(file.data, file.content_type)
    assert found.state in {"Valid", "Trusted"}, found.failures
    assert found.actions == ("c2pa.created", "c2pa.edited")
    assert set(found.source_types) == {COMPOSITE_SOURCE_TYPE}


def test_changed_bytes_invalidate_the_manifest(signer: C2paSigner) -> None:
    file = Labeler(SECRET, signer=signer).label(noise(64, 48), "png", {}, "id3").file
    data = bytearray(file.data)
    idat = data.index(b"IDAT") + 20
    data[idat] ^= 0xFF
    assert read_credentials(bytes(data), "image/png").state == "Invalid"


def test_an_unsigned_file_has_no_credentials() -> None:
    file = Labeler(SECRET).label(noise(32, 32), "png", {}, "id4").file
    assert read_credentials(file.data, "image/png").state == "absent"


def test_a_key_that_does_not_match_is_refused_at_start(signing: SigningFiles,
                                                       tmp_path: Path) -> None:  # fmt: skip
    other = make_signing_files(tmp_path)
    with pytest.raises(ConfigurationError, match="cannot sign"):
        C2paSigner.from_files(signing.cert_file, other.key_file, None)
    with pytest.raises(ConfigurationError, match="cannot read"):
        C2paSigner.from_files(tmp_path / "missing.pem", other.key_file, None)


def test_the_key_never_shows_in_repr(signer: C2paSigner) -> None:
    assert "PRIVATE KEY" not in repr(signer)
