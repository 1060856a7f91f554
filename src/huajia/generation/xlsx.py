"""The first worksheet of an XLSX workbook as rows of text, read within fixed bounds.

A workbook is a zip of XML files, and a few hundred kilobytes can unzip to gigabytes (a row of
millions of cells). So the zip's declared sizes are checked before anything is unzipped (the
zip reader stops at the declared size, so a member cannot lie its way past the check), and the
sheet is stream-parsed: cells right of `MAX_COLUMNS` are skipped, reading stops after
`max_rows` rows or at the end of the sheet's data, and a sheet with more than `MAX_CELLS` cells
is refused. Every element is dropped as soon as it ends (only the one being read, a cell or a
string, is kept whole until then), a part holding more than `MAX_ELEMENTS` elements is refused,
and so is a cell or string made of more than `MAX_ELEMENTS_EACH`: no more than the bounds is
ever held in memory, whatever else the XML holds.
"""

from __future__ import annotations

import io
import posixpath
import pyexpat
import zipfile
import zlib
from collections.abc import Iterator
from typing import IO, Literal
from xml.etree.ElementTree import Element, ParseError, iterparse

from huajia.errors import InvalidRequest

MAX_SHEET_BYTES = 8 * 1024 * 1024  # an uploaded sheet, as sent
MAX_UNZIPPED_BYTES = 4 * MAX_SHEET_BYTES  # every member of a workbook, unzipped
MAX_RATIO = 200  # unzipped : zipped, for a member over RATIO_FLOOR
RATIO_FLOOR = 1024 * 1024
MAX_MEMBERS = 1000
MAX_COLUMNS = 64
MAX_CELLS = 100_000  # cells holding a value, anywhere in the first sheet
MAX_SHARED_STRINGS = 200_000
MAX_ELEMENTS = 1_000_000  # XML elements in one part of the workbook (a legible sheet: far fewer)
MAX_ELEMENTS_EACH = 1_000  # in one cell or one string (rich text runs and their text)

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PACKAGE_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"


if pyexpat.version_info < (2, 4, 1):  # pragma: no cover - every supported Python has newer
    raise ImportError("XLSX sheets need expat 2.4.1 or later (entity expansion limits)")

_Event = Literal["start", "end"]
# What a damaged, encrypted or foreign zip raises on the way in.
_DAMAGED = (
    zipfile.BadZipFile, zlib.error, KeyError, ParseError, ValueError, OSError, EOFError,
    NotImplementedError, RuntimeError,
)  # fmt: skip


class _Unreadable(Exception):
    """The workbook's structure is not what an XLSX file holds."""


def xlsx_rows(data: bytes, max_rows: int) -> list[list[str]]:
    """The first worksheet's first `max_rows` rows (by row number), each cell as text."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as book:
            _check_sizes(book)
            sheet, strings = _locate(book)
            shared = _shared_strings(book, strings)
            with book.open(sheet) as xml:
                return list(_rows(xml, shared, max_rows))
    except InvalidRequest:
        raise
    except (*_DAMAGED, _Unreadable) as error:
        # A damaged or foreign zip: the client's file, said plainly.
        raise InvalidRequest(f"the workbook cannot be read ({type(error).__name__})") from None


def _check_sizes(book: zipfile.ZipFile) -> None:
    members = book.infolist()
    if len(members) > MAX_MEMBERS:
        raise InvalidRequest(f"the workbook holds {len(members)} files; at most {MAX_MEMBERS}")
    total = sum(member.file_size for member in members)
    if total > MAX_UNZIPPED_BYTES:
        raise InvalidRequest(
            f"the workbook unzips to {total // 1024 // 1024} MiB, more than "
            f"{MAX_UNZIPPED_BYTES // 1024 // 1024} MiB: save only the sheet to generate "
            "(or save it as CSV)"
        )
    for member in members:
        if member.file_size > RATIO_FLOOR and member.file_size > MAX_RATIO * max(
            member.compress_size, 1
        ):
            raise InvalidRequest(
                "the workbook is compressed beyond what a spreadsheet needs (a zip bomb?): "
                "save it again from a spreadsheet program, or as CSV"
            )


def _locate(book: zipfile.ZipFile) -> tuple[str, str | None]:
    """The first worksheet's member, and the shared strings' member if there is one."""
    targets: dict[str, tuple[str, str]] = {}  # relationship id → (type, member)
    for rel in _elements(book, "xl/_rels/workbook.xml.rels", f"{_PACKAGE_REL}Relationship"):
        target = rel.get("Target", "")
        member = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
        targets[rel.get("Id", "")] = (rel.get("Type", ""), posixpath.normpath(member))
    strings = next((m for kind, m in targets.values() if kind.endswith("/sharedStrings")), None)
    for sheet in _elements(book, "xl/workbook.xml", f"{_MAIN}sheet"):
        kind, member = targets.get(sheet.get(f"{_REL}id", ""), ("", ""))
        if kind.endswith("/worksheet"):
            return member, strings
    raise _Unreadable("no worksheet")


def _elements(book: zipfile.ZipFile, member: str, tag: str) -> Iterator[Element]:
    with book.open(member) as xml:
        for event, element in _stream(xml, whole=frozenset({tag})):
            if event == "end":
                yield element


def _shared_strings(book: zipfile.ZipFile, member: str | None) -> list[str]:
    if member is None or member not in book.namelist():
        return []
    strings: list[str] = []
    with book.open(member) as xml:
        for event, element in _stream(xml, whole=frozenset({f"{_MAIN}si"})):
            if event != "end":
                continue
            strings.append(_text_of(element))
            if len(strings) > MAX_SHARED_STRINGS:
                raise InvalidRequest(
                    f"the workbook holds more than {MAX_SHARED_STRINGS} distinct texts"
                )
    return strings


def _rows(xml: IO[bytes], shared: list[str], max_rows: int) -> Iterator[list[str]]:
    cells = number = 0
    row: list[str] = []
    marks = frozenset({f"{_MAIN}row", f"{_MAIN}sheetData"})
    for event, element in _stream(xml, whole=frozenset({f"{_MAIN}c"}), marks=marks):
        if element.tag == f"{_MAIN}sheetData":
            if event == "end":  # what follows the data (merged cells, links …) is not read
                return
            continue
        if element.tag == f"{_MAIN}row":
            if event == "start":
                number = int(element.get("r") or number + 1)
                if number > max_rows:
                    return
                row = []
            else:
                yield row
            continue
        value = _value(element, shared)  # a cell, whole
        if value is None:
            continue
        cells += 1
        if cells > MAX_CELLS:
            raise InvalidRequest(f"the sheet holds more than {MAX_CELLS} cells")
        _place(row, _column(element.get("r"), len(row)), value)


def _stream(xml: IO[bytes], whole: frozenset[str], marks: frozenset[str] = frozenset()
            ) -> Iterator[tuple[str, Element]]:  # fmt: skip
    """("end", element) for each element tagged in `whole`, with all it holds; ("start", …)
    and ("end", …) for each tagged in `marks`, without its children. Every element is
    dropped from the tree as it ends, so memory holds the open elements and one whole one."""
    open_elements: list[Element] = []
    seen = inside = 0  # elements so far; depth within a whole element
    held = 0  # elements in the whole element being read
    for event, element in _parse(xml, ("start", "end")):
        if event == "start":
            seen += 1
            if seen > MAX_ELEMENTS:
                raise InvalidRequest("the workbook's sheet is too large to read (too many parts)")
            if inside or element.tag in whole:
                inside += 1
                held += 1
                if held > MAX_ELEMENTS_EACH:
                    raise InvalidRequest("a cell of the workbook holds too much to read")
            elif element.tag in marks:
                yield event, element
            open_elements.append(element)
            continue
        open_elements.pop()
        if inside:
            inside -= 1
            if inside:
                continue  # part of a whole element, kept until that one ends
            held = 0
            yield event, element
        elif element.tag in marks:
            yield event, element
        element.clear()
        if open_elements:  # its earlier siblings are gone: it is its parent's first child
            parent = open_elements[-1]  # (later ones may be there already: parsed ahead)
            if len(parent) and parent[0] is element:
                del parent[0]
            else:
                parent.remove(element)


def _place(row: list[str], column: int, value: str) -> None:
    """Puts the value in its column; columns right of MAX_COLUMNS are not read."""
    if column >= MAX_COLUMNS:
        return
    if column < len(row):
        row[column] = value
    else:
        row.extend([""] * (column - len(row)))
        row.append(value)


def _column(reference: str | None, following: int) -> int:
    """The 0-based column of a cell reference such as "AB12" (the next one when absent)."""
    if not reference:
        return following
    index = 0
    for char in reference:
        if not char.isalpha():
            break
        index = index * 26 + ord(char.upper()) - ord("A") + 1
        if index > 16384:  # Excel's last column is XFD
            raise _Unreadable("column out of range")
    return following if index == 0 else index - 1


def _value(cell: Element, shared: list[str]) -> str | None:
    kind = cell.get("t", "n")
    if kind == "inlineStr":
        inline = cell.find(f"{_MAIN}is")
        return None if inline is None else _text_of(inline)
    raw = cell.findtext(f"{_MAIN}v")
    if raw is None:
        return None
    if kind == "s":
        return shared[int(raw)] if 0 <= int(raw) < len(shared) else ""
    if kind == "b":
        return str(raw.strip() == "1")
    if kind == "n":
        return _number(raw)
    return raw  # str (a formula's text), e (an error such as #N/A), d (an ISO date)


def _number(raw: str) -> str:
    """As openpyxl reads it: an int unless the text has a point or an exponent."""
    text = raw.strip()
    try:
        return str(float(text)) if any(c in text for c in ".eE") else str(int(text))
    except ValueError:
        return text


def _parse(xml: IO[bytes], events: tuple[_Event, ...] = ("end",)) -> Iterator[tuple[str, Element]]:
    # Safe on untrusted XML: ElementTree fetches no external entities, and expat 2.4.1 and
    # later (checked on import) stop entity expansion that amplifies its input ("billion
    # laughs"); the sizes were bounded before this is reached.
    return iterparse(xml, events)  # noqa: S314


def _text_of(element: Element) -> str:
    """A string item's text: its own <t>, or its rich-text runs' (phonetic hints left out)."""
    own = element.find(f"{_MAIN}t")
    if own is not None:
        return own.text or ""
    return "".join(run.findtext(f"{_MAIN}t") or "" for run in element.findall(f"{_MAIN}r"))
