"""Images to edit: uploads judged by their bytes, and URLs fetched only through the guard."""

from __future__ import annotations

import asyncio
import hashlib
import io
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image, ImageCms, PngImagePlugin

from huajia.errors import (
    HuajiaError,
    ImageTooLarge,
    PayloadTooLarge,
    SourceFetchFailed,
    UnsupportedImage,
    UrlRefused,
)
from huajia.images.sources import SourceLimits, fetch_source, load_upload, load_url
from huajia.outbound import OutboundPolicy
from huajia.settings import Settings
from tests.images.pictures import encoded, halves, noise, phone_jpeg, png_claiming

LIMITS = SourceLimits(max_bytes=1024 * 1024, max_pixels=4096 * 4096, max_side=8192, timeout_s=2)


def refusal(data: bytes, limits: SourceLimits = LIMITS) -> HuajiaError:
    with pytest.raises(HuajiaError) as caught:
        load_upload(data, limits)
    return caught.value


# Uploads


@pytest.mark.parametrize(("fmt", "name"), [("PNG", "png"), ("JPEG", "jpeg"), ("WEBP", "webp")])
def test_png_jpeg_and_webp_are_accepted_as_an_rgb_png_to_store(fmt: str, name: str) -> None:
    source = load_upload(encoded(halves(40, 20), fmt), LIMITS)
    assert (source.original_format, source.width, source.height) == (name, 40, 20)
    assert source.image.mode == "RGB"
    assert source.sha256 == hashlib.sha256(source.data).hexdigest()
    with Image.open(io.BytesIO(source.data)) as stored:
        assert (stored.format, stored.size, stored.mode) == ("PNG", (40, 20), "RGB")


GIF = encoded(Image.new("P", (8, 8)), "GIF")
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8"/></svg>'


@pytest.mark.parametrize(
    "data",
    [GIF, SVG, b"just some text, not a picture\n", b"", encoded(Image.new("RGB", (8, 8)), "BMP")],
    ids=["gif", "svg", "text", "empty", "bmp"],
)
def test_anything_but_png_jpeg_and_webp_is_refused(data: bytes) -> None:
    error = refusal(data)
    assert isinstance(error, UnsupportedImage)
    assert (error.status, error.code) == (422, "unsupported_image")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_a_file_cut_in_half_is_refused(fmt: str) -> None:
    whole = encoded(noise(64, 64), fmt)
    assert refusal(whole[: len(whole) // 2]).code == "unsupported_image"


def test_an_animated_image_is_refused() -> None:
    frames = [Image.new("RGB", (8, 8), colour) for colour in ("red", "blue")]
    apng = encoded(frames[0], "PNG", save_all=True, append_images=frames[1:])
    assert "animated" in refusal(apng).message


@pytest.mark.parametrize("size", [(50_000, 50_000), (10_000, 10_000), (5_000, 5_000), (9_000, 8)])
def test_a_header_claiming_too_many_pixels_is_refused_before_decoding(
    size: tuple[int, int],
) -> None:
    # 50000² trips Pillow's own bomb error, 10000² its warning (an error here), 5000² and a
    # 9000-pixel side only our limits: all answer at once, without allocating the pixels.
    bomb = png_claiming(*size)
    assert len(bomb) < 100
    started = time.perf_counter()
    error = refusal(bomb)
    assert time.perf_counter() - started < 0.2
    assert isinstance(error, ImageTooLarge)
    assert (error.status, error.code) == (422, "image_too_large")


def test_a_file_over_the_byte_limit_is_refused() -> None:
    data = encoded(noise(64, 64), "PNG")
    error = refusal(data, SourceLimits(max_bytes=len(data) - 1))
    assert (error.status, error.code) == (413, "payload_too_large")
    assert load_upload(data, SourceLimits(max_bytes=len(data))).width == 64


def test_exif_orientation_turns_a_phone_photo_upright() -> None:
    # Orientation 6: the stored pixels must turn 90° clockwise to be seen as taken.
    source = load_upload(phone_jpeg(halves(40, 20), orientation=6), LIMITS)
    assert (source.width, source.height) == (20, 40)
    red, _green, blue = source.image.getpixel((10, 5))  # type: ignore[misc]
    assert red > 200 and blue < 60, "the photo's left half is now on top"


def test_no_metadata_travels_into_the_stored_image() -> None:
    source = load_upload(phone_jpeg(halves(), orientation=6), LIMITS)
    with Image.open(io.BytesIO(source.data)) as stored:
        assert not stored.getexif(), "no GPS, no orientation, nothing"
        assert set(stored.info) <= {"dpi"}
    assert not source.image.info


@pytest.mark.parametrize("profile", ["srgb", "garbage"])
def test_a_colour_profile_is_applied_or_ignored_and_never_stored(profile: str) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    icc = srgb if profile == "srgb" else b"not a profile"
    source = load_upload(encoded(halves(), "PNG", icc_profile=icc), LIMITS)
    assert source.image.getpixel((0, 0)) == (255, 0, 0)
    with Image.open(io.BytesIO(source.data)) as stored:
        assert "icc_profile" not in stored.info


def test_the_same_pixels_with_other_metadata_share_one_hash() -> None:
    chunks = PngImagePlugin.PngInfo()
    chunks.add_text("Comment", "taken at home")
    plain = load_upload(encoded(halves(), "PNG"), LIMITS)
    annotated = load_upload(encoded(halves(), "PNG", pnginfo=chunks), LIMITS)
    assert plain.sha256 == annotated.sha256


def test_transparency_is_kept_only_when_asked() -> None:
    rgba = Image.new("RGBA", (8, 8), (10, 20, 30, 0))
    data = encoded(rgba, "PNG")
    assert load_upload(data, LIMITS).image.mode == "RGB"
    kept = load_upload(data, LIMITS, keep_alpha=True).image
    assert (kept.mode, kept.getpixel((0, 0))) == ("RGBA", (10, 20, 30, 0))
    palette = Image.new("P", (8, 8), 0)
    palette_png = encoded(palette, "PNG", transparency=0)
    assert load_upload(palette_png, LIMITS, keep_alpha=True).image.getpixel((0, 0))[3] == 0  # type: ignore[index]
    assert load_upload(encoded(halves(), "PNG"), LIMITS, keep_alpha=True).image.mode == "RGB"


def test_sixteen_bit_grey_keeps_its_brightness() -> None:
    grey = load_upload(encoded(Image.new("I;16", (4, 4), 32896), "PNG"), LIMITS).image
    assert grey.getpixel((0, 0)) == (128, 128, 128)


def test_limits_come_from_the_settings() -> None:
    limits = SourceLimits.from_settings(Settings(max_source_pixels=1000 * 1000))
    assert (limits.max_pixels, limits.max_side, limits.max_bytes) == (10**6, 8192, 32 * 2**20)


# URLs: a real HTTP server on 127.0.0.1


class ImageServer(ThreadingHTTPServer):
    """Answers every GET with `body`, or a redirect, a drip, or bytes without end."""

    def __init__(self, body: bytes = b"", status: int = 200) -> None:
        super().__init__(("127.0.0.1", 0), ImageHandler)
        self.body = body
        self.status = status
        self.send_length = True
        self.drip_s: float | None = None
        self.endless = False
        self.connections = 0
        self.closing = threading.Event()

    def url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.server_address[1]}/picture.png"


class ImageHandler(BaseHTTPRequestHandler):
    server: ImageServer

    def setup(self) -> None:
        self.server.connections += 1
        super().setup()

    def do_GET(self) -> None:
        server = self.server
        self.send_response(server.status)
        if 300 <= server.status < 400:
            self.send_header("Location", "http://127.0.0.1:1/elsewhere.png")
        if server.send_length:
            self.send_header("Content-Length", str(len(server.body)))
        self.end_headers()
        try:
            self._answer(server)
        except OSError:  # the fetcher hung up: what its cap and deadline are for
            return

    def _answer(self, server: ImageServer) -> None:
        while server.endless and not server.closing.is_set():
            self.wfile.write(b"\0" * 65536)
        for byte in server.body if server.drip_s is not None else [server.body]:
            if server.closing.wait(server.drip_s or 0):
                return
            self.wfile.write(bytes([byte]) if isinstance(byte, int) else byte)
            self.wfile.flush()

    def log_message(self, *_args: object) -> None:
        pass


@contextmanager
def serving(body: bytes = b"", status: int = 200) -> Iterator[ImageServer]:
    server = ImageServer(body, status)
    server.protocol_version = "HTTP/1.0"  # a body without a length ends when the line closes
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    try:
        yield server
    finally:
        server.closing.set()
        server.shutdown()
        server.server_close()


class FakeDns:
    """Answers from a table (no real DNS in tests)."""

    def __init__(self, table: dict[str, Sequence[str]]) -> None:
        self.table = table

    def __call__(self, host: str, port: int) -> Sequence[str]:
        return self.table[host]


def source_policy(*hosts: str, http: bool = True, dns: FakeDns | None = None) -> OutboundPolicy:
    settings = Settings(source_hosts=list(hosts), source_allow_http=http)
    return OutboundPolicy.for_sources(settings, dns or FakeDns({}))


def fetch(url: str, policy: OutboundPolicy, limits: SourceLimits = LIMITS) -> bytes:
    return asyncio.run(fetch_source(url, policy, limits))


PICTURE = encoded(halves(), "PNG")
NOISE = encoded(noise(32, 32), "PNG")


def test_image_urls_are_off_until_the_operator_lists_source_hosts() -> None:
    with serving(PICTURE) as server:
        with pytest.raises(UrlRefused, match="source_hosts"):
            fetch(server.url(), source_policy())
        assert server.connections == 0


def test_a_host_not_on_source_hosts_is_refused() -> None:
    with serving(PICTURE) as server:
        with pytest.raises(UrlRefused, match="may only name a host the operator has listed"):
            fetch(server.url(), source_policy("images.example.com", "10.0.0.0/8"))
        assert server.connections == 0


def test_a_listed_name_that_resolves_to_loopback_is_refused() -> None:
    # Listing a name lets URLs name it, not reach inside: its DNS could point anywhere.
    dns = FakeDns({"images.test": ["127.0.0.1"]})
    with serving(PICTURE) as server:
        with pytest.raises(UrlRefused, match="public address"):
            fetch(server.url("images.test"), source_policy("images.test", dns=dns))
        assert server.connections == 0


def test_a_listed_name_reaches_an_inside_address_the_operator_also_listed() -> None:
    dns = FakeDns({"images.test": ["127.0.0.1"]})
    with serving(PICTURE) as server:
        policy = source_policy("images.test", "127.0.0.0/8", dns=dns)
        assert fetch(server.url("images.test"), policy) == PICTURE


def test_an_explicitly_listed_address_is_fetched_and_loads() -> None:
    with serving(PICTURE) as server:
        source = asyncio.run(load_url(server.url(), source_policy("127.0.0.1"), LIMITS))
    assert (source.original_format, source.width, source.height) == ("png", 40, 20)


def test_http_is_refused_unless_the_operator_allows_it() -> None:
    with serving(PICTURE) as server:
        with pytest.raises(UrlRefused, match="https://"):
            fetch(server.url(), source_policy("127.0.0.1", http=False))
        assert server.connections == 0


@pytest.mark.parametrize(("status", "says"), [(302, "redirect"), (404, "HTTP 404")])
def test_redirects_and_errors_are_not_followed(status: int, says: str) -> None:
    with serving(PICTURE, status) as server, pytest.raises(SourceFetchFailed, match=says) as caught:
        fetch(server.url(), source_policy("127.0.0.1"))
    assert caught.value.code == "source_fetch_failed"


def test_a_declared_length_over_the_cap_is_refused_before_reading() -> None:
    with serving(NOISE) as server:
        server.drip_s = 10.0  # headers at once, the body never: refused without reading it
        started = time.perf_counter()
        with pytest.raises(PayloadTooLarge):
            fetch(server.url(), source_policy("127.0.0.1"), SourceLimits(max_bytes=1024))
        assert time.perf_counter() - started < 1


def test_an_endless_body_is_cut_at_the_cap() -> None:
    with serving() as server:
        server.send_length, server.endless = False, True
        started = time.perf_counter()
        with pytest.raises(PayloadTooLarge) as caught:
            fetch(server.url(), source_policy("127.0.0.1"), SourceLimits(max_bytes=256 * 1024))
        assert time.perf_counter() - started < 1
    assert caught.value.status == 413


def test_a_slow_body_is_cut_at_the_deadline() -> None:
    with serving(PICTURE) as server:
        server.drip_s = 0.05  # each byte in time for a per-read timeout, the whole far too late
        started = time.perf_counter()
        with pytest.raises(SourceFetchFailed, match=r"within 0\.5 seconds"):
            fetch(server.url(), source_policy("127.0.0.1"), SourceLimits(timeout_s=0.5))
        assert time.perf_counter() - started < 1.5
