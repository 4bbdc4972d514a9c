"""``stage_file``: one delivered file in, one staging table of raw text out."""

from __future__ import annotations

from pathlib import Path

import duckdb

from crossinvest.readers.base import FileRefused, StagedFile, drop_table
from crossinvest.readers.csv_reader import stage_csv
from crossinvest.readers.sniff import file_kind
from crossinvest.readers.xlsx_reader import stage_xlsx
from crossinvest.sources import Source


def stage_file(
    con: duckdb.DuckDBPyConnection, source: Source, path: Path, *, table: str, tmp_dir: Path
) -> StagedFile:
    """Stage ``path`` as the TEMP table ``table`` of raw text, or refuse the whole file.

    The table has ``_row BIGINT`` (data row number from 1 in file order; blank
    records are skipped and not counted), one VARCHAR column per matched field
    named by ``Field.name`` (in the source's field order) holding the cell text
    untrimmed (an empty cell is NULL), then the unmatched columns as ``x_0``,
    ``x_1``, … (``x_{i}`` holds ``StagedFile.extra_columns[i]``; one with a blank
    header and no value in any row is dropped). A TEMP table of that name from
    before is replaced; a warehouse table of that name is never touched. The kind
    of file is decided from its bytes, not its name: a zip container is read as
    XLSX, anything else as CSV/TSV text.

    Raises ``FileRefused`` (one Chinese line naming the file) for a file that is
    not a table, truncated, ragged, of another source or missing a required
    column; ``table`` then does not exist afterwards. Call it outside an open
    transaction: a CSV error inside DuckDB aborts the surrounding transaction.

    >>> import duckdb, tempfile, pathlib
    >>> from crossinvest.sources import SOURCES
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "t.csv").write_text("纳税人名称,税款所属期,实缴税额\\n甲公司,2018-03,100\\n")
    >>> con = duckdb.connect()
    >>> s = stage_file(con, SOURCES["tax"], d / "t.csv", table="stg", tmp_dir=d)
    >>> s.rows, s.encoding, con.execute("SELECT * FROM stg").fetchall()
    (1, 'utf-8', [(1, '甲公司', '2018-03', '100')])
    """
    path = Path(path)
    try:
        if file_kind(path) == "xlsx":
            return stage_xlsx(con, source, path, table=table, tmp_dir=tmp_dir)
        return stage_csv(con, source, path, table=table, tmp_dir=tmp_dir)
    except FileRefused:
        drop_table(con, table)
        raise
