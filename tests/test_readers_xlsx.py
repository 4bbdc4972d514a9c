"""Staging XLSX deliveries: header search, cell text, blank rows, refusals."""

from __future__ import annotations

import datetime as dt
import io
import math
import zipfile
from pathlib import Path

import duckdb
import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossinvest.readers import FileRefused, StagedFile, stage_file, xlsx_reader
from crossinvest.readers.xlsx_reader import cell_text
from crossinvest.sources import SOURCES


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    yield c
    c.close()


def write_xlsx(path: Path, rows: list[list[object]], *, text_columns: tuple[int, ...] = ()) -> Path:
    """An .xlsx whose first sheet holds ``rows`` (None = empty cell).

    Columns in ``text_columns`` (1-based) are stored as text cells ('@' format),
    the way a bureau stores numbers as text.
    """
    wb = openpyxl.Workbook()
    ws = wb.active
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            if value is None:
                continue
            cell = ws.cell(row=r, column=c, value=value)
            if c in text_columns and isinstance(value, str):
                cell.number_format = "@"
                cell.data_type = "s"
    # A second sheet that must be ignored.
    wb.create_sheet("其他").append(["纳税人名称", "税款所属期", "实缴税额"])
    wb.save(path)
    return path


def stage(con, path: Path, source: str = "registry") -> StagedFile:
    return stage_file(con, SOURCES[source], path, table="stg", tmp_dir=path.parent / "tmp")


def rows(con, columns: str = "*") -> list[tuple]:
    return con.execute(f"SELECT {columns} FROM stg ORDER BY _row").fetchall()


def refused(con, path: Path, source: str = "registry") -> str:
    con.execute("CREATE OR REPLACE TEMP TABLE stg AS SELECT 1 AS leftover")
    with pytest.raises(FileRefused) as e:
        stage(con, path, source)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"文件 {path.name}：")
    n = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'stg'").fetchone()[0]
    assert n == 0
    return msg


REGISTRY_HEADER = [
    "统一社会信用代码",
    "企业名称",
    "成立日期",
    "注册资本（万元）",
    "住所所在行政区划",
]


def test_title_and_blank_rows_above_header_blank_rows_inside(con, tmp_path) -> None:
    path = write_xlsx(
        tmp_path / "registry.xlsx",
        [
            ["2018年企业登记信息（共享交换）"],
            [],
            ["制表单位：市场监管局", None, "日期：2019-01-01"],
            REGISTRY_HEADER,
            [
                "91310107283FQEFLCL",
                "上海达泰建设有限公司",
                dt.date(2015, 10, 7),
                29490.44,
                "310107",
            ],
            [],
            [None, "  ", None],
            [
                "91310101R7JY3WA001",
                "上海瑞联科技股份有限公司",
                dt.datetime(2018, 8, 10, 0, 0),
                3750.0,
                "0310101",
            ],
            ["91310118H7B7M7QEYJ", "上海正瑞物流集团有限公司", "2019/4/13", "1,234.5万元", 310118],
        ],
        text_columns=(5,),
    )
    s = stage(con, path)
    assert (s.rows, s.file_format, s.encoding) == (3, "xlsx", "xlsx")
    assert s.columns == {
        "uscc": "统一社会信用代码",
        "name": "企业名称",
        "established_on": "成立日期",
        "registered_capital": "注册资本（万元）",
        "region_code": "住所所在行政区划",
    }
    assert s.extra_columns == []
    assert rows(con, "_row, uscc, name, established_on, registered_capital, region_code") == [
        (1, "91310107283FQEFLCL", "上海达泰建设有限公司", "2015-10-07", "29490.44", "310107"),
        (2, "91310101R7JY3WA001", "上海瑞联科技股份有限公司", "2018-08-10", "3750", "0310101"),
        (3, "91310118H7B7M7QEYJ", "上海正瑞物流集团有限公司", "2019/4/13", "1,234.5万元", "310118"),
    ]


def test_numbers_and_other_cells_as_text(con, tmp_path) -> None:
    header = ["纳税人名称", "税款所属期", "实缴税额"]
    values = [1234.0, 0.35, 12345678901.5, 1e-7, 1e20, -0.0, 42, True, "0123", "=1+2"]
    path = write_xlsx(
        tmp_path / "tax.xlsx",
        [header] + [["甲", "2018-03", v] for v in values],
        text_columns=(3,),
    )
    stage(con, path, "tax")
    got = [r[0] for r in rows(con, "tax_paid")]
    assert got == [
        "1234", "0.35", "12345678901.5", "0.0000001", "100000000000000000000",
        "0", "42", "TRUE", "0123", "=1+2",
    ]  # fmt: skip


def test_english_fullwidth_and_unit_headers_and_extras(con, tmp_path) -> None:
    header = [
        "ＵＳＣＣ",
        " Name ",
        "Established_On",
        "registered_capital（元）",
        "备注",
        "name",
        None,
        None,
    ]
    path = write_xlsx(
        tmp_path / "r.xlsx",
        [header, ["9131", "甲", dt.date(2020, 1, 2), 5000000, "x", "乙", "无表头的值", None]],
    )
    s = stage(con, path)
    assert s.columns == {
        "uscc": "ＵＳＣＣ",
        "name": " Name ",
        "established_on": "Established_On",
        "registered_capital": "registered_capital（元）",
    }
    # A column without header text is kept when a row fills it, dropped otherwise.
    assert s.extra_columns == ["备注", "name", ""]
    assert rows(con) == [(1, "9131", "甲", "2020-01-02", "5000000", "x", "乙", "无表头的值")]
    cols = [r[0] for r in con.execute("DESCRIBE stg").fetchall()]
    assert cols == [
        "_row",
        "uscc",
        "name",
        "established_on",
        "registered_capital",
        "x_0",
        "x_1",
        "x_2",
    ]


def test_header_is_the_best_matching_row(con, tmp_path) -> None:
    # The title row mentions one field name; the real header matches more.
    path = write_xlsx(
        tmp_path / "t.xlsx",
        [
            ["纳税人名称", "（说明）"],
            ["纳税人识别号", "纳税人名称", "税款所属期", "实缴税额"],
            ["1", "甲", "2018-03", "5"],
        ],
    )
    s = stage(con, path, "tax")
    assert s.rows == 1 and rows(con, "taxpayer_id, taxpayer_name") == [("1", "甲")]


def test_many_rows_keep_order_across_batches(con, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(xlsx_reader, "BATCH_ROWS", 7)
    data = [["纳税人名称", "税款所属期", "实缴税额"]]
    for i in range(100):
        data.append([f"公司{i}", "2018-03", i])
        if i % 13 == 0:
            data.append([])
    stage(con, write_xlsx(tmp_path / "t.xlsx", data), "tax")
    got = rows(con, "_row, taxpayer_name, tax_paid")
    assert got == [(i + 1, f"公司{i}", str(i)) for i in range(100)]


def test_header_only_sheet_stages_no_rows(con, tmp_path) -> None:
    s = stage(
        con, write_xlsx(tmp_path / "t.xlsx", [["纳税人名称", "税款所属期", "实缴税额"]]), "tax"
    )
    assert s.rows == 0 and rows(con) == []


# --- refusals -------------------------------------------------------------------------


def test_refuse_truncated_xlsx(con, tmp_path) -> None:
    full = write_xlsx(
        tmp_path / "full.xlsx", [REGISTRY_HEADER, ["9131", "甲", "2018-01-01", 1, "310101"]]
    )
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    assert "损坏" in refused(con, cut)


def test_refuse_zip_that_is_not_a_workbook(con, tmp_path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("readme.txt", "hello")
    path = tmp_path / "r.xlsx"
    path.write_bytes(buf.getvalue())
    assert "xlsx" in refused(con, path)


def test_refuse_missing_required_column(con, tmp_path) -> None:
    path = write_xlsx(
        tmp_path / "r.xlsx", [["统一社会信用代码", "企业名称", "住所"], ["9131", "甲", "某路"]]
    )
    assert refused(con, path) == "文件 r.xlsx：缺少必填列「成立日期」(established_on)"


def test_refuse_another_sources_sheet(con, tmp_path) -> None:
    path = write_xlsx(
        tmp_path / "s.xlsx",
        [
            ["统计年报"],
            ["统一社会信用代码", "单位详细名称", "年份", "营业收入"],
            ["9131", "甲", "2018", "1"],
        ],
    )
    assert (
        refused(con, path)
        == "文件 s.xlsx：表头是「统计年报」(stats) 的格式，不是「企业登记信息」(registry)"
    )


def test_refuse_no_header(con, tmp_path) -> None:
    path = write_xlsx(tmp_path / "n.xlsx", [["会议纪要"], ["明天", "开会"]] + [["x"]] * 40)
    assert "表头" in refused(con, path)


def test_refuse_empty_sheet(con, tmp_path) -> None:
    assert "空" in refused(con, write_xlsx(tmp_path / "e.xlsx", []))


# --- cell text ------------------------------------------------------------------------


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_cell_text_of_floats_is_plain_and_exact(x: float) -> None:
    text = cell_text(x)
    assert "e" not in text.lower()
    assert not text.endswith(".0") and not text.endswith(".")
    assert float(text) == x or (x == 0 and text == "0")


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_cell_text_of_integral_floats_has_no_decimal_point(n: int) -> None:
    assert cell_text(float(n)) == str(n)


def test_cell_text_examples() -> None:
    assert cell_text(dt.date(2018, 3, 5)) == "2018-03-05"
    assert cell_text(dt.datetime(2018, 3, 5, 13, 4)) == "2018-03-05"
    assert cell_text("") is None and cell_text(None) is None
    assert cell_text(" x ") == " x "
    assert cell_text(math.inf) == "inf"
