"""Campaign batches through a real server: a sheet of prompts in, a zip of images out.

A CSV of 12 rows with two bad ones gives ten rows' images, a manifest that matches the zip
and two clear per-row errors; an XLSX reads the same; canceling a batch stops what waits.
"""

from __future__ import annotations

import csv
import io
import threading
import time
import zipfile
from typing import Any

import httpx
import pytest
from openpyxl import Workbook

from tests.e2e.flows import stream_events
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e

HEADER = "prompt,style,size,count,filename,alt,notes\n"


def sheet_csv() -> bytes:
    rows = [
        f"Product shot {n},,64x64,{1 + n % 2},sale-{n:02d}.png,A product on a table {n},x"
        for n in range(1, 11)
    ]
    rows.insert(3, ",,64x64,1,empty.png,no prompt,x")  # row 4: no prompt
    rows.insert(8, "Window display,,huge,1,window.png,,x")  # row 9: a size that is not a size
    return (HEADER + "\n".join(rows) + "\n").encode()


def wait_finished(client: httpx.Client, batch_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = client.get(f"/api/v1/batches/{batch_id}").json()
        if batch["finished"]:
            return dict(batch)
        time.sleep(0.2)
    raise AssertionError(f"batch {batch_id} did not finish: {batch['counts']}")


def test_a_sheet_with_two_bad_rows_gives_ten_rows_of_images_and_two_errors(
    client: httpx.Client,
) -> None:
    answer = client.post(
        "/api/v1/batches", files={"file": ("spring-sale.csv", sheet_csv(), "text/csv")}
    )
    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert created["warnings"] == [
        "column 'notes' is not used (known: prompt, style, size, slot, count, filename, alt)"
    ]
    errors = {row["row"]: row["error"] for row in created["rows"] if row["error"]}
    assert sorted(errors) == [4, 9]
    assert errors[4] == "the prompt is empty"
    assert "is not WIDTHxHEIGHT" in errors[9]

    batch = wait_finished(client, created["batch_id"])
    zipped = client.get(f"/api/v1/batches/{batch['batch_id']}/zip")
    archive = zipfile.ZipFile(io.BytesIO(zipped.content))

    assert batch["counts"] == {"completed": 10, "error": 2}
    manifest = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode("utf-8-sig"))))
    images = sorted(name for name in archive.namelist() if name.endswith(".png"))
    assert sorted(row["file"] for row in manifest) == images
    assert len({row["row"] for row in manifest}) == 10
    assert len(images) == sum(1 + n % 2 for n in range(1, 11))  # counts 2,1,2,1...
    first = next(row for row in manifest if row["file"].startswith("sale-01"))
    assert first["prompt"] == "Product shot 1"
    assert first["alt_text"] == "A product on a table 1"
    assert first["image_url"].startswith("http") and "/generated-images/" in first["image_url"]
    assert client.get(first["image_url"]).status_code == 200
    refused = list(csv.reader(io.StringIO(archive.read("errors.csv").decode("utf-8-sig"))))
    assert [row[0] for row in refused[1:]] == ["4", "9"]


def test_an_xlsx_sheet_and_pasted_lines_are_read_too(client: httpx.Client) -> None:
    book = Workbook()
    book.active.append(["Prompt", "Size", "Alt text"])
    book.active.append(["港口的清晨", "64x64", "清晨的港口"])
    book.active.append(["A red kite", "64x64", None])
    data = io.BytesIO()
    book.save(data)

    from_xlsx = client.post("/api/v1/batches", files={"file": ("kites.xlsx", data.getvalue())})
    from_lines = client.post("/api/v1/batches", json={"lines": "a lamp\n\n  a chair  \n"})
    nothing = client.post("/api/v1/batches", json={"lines": ""})
    not_a_sheet = client.post("/api/v1/batches", files={"file": ("x.csv", b"\xff\xfe\x00bad")})

    assert from_xlsx.status_code == 201, from_xlsx.text
    rows = from_xlsx.json()["rows"]
    assert [(r["prompt"], r["alt_text"], r["error"]) for r in rows] == [
        ("港口的清晨", "清晨的港口", None), ("A red kite", None, None),
    ]  # fmt: skip
    assert [r["prompt"] for r in from_lines.json()["rows"]] == ["a lamp", "a chair"]
    assert nothing.status_code == 422
    assert not_a_sheet.status_code == 422
    assert "CSV UTF-8" in not_a_sheet.json()["error"]["message"]


def test_canceling_a_batch_stops_its_waiting_rows(
    client: httpx.Client, server: ServerProcess
) -> None:
    with server.workers().held():  # everything the batch queues stays waiting
        lines = "\n".join(f"a poster {n}" for n in range(6))
        created = client.post("/api/v1/batches", json={"lines": lines}).json()
        canceled = client.post(f"/api/v1/batches/{created['batch_id']}/cancel").json()

    assert canceled["counts"] == {"canceled": 6}
    assert canceled["canceled"] is True


def batch_events(client: httpx.Client, batch_id: str, seen: list[tuple[str, Any]]) -> None:
    """Every SSE event of the batch into `seen`, up to `finished` (the stream then closes)."""
    stream_events(client, f"/api/v1/batches/{batch_id}/events", into=seen, timeout=120)


def test_a_batch_streams_each_row_as_it_ends_then_finished(
    client: httpx.Client, server: ServerProcess
) -> None:
    seen: list[tuple[str, Any]] = []
    with server.workers().held():  # the rows wait until the stream is open
        created = client.post("/api/v1/batches", json={"lines": "a kite\na lamp\na boat"})
        batch_id = created.json()["batch_id"]
        follower = threading.Thread(target=batch_events, args=(client, batch_id, seen))
        follower.start()
        deadline = time.monotonic() + 30
        while not seen and time.monotonic() < deadline:
            time.sleep(0.05)
    follower.join(120)

    names = [name for name, _ in seen]
    assert names[0] == "batch" and names[-1] == "finished", names
    assert [row["state"] for row in seen[0][1]["rows"]] == ["pending"] * 3
    rows = [data for name, data in seen if name == "row"]
    last = {row["row"]: row for row in rows}
    assert sorted(last) == [1, 2, 3], "every row said how it ended"
    assert all(row["state"] == "completed" and len(row["images"]) == 1 for row in last.values())
    assert rows[-1]["counts"] == {"completed": 3}
    assert seen[-1][1] == {"batch_id": batch_id, "counts": {"completed": 3}}
    other = client.get("/api/v1/batches/not-a-batch/events")
    assert other.status_code == 404


def test_an_xlsx_bomb_is_refused_before_it_is_unzipped(
    client: httpx.Client, server: ServerProcess
) -> None:
    """The audit's bomb (row 2: millions of inline cells) is a 422, and the API does not grow."""
    from tests.generation.test_batch_sheet import bomb
    from tests.support.raw_http import memory_kib, reset_peak_memory

    data = bomb(3_000_000)  # ~110 MB of sheet XML in a few hundred KB
    assert server.process is not None
    pid = server.process.pid
    before = memory_kib(pid)
    reset_peak_memory(pid)

    response = client.post("/api/v1/batches", files={"file": ("sale.xlsx", data)})

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert "unzips to" in error["message"] and "CSV" in error["message"]
    grown_mib = (max(memory_kib(pid), memory_kib(pid, "VmHWM")) - before) / 1024
    assert grown_mib < 50, f"the API grew by {grown_mib:.0f} MiB"


def test_a_count_of_inf_or_nan_is_a_row_error(client: httpx.Client) -> None:
    items = [{"prompt": "a kite", "count": n} for n in ("inf", "1e400", "nan")]
    as_json = client.post("/api/v1/batches", json={"items": [*items, {"prompt": "x", "count": 1}]})
    as_csv = client.post(
        "/api/v1/batches", files={"file": ("c.csv", b"prompt,count\nkite,inf\nkite,1\n")}
    )

    assert as_json.status_code == 201, as_json.text
    errors = [row["error"] for row in as_json.json()["rows"]]
    assert all("count" in error for error in errors[:3]) and errors[3] is None
    assert as_csv.status_code == 201, as_csv.text
    assert [row["error"] is None for row in as_csv.json()["rows"]] == [False, True]
