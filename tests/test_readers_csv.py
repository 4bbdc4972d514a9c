"""Staging CSV/TSV deliveries: encodings, delimiters, quoting, row order, refusals."""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from crossinvest.readers import FileRefused, StagedFile, sniff, stage_file
from crossinvest.sources import SOURCES

TAX_HEADER = "纳税人识别号,纳税人名称,税款所属期,税种,实缴税额"


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    yield c
    c.close()


def stage(con, tmp_path: Path, name: str, data: bytes, source: str = "tax") -> StagedFile:
    path = tmp_path / name
    path.write_bytes(data)
    return stage_file(con, SOURCES[source], path, table="stg", tmp_dir=tmp_path / "tmp")


def rows(con, columns: str = "*") -> list[tuple]:
    return con.execute(f"SELECT {columns} FROM stg ORDER BY _row").fetchall()


def table_exists(con, name: str = "stg") -> bool:
    return (
        con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]).fetchone()[
            0
        ]
        == 1
    )


def refused(con, tmp_path: Path, name: str, data: bytes, source: str = "tax") -> str:
    """Stage a file that must be refused; return the message after checking its form."""
    # A table of the same name from before must not survive the refusal either.
    con.execute("CREATE OR REPLACE TEMP TABLE stg AS SELECT 1 AS leftover")
    with pytest.raises(FileRefused) as e:
        stage(con, tmp_path, name, data, source)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(f"文件 {name}：")
    assert not table_exists(con)
    assert not list((tmp_path / "tmp").glob("*")) if (tmp_path / "tmp").exists() else True
    return msg


TAX_ROWS = [
    ("91310107283FQEFLCL", "上海达泰建设有限公司", "2018-03", "增值税", "1,234.50"),
    ("", "上海某某科技有限公司（分公司）", "2018年03月", "企业所得税", "500万元"),
]


def tax_text(newline: str = "\n", delimiter: str = ",") -> str:
    lines = [TAX_HEADER.replace(",", delimiter)]
    for r in TAX_ROWS:
        lines.append(delimiter.join(f'"{v}"' if "," in v else v for v in r))
    return newline.join(lines) + newline


def expected_tax_rows() -> list[tuple]:
    # Empty cells stage as NULL; everything else as the exact text.
    return [(i + 1, *[v if v != "" else None for v in r]) for i, r in enumerate(TAX_ROWS)]


TAX_COLUMNS = "_row, taxpayer_id, taxpayer_name, period, tax_type, tax_paid"


@pytest.mark.parametrize(
    ("encoding", "prefix", "label"),
    [
        ("utf-8", b"", "utf-8"),
        ("utf-8", b"\xef\xbb\xbf", "utf-8-sig"),
        ("gb18030", b"", "gb18030"),
        ("gbk", b"", "gb18030"),  # GBK is a subset of GB18030
    ],
)
def test_encodings(con, tmp_path, encoding, prefix, label) -> None:
    s = stage(con, tmp_path, "tax.csv", prefix + tax_text().encode(encoding))
    assert (s.encoding, s.file_format, s.rows, s.table) == (label, "csv", 2, "stg")
    assert rows(con, TAX_COLUMNS) == expected_tax_rows()
    assert not list((tmp_path / "tmp").glob("*")), "the transcoded temp file must be deleted"


def test_gb18030_transcoding_across_chunk_boundaries(con, tmp_path, monkeypatch) -> None:
    # 7-byte chunks cut most 2- and 4-byte characters in half.
    monkeypatch.setattr(sniff, "TRANSCODE_CHUNK", 7)
    text = (
        tax_text() + "9131,上海𠀀锦天实业集团有限公司,2018-04,增值税,1\n"
    )  # 𠀀 is 4 bytes in GB18030
    s = stage(con, tmp_path, "tax.csv", text.encode("gb18030"))
    assert s.encoding == "gb18030" and s.rows == 3
    assert rows(con, "taxpayer_name")[2] == ("上海𠀀锦天实业集团有限公司",)


def test_ascii_sample_then_gb18030_falls_back_to_gb18030(con, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(sniff, "SAMPLE_BYTES", 200)
    text = "taxpayer_name,period,tax_paid\n" + "a,2018-03,1\n" * 50 + "甲公司,2018-04,2\n"
    s = stage(con, tmp_path, "tax.csv", text.encode("gb18030"))
    assert s.encoding == "gb18030" and s.rows == 51
    assert rows(con, "_row, taxpayer_name")[-1] == (51, "甲公司")


def test_invalid_utf8_after_a_utf8_sample_is_refused_with_row(con, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(sniff, "SAMPLE_BYTES", 200)
    data = (
        TAX_HEADER + "\n" + "9131,甲公司,2018-03,增值税,1\n" * 30
    ).encode() + b"9131,\xc9\xcf,2018,x,1\n"
    msg = refused(con, tmp_path, "tax.csv", data)
    assert "第 31 行数据" in msg and "UTF-8" in msg


@pytest.mark.parametrize(
    ("name", "delimiter", "fmt"),
    [("stats.tsv", "\t", "tsv"), ("stats.csv", "\t", "tsv"), ("stats.txt", ",", "csv")],
)
def test_delimiter_detected_from_header_line(con, tmp_path, name, delimiter, fmt) -> None:
    text = delimiter.join(["统一社会信用代码", "单位详细名称", "年份", "营业收入"]) + "\n"
    text += (
        delimiter.join(["91310114NGXYDGTXM1", "上海宏通电子集团有限公司", "2018年", "1908838.4"])
        + "\n"
    )
    s = stage(con, tmp_path, name, text.encode(), source="stats")
    assert s.file_format == fmt
    assert rows(con) == [
        (1, "91310114NGXYDGTXM1", "上海宏通电子集团有限公司", "2018年", "1908838.4")
    ]


def test_quoted_delimiters_newlines_and_doubled_quotes(con, tmp_path) -> None:
    data = (
        "纳税人名称,税款所属期,实缴税额\r\n"
        '"上海某某,有限公司","2018-03\r\n至2018-04","1,234"\r\n'
        '"他说""你好""",2018-05,=1+2\r\n'
    ).encode()
    s = stage(con, tmp_path, "tax.csv", data)
    assert s.rows == 2
    assert rows(con) == [
        (1, "上海某某,有限公司", "2018-03\r\n至2018-04", "1,234"),
        (2, '他说"你好"', "2018-05", "=1+2"),
    ]


def test_cells_stay_raw_text(con, tmp_path) -> None:
    # Nothing is sniffed, trimmed or parsed: that is validation's job.
    data = "纳税人识别号,纳税人名称,税款所属期,实缴税额\n0123, 甲公司 ,2018-03-05,1e5\n007,乙,20180305,NULL\n".encode()
    stage(con, tmp_path, "tax.csv", data)
    assert rows(con) == [
        (1, "0123", " 甲公司 ", "2018-03-05", "1e5"),
        (2, "007", "乙", "20180305", "NULL"),
    ]
    types = con.execute("SELECT column_name, column_type FROM (DESCRIBE stg)").fetchall()
    assert types == [("_row", "BIGINT")] + [
        (c, "VARCHAR") for c in ("taxpayer_id", "taxpayer_name", "period", "tax_paid")
    ]


@pytest.mark.parametrize(("bom", "encoding"), [(b"", "utf-8"), (b"\xef\xbb\xbf", "utf-8-sig")])
def test_blank_records_are_skipped_and_not_counted(con, tmp_path, bom, encoding) -> None:
    data = (
        bom
        + (
            "\n \r\n纳税人名称,税款所属期,实缴税额\n"  # blank lines above the header too
            "甲,2018-01,1\n\n,,\n \t, \u3000,\n乙,2018-02,2\n,,\n丙,,\n"
        ).encode()
    )
    s = stage(con, tmp_path, "tax.csv", data)
    assert s.encoding == encoding
    assert s.rows == 3
    assert rows(con) == [
        (1, "甲", "2018-01", "1"),
        (2, "乙", "2018-02", "2"),
        (3, "丙", None, None),
    ]


def test_header_aliases_fullwidth_units_and_extra_columns(con, tmp_path) -> None:
    header = [
        "　ＴＡＸＰＡＹＥＲ＿ＮＡＭＥ　",
        "Period",
        "实缴税额（元）",
        "备注",
        "taxpayer_name",
        "",
    ]
    data = (",".join(header) + "\n甲,2018-03,100,注意,乙,z\n").encode()
    s = stage(con, tmp_path, "tax.csv", data)
    assert s.columns == {
        "taxpayer_name": "　ＴＡＸＰＡＹＥＲ＿ＮＡＭＥ　",
        "period": "Period",
        "tax_paid": "实缴税额（元）",
    }
    assert s.extra_columns == ["备注", "taxpayer_name", ""]
    assert s.extra_table_columns == ["x_0", "x_1", "x_2"]
    assert rows(con, "taxpayer_name, period, tax_paid, x_0, x_1, x_2") == [
        ("甲", "2018-03", "100", "注意", "乙", "z")
    ]


def test_field_columns_follow_source_order(con, tmp_path) -> None:
    data = "实缴税额,税款所属期,纳税人名称\n1,2018-03,甲\n".encode()
    stage(con, tmp_path, "tax.csv", data)
    cols = [r[0] for r in con.execute("DESCRIBE stg").fetchall()]
    assert cols == ["_row", "taxpayer_name", "period", "tax_paid"]


def test_header_only_file_stages_no_rows(con, tmp_path) -> None:
    s = stage(con, tmp_path, "tax.csv", (TAX_HEADER + "\n").encode())
    assert s.rows == 0 and rows(con) == []


def test_restaging_replaces_the_table(con, tmp_path) -> None:
    stage(con, tmp_path, "a.csv", tax_text().encode())
    s = stage(con, tmp_path, "b.csv", (TAX_HEADER + "\n1,甲,2018-03,增值税,5\n").encode())
    assert s.rows == 1 and len(rows(con)) == 1


@pytest.mark.parametrize(("threads", "keep_order"), [(4, True), (4, False), (1, True)])
def test_row_numbers_follow_file_order_in_a_large_file(tmp_path, threads, keep_order) -> None:
    # ~25 MB: several of DuckDB's parallel scan ranges. Blank records at known
    # places check that they are skipped without a gap in _row.
    n = 900_000
    blank_every = 100_003
    parts = ["纳税人名称,税款所属期,实缴税额,seq\n"]
    for i in range(n):
        if i % blank_every == 0:
            parts.append(",,,\n")
        parts.append(f"上海某某科技有限公司{i % 97},2018-03,{i * 7 % 1000},{i}\n")
    path = tmp_path / "big.csv"
    path.write_text("".join(parts), encoding="utf-8")
    c = duckdb.connect(config={"threads": threads, "preserve_insertion_order": keep_order})
    s = stage_file(c, SOURCES["tax"], path, table="big", tmp_dir=tmp_path)
    assert s.rows == n and s.extra_columns == ["seq"]
    bad, first, last = c.execute(
        "SELECT count(*) FILTER (WHERE _row <> x_0::BIGINT + 1), min(_row), max(_row) FROM big"
    ).fetchone()
    assert (bad, first, last) == (0, 1, n)
    # The connection's own setting is left as it was.
    assert (
        c.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0] is keep_order
    )
    c.close()


# --- refusals -------------------------------------------------------------------------


def test_refuse_empty_file(con, tmp_path) -> None:
    assert "为空" in refused(con, tmp_path, "tax.csv", b"")
    assert "为空" in refused(con, tmp_path, "tax.csv", b" \r\n\n ")


def test_refuse_binary_garbage(con, tmp_path) -> None:
    garbage = random.Random(7).randbytes(5000)
    assert "二进制" in refused(con, tmp_path, "tax.csv", garbage)


def test_refuse_control_character_garbage_without_nul(con, tmp_path) -> None:
    garbage = bytes(random.Random(3).choice(range(1, 32)) for _ in range(3000))
    msg = refused(con, tmp_path, "tax.csv", garbage)
    assert "二进制" in msg or "编码" in msg


@pytest.mark.parametrize(
    ("magic", "word"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), ".xls"),
        (b"%PDF-1.7\n" + bytes(100), "PDF"),
        (b"\x1f\x8b\x08\x00" + bytes(100), "gzip"),
    ],
)
def test_refuse_other_binary_formats(con, tmp_path, magic, word) -> None:
    assert word in refused(con, tmp_path, "tax.csv", magic)


def test_refuse_utf16(con, tmp_path) -> None:
    assert "UTF-16" in refused(con, tmp_path, "tax.csv", tax_text().encode("utf-16"))


def test_refuse_truncated_inside_a_quote(con, tmp_path) -> None:
    data = (tax_text() + '9131,乙公司,2018-04,增值税,"12').encode()
    msg = refused(con, tmp_path, "tax.csv", data)
    assert "第 3 行数据" in msg and "引号" in msg and "截断" in msg


def test_refuse_truncated_last_record(con, tmp_path) -> None:
    data = (tax_text() + "9131,乙公司,2018-0").encode()
    msg = refused(con, tmp_path, "tax.csv", data)
    assert "第 3 行数据" in msg and "截断" in msg


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
@pytest.mark.parametrize("sample_bytes", [sniff.SAMPLE_BYTES, 200])
def test_refuse_a_file_cut_inside_a_character(
    con, tmp_path, monkeypatch, encoding, sample_bytes
) -> None:
    # Cut UTF-8 Chinese is often valid GB18030 (the bytes pair up): it must not load
    # as garbled names. With a 200-byte sample the cut lies beyond it, in DuckDB's read.
    monkeypatch.setattr(sniff, "SAMPLE_BYTES", sample_bytes)
    text = tax_text() + "9131,乙公司,2018-04,增值税,12\n" * 20 + "9131,丙公司,2018-05,增值税,7万元"
    data = text.encode(encoding)[:-1]  # the last character, 元, loses its last byte
    assert "截断" in refused(con, tmp_path, "tax.csv", data)


def test_refuse_ragged_record_naming_the_data_row(con, tmp_path) -> None:
    lines = [TAX_HEADER] + [f"9131,甲{i},2018-03,增值税,{i}" for i in range(10)]
    lines[7] += ",多出来的"
    msg = refused(con, tmp_path, "tax.csv", ("\n".join(lines) + "\n").encode())
    assert "第 7 行数据" in msg and "6 个字段" in msg and "5 列" in msg


def test_refusal_row_counts_records_not_lines(con, tmp_path) -> None:
    # The first record spans three lines; the ragged one is still data row 2.
    data = (TAX_HEADER + '\n9131,"甲\n公司\n",2018-03,增值税,1\n9131,乙,2018-03\n').encode()
    assert "第 2 行数据" in refused(con, tmp_path, "tax.csv", data)


def test_refuse_missing_required_column(con, tmp_path) -> None:
    data = "纳税人名称,税款所属期,税种\n上海某公司,2018-01,增值税\n".encode()
    msg = refused(con, tmp_path, "tax.csv", data)
    assert msg == "文件 tax.csv：缺少必填列「实缴税额」(tax_paid)"


def test_refuse_another_sources_file(con, tmp_path) -> None:
    msg = refused(con, tmp_path, "x.csv", tax_text().encode(), source="registry")
    assert msg == "文件 x.csv：表头是「纳税信息」(tax) 的格式，不是「企业登记信息」(registry)"


def test_refuse_single_unknown_column(con, tmp_path) -> None:
    assert "表头" in refused(con, tmp_path, "notes.csv", "备忘\n明天开会\n".encode())


def test_refuse_mixed_line_ends(con, tmp_path) -> None:
    data = (TAX_HEADER + "\r\n9131,甲,2018-03,增值税,1\n9131,乙,2018-03,增值税,2\r\n").encode()
    assert "换行符" in refused(con, tmp_path, "tax.csv", data)


def test_ragged_row_is_named_exactly_in_a_parallel_read(tmp_path) -> None:
    n, bad = 800_000, 612_345
    parts = ["纳税人名称,税款所属期,实缴税额\n"]
    for i in range(1, n + 1):
        parts.append(
            "上海某某,2018-03\n" if i == bad else f"上海某某科技有限公司{i % 97},2018-03,{i}\n"
        )
    path = tmp_path / "big.csv"
    path.write_text("".join(parts), encoding="utf-8")
    c = duckdb.connect(config={"threads": 4})
    with pytest.raises(FileRefused) as e:
        stage_file(c, SOURCES["tax"], path, table="big", tmp_dir=tmp_path)
    assert f"第 {bad} 行数据（文件第 {bad + 1} 行）" in str(e.value)
    c.close()


def test_no_open_result_is_left_on_the_connection(con, tmp_path) -> None:
    # DuckDB 2 refuses register() while a result is unfinished.
    stage(con, tmp_path, "tax.csv", tax_text().encode())
    con.register("probe", pa.table({"a": [1]}))
    assert con.execute("SELECT a FROM probe").fetchall() == [(1,)]


def test_a_warehouse_table_of_the_same_name_is_never_touched(con, tmp_path) -> None:
    con.execute("CREATE TABLE stg AS SELECT 42 AS keep")
    with pytest.raises(FileRefused):
        stage(con, tmp_path, "tax.csv", b"")
    stage(con, tmp_path, "tax.csv", tax_text().encode())
    assert con.execute("SELECT count(*) FROM temp.main.stg").fetchall() == [(2,)]
    con.execute("DROP TABLE temp.main.stg")
    assert con.execute("SELECT * FROM main.stg").fetchall() == [(42,)]


def test_blank_header_column_is_dropped_only_when_empty(con, tmp_path) -> None:
    # A trailing delimiter on every line: a column with neither header nor data.
    s = stage(con, tmp_path, "tax.csv", "纳税人名称,税款所属期,实缴税额,\n甲,2018-03,1,\n".encode())
    assert s.extra_columns == []
    assert [r[0] for r in con.execute("DESCRIBE stg").fetchall()] == [
        "_row",
        "taxpayer_name",
        "period",
        "tax_paid",
    ]
    s = stage(
        con,
        tmp_path,
        "tax.csv",
        "纳税人名称,,税款所属期,实缴税额,备注\n甲,,2018-03,1,x\n乙,?,2018-04,2,\n".encode(),
    )
    assert s.extra_columns == ["", "备注"]
    assert rows(con, "_row, x_0, x_1") == [(1, None, "x"), (2, "?", None)]
