"""Text a request may carry: any string a database column and a PNG text chunk can hold.

Shared by the HTTP schemas and the models below them (policy rules, presets), so that every
layer refuses the same characters with the same words.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, ValidationInfo

# Validation context for reading back what was stored: text saved before the rule existed (a
# policy, a preset) is read as it is rather than failing every request that needs it.
STORED = {"stored": True}


def no_control_characters(value: str) -> str:
    """NUL and other C0 controls break databases and PNG text chunks; tabs and newlines are fine."""
    if any(ord(char) < 32 and char not in "\t\n\r" for char in value):
        raise ValueError("must not contain control characters such as NUL")
    return value


def _checked(value: str, info: ValidationInfo) -> str:
    return value if info.context == STORED else no_control_characters(value)


Text = Annotated[str, AfterValidator(_checked)]
