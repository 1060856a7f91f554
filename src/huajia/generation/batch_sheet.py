"""A campaign sheet → rows to generate: CSV, XLSX or one prompt per line.

Columns (any order, headers case-insensitive): prompt, style (or preset), size (WIDTHxHEIGHT)
or slot (a size preset), count, filename, alt (or alt text). Other columns are ignored with a
warning. A row that cannot be read keeps its row number and a message a person can act on;
it does not sink the sheet.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field

from huajia.errors import InvalidRequest
from huajia.generation.xlsx import MAX_SHEET_BYTES, xlsx_rows

MAX_ROWS = 500
MAX_PROMPT_CHARS = 4000
_SIZE = re.compile(r"^\s*(\d{2,5})\s*[xX×]\s*(\d{2,5})\s*$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # tabs and line breaks are fine
_FILENAME = re.compile(r"^[\w\-. ]{1,100}$", re.UNICODE)
_ALIASES = {
    "prompt": "prompt",
    "style": "style",
    "preset": "style",
    "style_preset": "style",
    "size": "size",
    "slot": "slot",
    "count": "count",
    "num_images": "count",
    "filename": "filename",
    "file": "filename",
    "alt": "alt",
    "alt text": "alt",
    "alt_text": "alt",
}
XLSX_MAGIC = b"PK\x03\x04"
__all__ = ["MAX_SHEET_BYTES", "Sheet", "SheetRow", "read_items", "read_lines", "read_sheet"]


@dataclass(frozen=True)
class SheetRow:
    """One row as read: its fields, or why it cannot be generated (`error`)."""

    row: int  # 1 = the first data row (a header row is not counted)
    prompt: str = ""
    style: str | None = None
    width: int | None = None
    height: int | None = None
    slot: str | None = None
    count: int = 1
    filename: str | None = None
    alt: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Sheet:
    rows: list[SheetRow]
    warnings: list[str] = field(default_factory=list)


def read_sheet(data: bytes, filename: str | None = None) -> Sheet:
    """A CSV or XLSX file (told apart by its bytes, not its name)."""
    if data.startswith(XLSX_MAGIC):
        table = xlsx_rows(data, MAX_ROWS + 2)
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidRequest(
                f"{filename or 'the file'} is neither UTF-8 CSV nor XLSX: save it as "
                "'CSV UTF-8' or as an Excel workbook"
            ) from None
        table = [list(row) for row in csv.reader(io.StringIO(text))]
    return _from_table(table)


def read_lines(text: str) -> Sheet:
    """One prompt per line (blank lines skipped)."""
    prompts = [line.strip() for line in text.splitlines() if line.strip()]
    return _from_table([["prompt"], *[[prompt] for prompt in prompts]])


def read_items(items: list[dict[str, object]]) -> Sheet:
    """JSON items with the sheet's column names as keys."""
    if not items:
        raise InvalidRequest("a batch needs at least one item")
    keys = sorted({str(key) for item in items for key in item})
    table = [keys, *[[_cell(item.get(key)) for key in keys] for item in items]]
    return _from_table(table)


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def _from_table(table: list[list[str]]) -> Sheet:
    table = [row for row in table if any(cell.strip() for cell in row)]
    if not table:
        raise InvalidRequest("the sheet is empty: put the column names in the first row")
    header = [cell.strip().lower() for cell in table[0]]
    columns = {index: _ALIASES[name] for index, name in enumerate(header) if name in _ALIASES}
    if "prompt" not in columns.values():
        raise InvalidRequest(
            "the first row must name the columns, one of them 'prompt' "
            "(others: style, size or slot, count, filename, alt)"
        )
    warnings = [
        f"column {name!r} is not used (known: prompt, style, size, slot, count, filename, alt)"
        for index, name in enumerate(header)
        if index not in columns and name
    ]
    body = table[1:]
    if not body:
        raise InvalidRequest("nothing to generate: put one row (or line) per image request")
    if len(body) > MAX_ROWS:
        raise InvalidRequest(f"a batch holds at most {MAX_ROWS} rows, this sheet has {len(body)}")
    rows = [_row(number, cells, columns) for number, cells in enumerate(body, start=1)]
    return Sheet(rows, warnings)


def _row(number: int, cells: list[str], columns: dict[int, str]) -> SheetRow:
    values = {columns[i]: cells[i].strip() for i in columns if i < len(cells)}
    try:
        return _parsed(number, values)
    except ValueError as problem:
        prompt = _CONTROL.sub("", values.get("prompt", ""))  # kept, storable, for the error row
        return SheetRow(number, prompt=prompt, error=str(problem))


def _parsed(number: int, values: dict[str, str]) -> SheetRow:
    for column, value in values.items():
        if _CONTROL.search(value):  # as the API's Text: PostgreSQL refuses NUL, PNG text too
            raise ValueError(
                f"the {column} holds a control character such as NUL (\\x00): retype the cell"
            )
    prompt = values.get("prompt", "")
    if not prompt:
        raise ValueError("the prompt is empty")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ValueError(f"the prompt is longer than {MAX_PROMPT_CHARS} characters")
    width = height = None
    if values.get("size"):
        match = _SIZE.match(values["size"])
        if match is None:
            raise ValueError(f"size {values['size']!r} is not WIDTHxHEIGHT (e.g. 1024x768)")
        width, height = int(match.group(1)), int(match.group(2))
    count = 1
    if values.get("count"):
        count = _count(values["count"])
    filename = values.get("filename") or None
    if filename is not None and (_FILENAME.match(filename) is None or ".." in filename):
        raise ValueError(
            f"filename {filename!r} may hold letters, digits, spaces, '-', '_' and '.' only"
        )
    return SheetRow(
        number, prompt=prompt, style=values.get("style") or None, width=width, height=height,
        slot=values.get("slot") or None, count=count, filename=filename,
        alt=(values.get("alt") or None),
    )  # fmt: skip


def _count(text: str) -> int:
    """Images for the row: a whole number from 1 to 9 ("2" or "2.0"; not "inf" or "nan")."""
    problem = f"count {text!r} is not a number from 1 to 9"
    try:
        number = float(text)
    except ValueError:
        raise ValueError(problem) from None
    if not math.isfinite(number):
        raise ValueError(problem)
    count = int(number)
    if not 1 <= count <= 9:
        raise ValueError(f"count {count} is not from 1 to 9")
    return count
