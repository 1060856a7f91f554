"""What an image file says about itself: the human description and the XMP AI label.

The XMP packet follows the IPTC photo-metadata standard, so asset managers, CMS media
libraries and content-credential checkers see that an image was made by a trained model.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape, quoteattr

from huajia import __version__

SOFTWARE = f"Huajia {__version__}"
AI_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
COMPOSITE_SOURCE_TYPE = (
    "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
)
# An image's origin (see huajia.jobs.requests.ImageOrigin) -> its IPTC digital source type:
# all pixels from the model, the model over a photo, or no model at all (an upload, cropped).
SOURCE_TYPES: dict[str, str | None] = {
    "generated": AI_SOURCE_TYPE,
    "composite": COMPOSITE_SOURCE_TYPE,
    "original": None,
}
_FIRST_LINES = {
    "generated": "AI-generated image.",
    "composite": "Photo edited with an AI model.",
    "original": "Edited image.",
}

# Both "made by a model" and "partly made by a model" count as AI-generated content.
_AI_SOURCE_PATTERN = re.compile(
    r"DigitalSourceType(?:\s*=\s*[\"']|\s*>|\s+rdf:resource\s*=\s*[\"'])\s*"
    r"https?://cv\.iptc\.org/newscodes/digitalsourcetype/"
    r"(?:compositeWithTrainedAlgorithmicMedia|trainedAlgorithmicMedia)\b"
)
# JPEG carries XMP in one APP1 segment (under 64 KiB), so a long prompt is cut here;
# the full text is always in the parameters JSON.
_MAX_DESCRIPTION_CHARS = 4000

_DESCRIPTION_FIELDS = (
    ("seed", "Seed"),
    ("steps", "Steps"),
    ("guidance", "Guidance"),
    ("model", "Model"),
    ("weights", "Weights"),
)


def describe(parameters: dict[str, object]) -> str:
    """One readable paragraph: what made this image and how to make it again."""
    lines = [_FIRST_LINES.get(str(parameters.get("origin", "generated")), "AI-generated image.")]
    if parameters.get("prompt"):
        lines.append(f"Prompt: {parameters['prompt']}")
    if parameters.get("negative_prompt"):
        lines.append(f"Negative prompt: {parameters['negative_prompt']}")
    settings = [
        f"{label}: {parameters[key]}"
        for key, label in _DESCRIPTION_FIELDS
        if parameters.get(key) not in (None, "")
    ]
    if "width" in parameters and "height" in parameters:
        settings.append(f"Size: {parameters['width']}x{parameters['height']}")
    if settings:
        lines.append(", ".join(settings))
    return "\n".join(lines)


def xmp_packet(description: str, origin: str = "generated", aigc: str | None = None) -> bytes:
    """An XMP packet with the image's IPTC digital source type (none for an original) and,
    given `aigc` (the TC260 label's JSON, see images.labels), the GB 45438 implicit label."""
    source_type = SOURCE_TYPES.get(origin, AI_SOURCE_TYPE)
    declared = (
        f"\n    Iptc4xmpExt:DigitalSourceType={quoteattr(source_type)}" if source_type else ""
    )
    if aigc is not None:
        declared += f"\n    TC260:AIGC={quoteattr(aigc)}"
    if len(description) > _MAX_DESCRIPTION_CHARS:
        description = description[: _MAX_DESCRIPTION_CHARS - 1] + "…"
    packet = f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/"{declared}
    xmp:CreatorTool={quoteattr(SOFTWARE)}>
   <dc:description>
    <rdf:Alt><rdf:li xml:lang="x-default">{escape(description)}</rdf:li></rdf:Alt>
   </dc:description>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""
    return packet.encode("utf-8")


def declares_ai_source(xmp: bytes | str) -> bool:
    """Whether an XMP packet names a trained model as the image's digital source."""
    text = xmp.decode("utf-8", "replace") if isinstance(xmp, bytes) else xmp
    return _AI_SOURCE_PATTERN.search(text) is not None


_SOURCE_TYPE_PATTERN = re.compile(
    r"DigitalSourceType(?:\s*=\s*[\"']|\s*>|\s+rdf:resource\s*=\s*[\"'])\s*(?P<url>[^\"'<\s]+)"
)


def declared_source_type(xmp: str) -> str | None:
    """The IPTC digital source type an XMP packet declares, if any."""
    match = _SOURCE_TYPE_PATTERN.search(xmp)
    return match.group("url") if match else None
