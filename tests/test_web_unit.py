"""Unit tests of the web layer's parts: cache seqlock, exports, assets, envelope, i18n."""

from __future__ import annotations

import csv
import io
import json
import math
import threading
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl.utils.escape import unescape

from crossinvest.web import assets
from crossinvest.web.cache import VersionedCache
from crossinvest.web.envelope import dumps
from crossinvest.web.export import DANGEROUS, neutralise, to_csv, to_xlsx
from crossinvest.web.i18n import MESSAGES, t

# --- the answer cache ------------------------------------------------------------


def test_cache_stores_only_under_the_version_it_saw() -> None:
    c = VersionedCache()
    seen = c.version
    c.begin_write()
    # a request that began before the write may not file its answer afterwards
    assert c.put("k", seen, b"old") is False
    c.end_write()
    assert c.get("k") is None
    assert c.put("k", seen, b"old") is False  # the version moved on
    assert c.put("k", c.version, b"new") is True
    assert c.get("k") == b"new"


def test_cache_is_bypassed_while_a_write_runs() -> None:
    c = VersionedCache()
    c.put("k", c.version, b"v")
    c.begin_write()
    assert c.get("k") is None
    assert c.version % 2 == 1
    c.end_write()
    assert c.version % 2 == 0 and c.get("k") is None


def test_cache_is_bounded() -> None:
    c = VersionedCache(max_entries=3)
    for i in range(10):
        c.put(i, c.version, i)
    assert [c.get(i) for i in range(10)].count(None) == 7
    assert c.get(9) == 9


def test_cache_threads_never_file_stale_answers() -> None:
    """Readers racing a writer: every stored answer matches the version it is filed under."""
    c = VersionedCache()
    data = {"value": 0}
    stop = threading.Event()
    errors: list[str] = []

    def writer() -> None:
        for _ in range(300):
            c.begin_write()
            data["value"] += 1
            c.end_write()
        stop.set()

    def reader() -> None:
        while not stop.is_set():
            seen = c.version
            value = data["value"]
            if c.put("k", seen, (seen, value)):
                v, val = c.get("k") or (seen, value)
                # filed under an even version: the data could not have moved since
                if v != seen:
                    errors.append("filed under another version")
            hit = c.get("k")
            if hit is not None and hit[0] != c.version and c.version % 2 == 0:
                errors.append(f"hit from version {hit[0]} at {c.version}")

    threads = [threading.Thread(target=reader) for _ in range(3)] + [
        threading.Thread(target=writer)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors[:3]


# --- exports ---------------------------------------------------------------------

COLUMNS = [("name", "名称"), ("value", "数值")]


@given(st.text(max_size=30))
def test_neutralise_never_leaves_a_formula_start(text: str) -> None:
    out = neutralise(text)
    assert not out.startswith(DANGEROUS)
    assert out.endswith(text)


@given(st.one_of(st.integers(), st.floats(allow_nan=False), st.none()))
def test_neutralise_leaves_numbers_alone(value: object) -> None:
    assert neutralise(value) == value


FORMULAS = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\t=x", "\r=y", '=HYPERLINK("x")']


def test_csv_has_bom_and_neutralised_cells() -> None:
    rows = [{"name": f, "value": -1.5} for f in FORMULAS] + [{"name": "浙江省", "value": 3}]
    body = to_csv(COLUMNS, rows)
    assert body.startswith(b"\xef\xbb\xbf")
    read = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert read[0] == ["名称", "数值"]
    for f, row in zip(FORMULAS, read[1:], strict=False):
        assert row[0] == "'" + f
        assert row[1] == "-1.5"  # numbers stay numbers
    assert read[-1] == ["浙江省", "3"]


def test_xlsx_cells_are_typed_and_never_formulas(tmp_path: Path) -> None:
    rows = [{"name": f, "value": 2.25} for f in FORMULAS] + [{"name": "浙江省", "value": 7}]
    path = tmp_path / "t.xlsx"
    path.write_bytes(to_xlsx(COLUMNS, rows))
    ws = openpyxl.load_workbook(path).active
    assert [c.value for c in ws[1]] == ["名称", "数值"]
    for i, f in enumerate(FORMULAS, start=2):
        cell = ws.cell(i, 1)
        assert cell.data_type == "s", (f, cell.data_type)
        # kept verbatim as text (xlsx escapes control characters as _x000D_)
        assert unescape(cell.value) == f
        assert ws.cell(i, 2).data_type == "n" and ws.cell(i, 2).value == 2.25
    assert ws.cell(len(FORMULAS) + 2, 2).value == 7


# --- envelope, i18n ----------------------------------------------------------------


def test_dumps_keeps_chinese_and_turns_nan_into_null() -> None:
    out = json.loads(dumps({"name": "浙江省", "x": math.nan, "y": [math.inf, 1.5]}))
    assert out == {"name": "浙江省", "x": None, "y": [None, 1.5]}
    assert "浙江省".encode() in dumps({"name": "浙江省"})


def test_every_message_has_both_languages() -> None:
    for key, (zh, en) in MESSAGES.items():
        assert zh and en, key
        assert t(key, "zh") == zh and t(key, "en") == en


# --- assets ------------------------------------------------------------------------


@pytest.mark.parametrize("x,y", [(0, 0), (1, -1), (-300, 512), (4000, -4000)])
def test_decode_ring_inverts_echarts_encoding(x: int, y: int) -> None:
    """Encode a point the way ECharts' compressor does, then decode it."""

    def zigzag(v: int) -> int:
        return (v << 1) ^ (v >> 31)

    coded = chr(zigzag(x) + 64) + chr(zigzag(y) + 64)
    assert assets.decode_ring(coded, [100, 200], 1024) == [[(100 + x) / 1024, (200 + y) / 1024]]


def test_installed_map_has_every_province_inside_china() -> None:
    if not assets.installed():
        pytest.fail("assets missing: run `make setup` (python -m crossinvest.web.assets)")
    geo = json.loads((assets.VENDOR_DIR / "china.geo.json").read_text(encoding="utf-8"))
    codes = {f["properties"]["code"] for f in geo["features"]}
    assert len(codes) == 34
    assert {"310000", "330000", "110000", "650000", "540000"} <= codes
    assert all(len(c) == 6 and c.endswith("0000") for c in codes)
    assets._check_map(geo)  # every point within China's bounding box


def test_installed_assets_are_verified_by_hash(tmp_path: Path) -> None:
    if not assets.installed():
        pytest.fail("assets missing: run `make setup`")
    copy = tmp_path / "vendor"
    import shutil

    shutil.copytree(assets.VENDOR_DIR, copy)
    assert assets.installed(copy)
    (copy / "echarts.min.js").write_text("tampered")
    assert not assets.installed(copy)


def test_serve_command_is_registered() -> None:
    from tests.conftest import run_cli

    proc = run_cli("serve", "--help")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "--port" in proc.stdout and "--host" in proc.stdout


def test_shipped_definitions_equal_the_spec() -> None:
    """The server runs without the spec; its copy of the definitions must not drift."""
    from crossinvest.web.datasets.docs import DEFINITIONS
    from tests.conftest import SAMPLES

    spec = SAMPLES.parent / "definitions.md"
    if not spec.exists():
        pytest.fail(f"spec not found at {spec}")
    assert DEFINITIONS.read_text(encoding="utf-8") == spec.read_text(encoding="utf-8")
