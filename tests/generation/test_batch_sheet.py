"""Reading campaign sheets: what an editor's spreadsheet may hold, and what each bad row says."""

from __future__ import annotations

import pytest

from huajia.errors import InvalidRequest
from huajia.generation.batch_sheet import MAX_ROWS, read_items, read_lines, read_sheet


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
