"""Reading campaign sheets: what an editor's spreadsheet may hold, and what each bad row says."""

from __future__ import annotations

import io
import random
import tracemalloc
import zipfile

import pytest
from openpyxl import Workbook

from huajia.errors import InvalidRequest
from huajia.generation import xlsx
from huajia.generation.batch_sheet import MAX_ROWS, read_items, read_lines, read_sheet
from huajia.generation.xlsx import MAX_CELLS, MAX_COLUMNS, MAX_SHEET_BYTES, MAX_UNZIPPED_BYTES

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"


def workbook(*sheet_xml: bytes) -> bytes:
    """A minimal XLSX whose first worksheet's XML is `sheet_xml`, streamed into the zip (so a
    bomb's gigabytes are never held here either)."""
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as book:
        book.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{_MAIN}" xmlns:r="{_RELS}"><sheets>'
            '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        book.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{_PACKAGE}"><Relationship Id="rId1" '
            f'Type="{_RELS}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        )
        with book.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(f'<worksheet xmlns="{_MAIN}"><sheetData>'.encode())
            for part in sheet_xml:
                sheet.write(part)
            sheet.write(b"</sheetData></worksheet>")
    return data.getvalue()


def inline(text: str) -> bytes:
    return f'<c t="inlineStr"><is><t>{text}</t></is></c>'.encode()


def bomb(cells: int) -> bytes:
    """The audit's bomb, scaled: row 2 holds `cells` inline-string cells."""
    header = b"<row r='1'>" + inline("prompt") + b"</row>"
    chunk = inline("x") * 10_000
    return workbook(header, b"<row r='2'>", *[chunk] * (cells // 10_000), b"</row>")


def test_columns_are_found_by_name_in_any_order_and_case() -> None:
    sheet = read_sheet(
        "Alt Text,COUNT,Slot,prompt,Style,Filename\n"
        "A cup of tea,3,hero,一杯茶,photorealistic,tea.png\n".encode()
    )

    (row,) = sheet.rows
    assert (row.prompt, row.count, row.slot, row.style) == ("一杯茶", 3, "hero", "photorealistic")
    assert (row.filename, row.alt, row.error) == ("tea.png", "A cup of tea", None)
    assert sheet.warnings == []


def test_each_bad_row_says_why_and_the_others_stay() -> None:
    sheet = read_sheet(
        b"prompt,size,count,filename\n"
        b"fine,512x512,2,ok.png\n"
        b",512x512,1,\n"
        b"too big a count,,12,\n"
        b"odd size,512 by 512,1,\n"
        b"sneaky name,,1,../../etc/passwd\n"
    )

    errors = {row.row: row.error for row in sheet.rows}
    assert errors[1] is None and sheet.rows[0].width == 512
    assert errors[2] == "the prompt is empty"
    assert errors[3] == "count 12 is not from 1 to 9"
    assert "is not WIDTHxHEIGHT" in (errors[4] or "")
    assert "may hold letters" in (errors[5] or "")


def test_a_sheet_without_a_prompt_column_or_rows_is_refused_whole() -> None:
    with pytest.raises(InvalidRequest, match="'prompt'"):
        read_sheet(b"title,size\nx,512x512\n")
    with pytest.raises(InvalidRequest, match="nothing to generate"):
        read_sheet(b"prompt\n\n")
    with pytest.raises(InvalidRequest, match=f"at most {MAX_ROWS}"):
        read_lines("\n".join(f"prompt {n}" for n in range(MAX_ROWS + 1)))


def test_lines_and_json_items_read_like_a_sheet() -> None:
    assert [row.prompt for row in read_lines(" a lamp \n\nA chair\n").rows] == ["a lamp", "A chair"]
    items = read_items([{"prompt": "a lamp", "count": 2}, {"prompt": "", "alt": "x"}])
    assert [(row.count, row.error) for row in items.rows] == [(2, None), (1, "the prompt is empty")]


def test_an_xlsx_bomb_is_refused_from_its_declared_sizes_before_it_is_unzipped() -> None:
    data = bomb(2_000_000)  # ~70 MB of XML in a few hundred KB
    assert len(data) < 1024 * 1024
    with pytest.raises(InvalidRequest, match=f"more than {MAX_UNZIPPED_BYTES // 2**20} MiB"):
        read_sheet(data)


def test_an_xlsx_member_compressed_beyond_any_spreadsheet_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="zip bomb"):
        read_sheet(bomb(100_000))  # ~4 MB of XML, under the size bound, at ~1000:1


def test_a_wide_xlsx_sheet_is_read_only_to_its_limits() -> None:
    rng = random.Random(7)
    far = b'<c r="XFD2" t="inlineStr"><is><t>far right</t></is></c>'
    row = inline("prompt") + b"".join(inline(f"{rng.getrandbits(40):x}") for _ in range(200))
    narrow = read_sheet(workbook(b"<row r='1'>" + row + b"</row>", b"<row r='2'>" + row + far
                                 + b"</row>"))  # fmt: skip
    assert [row.prompt for row in narrow.rows] == ["prompt"]  # the far cell is not read
    assert len(narrow.warnings) <= MAX_COLUMNS

    many = [b"<row>" + row + b"</row>" for _ in range(MAX_CELLS // 201 + 1)]
    with pytest.raises(InvalidRequest, match=f"more than {MAX_CELLS} cells"):
        read_sheet(workbook(*many))


def test_an_xlsx_with_entity_expansion_cannot_be_read() -> None:
    laughs = "".join(f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, 10))
    dtd = f'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY l0 "lol">{laughs}]>'
    with zipfile.ZipFile(io.BytesIO(workbook())) as book:
        members = {name: book.read(name) for name in book.namelist()}
    sheet = members["xl/worksheets/sheet1.xml"].replace(b"<sheetData>", b"<sheetData><row>"
                                                        + inline("&l9;") + b"</row>")  # fmt: skip
    members["xl/worksheets/sheet1.xml"] = dtd.encode() + sheet
    rebuilt = io.BytesIO()
    with zipfile.ZipFile(rebuilt, "w", zipfile.ZIP_DEFLATED) as book:
        for name, content in members.items():
            book.writestr(name, content)
    with pytest.raises(InvalidRequest, match="cannot be read"):
        read_sheet(rebuilt.getvalue())


def test_an_xlsx_written_by_a_spreadsheet_program_reads_as_before() -> None:
    book = Workbook()
    book.active.append(["Prompt", "Count", "Size"])
    book.active.append(["港口的清晨", 2, "64x64"])
    book.active.append(["A red kite", 1.0, None])
    book.create_sheet("notes").append(["not this one"])
    data = io.BytesIO()
    book.save(data)

    sheet = read_sheet(data.getvalue())

    assert [(row.prompt, row.count, row.width) for row in sheet.rows] == [
        ("港口的清晨", 2, 64), ("A red kite", 1, None),
    ]  # fmt: skip


@pytest.mark.parametrize("count", ["inf", "-inf", "1e400", "nan", "NaN", "9e99"])
def test_a_count_that_is_no_whole_number_is_a_row_error(count: str) -> None:
    sheet = read_sheet(f"prompt,count\nfine,2\nodd,{count}\n".encode())
    assert sheet.rows[0].error is None
    assert "count" in (sheet.rows[1].error or "")
    items = read_items([{"prompt": "x", "count": count}, {"prompt": "y", "count": 1}])
    assert "count" in (items.rows[0].error or "") and items.rows[1].error is None


def test_a_cell_with_a_nul_character_is_a_row_error_and_kept_out_of_the_row() -> None:
    sheet = read_sheet(b"prompt,filename,alt\nfine,a.png,ok\nbad\x00,,\nok,b\x00.png,\nx,,a\x01\n")
    errors = [row.error for row in sheet.rows]
    assert errors[0] is None
    assert all("NUL" in (error or "") for error in errors[1:])
    assert all("\x00" not in row.prompt for row in sheet.rows)


def junk(count: int, seed: int = 3) -> bytes:
    """Elements a sheet may hold beside its cells, in no way a spreadsheet would (random tags,
    so they compress as little as real XML does)."""
    rng = random.Random(seed)
    return b"".join(f"<{rng.choice('abcdefghijklmnopqrstuvwxyz')}/>".encode() for _ in range(count))


def test_whatever_else_a_sheet_holds_is_dropped_as_it_is_read() -> None:
    """Inside rows, and past the sheet's data (merged cells, links …): none of it is kept."""
    noise = junk(400_000)
    data = workbook(
        b"<row r='1'>" + inline("prompt") + noise + b"</row>",
        b"<row r='2'>" + inline("a lighthouse") + b"</row>",
        b"</sheetData><mergeCells>" + noise + b"</mergeCells><sheetData>",
    )
    assert len(data) < MAX_SHEET_BYTES
    tracemalloc.start()
    try:
        sheet = read_sheet(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [row.prompt for row in sheet.rows] == ["a lighthouse"]
    assert peak < 8 * 2**20, f"{peak / 2**20:.0f} MiB held while reading"


def test_a_sheet_of_too_many_elements_or_a_cell_of_too_many_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(xlsx, "MAX_ELEMENTS", 5_000)
    header = b"<row r='1'>" + inline("prompt") + b"</row>"
    with pytest.raises(InvalidRequest, match="too large to read"):
        read_sheet(workbook(header, b"<row r='2'>" + junk(6_000) + b"</row>"))
    runs = b"".join(b"<r><t>x</t></r>" for _ in range(600))  # 1,200 elements in one cell
    cell = b'<c t="inlineStr"><is>' + runs + b"</is></c>"
    with pytest.raises(InvalidRequest, match="a cell of the workbook holds too much"):
        read_sheet(workbook(header, b"<row r='2'>" + cell + b"</row>"))
