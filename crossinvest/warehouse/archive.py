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
    return f"SELECT {', '.join(cols)} FROM {staged.table} s ORDER BY s._row"


def archive_file(wh: Warehouse, source: Source, path: Path, digest: str, staged: StagedFile) -> str:
    """Store the delivery under ``archive/<sha[:2]>/``; return its path relative to the archive.

    Idempotent: the name is the content hash, so a retried load reuses the file.
    """
    masked = source.name == "shareholders" and "investor_id" in staged.columns
    suffix = ".masked.csv" if masked else (path.suffix.lower() or ".dat")
    rel = f"{digest[:2]}/{digest}{suffix}"
    dest = wh.home.archive / rel
    if dest.exists():
        return rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    if masked:
        run(wh.con, f"COPY ({_masked_select(source, staged)}) TO '{tmp}' (FORMAT csv, HEADER true)")
    else:
        shutil.copyfile(path, tmp)
    os.replace(tmp, dest)
    return rel
