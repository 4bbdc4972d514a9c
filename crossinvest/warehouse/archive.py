"""The raw archive: every delivered file kept content-addressed under the home.

Any figure can be traced from its row's ``batch_id`` to ``batches.archive_path``
and so to the bytes delivered. A file that carries resident ID numbers
(shareholders) is archived as a re-export of every delivered column with those
numbers masked; its original sha256 stays in ``batches``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from crossinvest.readers import StagedFile
from crossinvest.sources import Source
from crossinvest.warehouse.connection import Warehouse, run


def _masked_select(source: Source, staged: StagedFile) -> str:
    from crossinvest.warehouse.load import _sql_str, raw_columns

    cols = [f"{expr} AS {_sql_str(header)}" for header, expr in raw_columns(source, staged)]
    # A staged CSV is stored in _row order (readers.csv_reader numbers rows from
    # rowid), and with preserve_insertion_order on, COPY writes a plain scan in
    # that order: no sort of the whole file (an external sort at 10M rows).
    order = "" if staged.file_format in ("csv", "tsv") else " ORDER BY s._row"
    return f"SELECT {', '.join(cols)} FROM {staged.table} s{order}"


def archive_needs_staged(source: Source, staged: StagedFile) -> bool:
    """Whether the archive is a re-export of the staged table (resident IDs masked)."""
    return source.name == "shareholders" and "investor_id" in staged.columns


def archive_file(wh: Warehouse, source: Source, path: Path, digest: str, staged: StagedFile) -> str:
    """Store the delivery under ``archive/<sha[:2]>/``; return its path relative to the archive.

    Idempotent: the name is the content hash, so a retried load reuses the file.
    """
    masked = archive_needs_staged(source, staged)
    suffix = ".masked.csv" if masked else (path.suffix.lower() or ".dat")
    rel = f"{digest[:2]}/{digest}{suffix}"
    dest = wh.home.archive / rel
    if dest.exists():
        return rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    if masked:
        run(wh.con, "SET preserve_insertion_order = true")
        run(wh.con, f"COPY ({_masked_select(source, staged)}) TO '{tmp}' (FORMAT csv, HEADER true)")
    else:
        shutil.copyfile(path, tmp)
    os.replace(tmp, dest)
    return rel
