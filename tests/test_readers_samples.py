"""The spec's sample deliveries (/work/shared/spec/samples) stage as their source.

Row counts were counted independently of the readers: ``wc -l`` minus the header
for the text files (none has blank lines or quoted line breaks), and for
registry.xlsx openpyxl's 68 sheet rows minus a title row, a blank row and the header.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from crossinvest.readers import FileRefused, detect_source, stage_file
from crossinvest.sources import SOURCES

SAMPLES = Path("/work/shared/spec/samples")
pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason="spec samples not present")


@pytest.mark.parametrize(
    ("name", "source", "rows", "fmt", "encoding"),
    [
        ("registry.xlsx", "registry", 65, "xlsx", "xlsx"),
        ("shareholders.csv", "shareholders", 114, "csv", "utf-8-sig"),
        ("tax.csv", "tax", 687, "csv", "gb18030"),
        ("tax_correction.csv", "tax", 6, "csv", "utf-8"),
        ("stats.tsv", "stats", 10, "tsv", "utf-8"),
    ],
)
def test_sample_stages(tmp_path, name, source, rows, fmt, encoding) -> None:
    con = duckdb.connect()
    s = stage_file(con, SOURCES[source], SAMPLES / name, table="stg", tmp_dir=tmp_path)
    assert (s.rows, s.file_format, s.encoding) == (rows, fmt, encoding)
    n, first, last = con.execute("SELECT count(*), min(_row), max(_row) FROM stg").fetchone()
    assert (n, first, last) == (rows, 1, rows)
    # Every required field was found and its column holds text in every row
    # (none of the samples leaves a required cell empty).
    for f in SOURCES[source].required:
        assert f.name in s.columns
    assert detect_source(list(s.columns.values()) + s.extra_columns) == source
    assert not list(tmp_path.iterdir()), "temp files left behind"


def test_sample_values_are_raw_text(tmp_path) -> None:
    con = duckdb.connect()
    stage_file(con, SOURCES["tax"], SAMPLES / "tax.csv", table="stg", tmp_dir=tmp_path)
    # Second data line of tax.csv (GB18030): a quoted amount with a thousands separator.
    assert con.execute(
        "SELECT taxpayer_name, period, tax_paid FROM stg WHERE _row = 2"
    ).fetchone() == (
        "上海达泰建设有限公司",
        "2018年01月",
        "409,326.33",
    )
    stage_file(con, SOURCES["registry"], SAMPLES / "registry.xlsx", table="reg", tmp_dir=tmp_path)
    assert con.execute(
        "SELECT established_on, registered_capital FROM reg WHERE _row = 1"
    ).fetchone() == (
        "2015-10-07",
        "29490.44万元",
    )


def test_bad_missing_column_is_refused(tmp_path) -> None:
    con = duckdb.connect()
    with pytest.raises(FileRefused) as e:
        stage_file(
            con, SOURCES["tax"], SAMPLES / "bad_missing_column.csv", table="stg", tmp_dir=tmp_path
        )
    assert str(e.value) == "文件 bad_missing_column.csv：缺少必填列「实缴税额」(tax_paid)"
