"""Loading one delivered file as one batch, all or nothing.

The pipeline, every step set-based inside DuckDB:

1. hash the file; the same bytes already loaded for this source is a no-op;
2. stage it as raw text (``readers``), or refuse it whole;
3. parse and check every field in one statement (``validation.typed``);
4. archive the file content-addressed (resident IDs masked);
5. in ONE transaction: record the batch, its rejects and quarantined rows,
   retire superseded versions, insert the new rows, derive what needs the
   registry (division fallbacks), and let plugins refresh their tables.

A failure anywhere before COMMIT leaves the warehouse exactly as it was; a
SIGKILL is covered by DuckDB's write-ahead log in the same way.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from crossinvest.plugins import get_plugin_manager
from crossinvest.progress import ProgressFn, no_progress, rich_progress
from crossinvest.readers import FileRefused, StagedFile, stage_file
from crossinvest.readers.base import temp_table
from crossinvest.sources import SOURCES, Source
from crossinvest.validation.typed import TypedPlan, checks_values_sql, plan_typed
from crossinvest.warehouse.archive import archive_file, archive_needs_staged
from crossinvest.warehouse.batches import REJECTS_SHOWN, Batch, LoadResult
from crossinvest.warehouse.connection import Warehouse, fetch_all, fetch_one, run, transaction
from crossinvest.warehouse.derive import derive_registry_regions
from crossinvest.warehouse.freshness import refresh_freshness
from crossinvest.warehouse.keys import retire_superseded
from crossinvest.warehouse.lookups import drop_indexes_for_bulk, ensure_indexes

META_COLUMNS = ("batch_id", "row_no", "is_current")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
    return h.hexdigest()


def table_columns(wh: Warehouse, source: Source) -> list[str]:
    cols = [r[0] for r in fetch_all(wh.con, f"DESCRIBE {source.table}")]
    return [c for c in cols if c not in META_COLUMNS]


def _duplicate_of(wh: Warehouse, source: str, digest: str) -> int | None:
    row = fetch_one(
        wh.con,
        "SELECT batch_id FROM batches WHERE source = ? AND sha256 = ? AND status = 'loaded' ORDER BY batch_id LIMIT 1",
        [source, digest],
    )
    return row[0] if row else None


def load_file(
    wh: Warehouse,
    source_name: str,
    path: Path,
    *,
    strict: bool = False,
    show_progress: bool = False,
    progress: ProgressFn | None = None,
) -> LoadResult:
    """Load ``path`` as a delivery of ``source_name``; raise ``FileRefused`` to refuse it whole.

    >>> # doctest: +SKIP
    >>> load_file(wh, "tax", Path("tax.csv")).as_json()["rows_loaded"]
    687
    """
    if progress is None and show_progress:
        with rich_progress() as bar:
            return load_file(wh, source_name, path, strict=strict, progress=bar)
    progress = progress or no_progress
    source = SOURCES[source_name]
    path = Path(path)
    started = time.perf_counter()
    con = wh.con
    tag = uuid.uuid4().hex[:8]
    stg, typed = f"stg_{tag}", f"typed_{tag}"
    progress("读取 read", 0, 1)
    try:
        # The hash (~0.3 s per 100 MB) runs beside the staging read instead of
        # before it; hashlib releases the GIL, as does DuckDB. A duplicate file is
        # then recognised after staging, and the staged table is simply dropped.
        with ThreadPoolExecutor(1, thread_name_prefix="ci-sha256") as pool:
            hashing = pool.submit(sha256_file, path)
            staged = stage_file(con, source, path, table=stg, tmp_dir=wh.home.tmp)
            digest = hashing.result()
        dup = _duplicate_of(wh, source.name, digest)
        if dup is not None:
            return LoadResult(dup, source.name, path.name, digest, 0, 0, 0, duplicate_file=True)
        progress("读取 read", staged.rows, staged.rows)
        return _load_staged(wh, source, path, digest, staged, typed, strict, started, progress)
    finally:
        run(con, f"DROP TABLE IF EXISTS {stg}")
        run(con, f"DROP TABLE IF EXISTS {typed}")


def _load_staged(
    wh: Warehouse,
    source: Source,
    path: Path,
    digest: str,
    staged: StagedFile,
    typed: str,
    strict: bool,
    started: float,
    progress: ProgressFn,
) -> LoadResult:
    con = wh.con
    n = staged.rows
    cols = table_columns(wh, source)
    secret = wh.home.secret_key().hex()
    # The key reaches SQL as a session variable, never as text in a query that
    # an error message could echo.
    set_secret(con, secret)
    plan = plan_typed(
        source,
        staged.table,
        set(staged.columns),
        wh.home.settings()["fx_to_cny"],
        typed,
        cols,
        headers=staged.columns,
    )
    progress("校验 validate", 0, n)
    # Typed rows carry _row, so their physical order does not matter.
    run(con, "SET preserve_insertion_order = false")
    try:
        run(con, plan.sql)
    finally:
        run(con, "SET preserve_insertion_order = true")
    rejected, warned = fetch_one(
        con, f"SELECT count(*) FILTER (_err <> 0), count(*) FILTER (_warn <> 0) FROM {typed}"
    ) or (0, 0)
    masked_archive = archive_needs_staged(source, staged)
    if not masked_archive:
        _keep_flagged_staged(con, staged, typed, rejected + warned)
    if source.name == "registry":
        derive_registry_regions(con, typed)
    progress("校验 validate", n, n)

    checks = checks_values_sql(plan.errors, plan.warnings)
    first_errors = _first_errors(wh, typed, checks, staged)
    if strict and rejected:
        e = first_errors[0]
        raise FileRefused(
            path,
            f"--strict 模式下有 {rejected} 行未通过校验，首个在第 {e['row']} 行「{e['column']}」列：{e['reason']}",
        )

    archive_rel = archive_file(wh, source, path, digest, staged)
    if masked_archive:
        _keep_flagged_staged(con, staged, typed, rejected + warned)
    progress("写入 write", 0, n - rejected)
    # Dropped in a transaction of their own, before the load's: an index dropped
    # inside the load's transaction is still maintained when it commits (27 s of
    # a 24M-row shareholders load). Indexes only speed lookups up, and
    # ensure_indexes builds them again below, or when the warehouse next opens.
    drop_indexes_for_bulk(con, source.table, n - rejected)
    try:
        batch_id = _insert_batch(
            wh,
            source,
            path,
            digest,
            archive_rel,
            staged,
            typed,
            plan,
            checks,
            (n, rejected, warned),
            started,
        )
    finally:
        ensure_indexes(con)  # a full rebuild of the statistics in the load dropped some
    progress("写入 write", n - rejected, n - rejected)
    return LoadResult(
        batch=batch_id,
        source=source.name,
        file=path.name,
        sha256=digest,
        rows_read=n,
        rows_loaded=n - rejected,
        rows_rejected=rejected,
        duplicate_file=False,
        rejects=first_errors,
        rows_warned=warned,
        elapsed_s=time.perf_counter() - started,
    )


def _insert_batch(
    wh: Warehouse,
    source: Source,
    path: Path,
    digest: str,
    archive_rel: str,
    staged: StagedFile,
    typed: str,
    plan: TypedPlan,
    checks: str,
    counts: tuple[int, int, int],
    started: float,
) -> int:
    """The load's one transaction: the batch, its rejects, superseded versions, the rows."""
    con = wh.con
    n, rejected, warned = counts
    cols = plan.outputs
    with transaction(con):
        batch_id = fetch_one(con, "SELECT nextval('batch_seq')")[0]  # type: ignore[index]
        _write_rejects(wh, batch_id, typed, checks, staged, source)
        retire_superseded(con, source, typed)
        col_list = ", ".join(cols)
        keys = ", ".join(source.key)
        # Within one file the last row of a key wins. Repeats are rare, so find
        # them with one aggregate and join that small table, instead of a
        # window over every row.
        # A first aggregate over a 64-bit hash of the key is far smaller than one
        # over the key strings (10M groups spill otherwise); the exact grouping
        # then runs on the few rows whose hash repeats.
        run(
            con,
            f"""
            CREATE OR REPLACE TEMP TABLE {typed}_last AS
            WITH h AS (
                SELECT hash({keys}) AS h FROM {typed} WHERE _err = 0
                GROUP BY ALL HAVING count(*) > 1
            )
            SELECT {keys}, max(_row) AS _last_row FROM {typed}
            WHERE _err = 0 AND hash({keys}) IN (SELECT h FROM h)
            GROUP BY {keys} HAVING count(*) > 1
            """,
        )
        match = " AND ".join(f"d.{k} = t.{k}" for k in source.key)
        # Row order in the table carries no meaning (row_no does), so let DuckDB
        # write in parallel; a source read by enterprise is stored clustered.
        order = f"ORDER BY t.{source.cluster}" if source.cluster else ""
        run(con, "SET preserve_insertion_order = false")
        run(
            con,
            f"""
            INSERT INTO {source.table} (batch_id, row_no, is_current, {col_list})
            SELECT {batch_id}, t._row, d._last_row IS NULL OR d._last_row = t._row,
                   {", ".join("t." + c for c in cols)}
            FROM {typed} t LEFT JOIN {typed}_last d ON {match}
            WHERE t._err = 0 {order}
            """,
        )
        run(con, "SET preserve_insertion_order = true")
        run(con, f"DROP TABLE {typed}_last")
        refresh_freshness(con, source.name)
        elapsed = time.perf_counter() - started
        run(
            con,
            """
            INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'loaded', now(), NULL, ?)
            """,
            [
                batch_id,
                source.name,
                path.name,
                digest,
                archive_rel,
                staged.file_format,
                staged.encoding,
                n,
                n - rejected,
                rejected,
                warned,
                elapsed,
            ],
        )
        batch = Batch(batch_id, source.name, path.name, digest, n - rejected)
        get_plugin_manager().hook.after_load(con=con, batch=batch)
    return batch_id


def _keep_flagged_staged(con, staged: StagedFile, typed: str, flagged: int) -> None:
    """Shrink the staging table to the rows that rejects and quarantine still read.

    The raw text of every row is no longer needed once the typed table exists
    (and the archive is written); dropping it early frees most of the memory
    budget for the aggregate and the insert that follow, which otherwise spill.
    """
    stg = temp_table(staged.table)
    keep = (
        f"_row IN (SELECT _row FROM {typed} WHERE _err <> 0 OR _warn <> 0)" if flagged else "false"
    )
    run(con, f"CREATE OR REPLACE TEMP TABLE {staged.table}_f AS SELECT * FROM {stg} WHERE {keep}")
    run(con, f"DROP TABLE {stg}")
    run(con, f"ALTER TABLE {temp_table(staged.table + '_f')} RENAME TO {staged.table}")


def _flagged_sql(typed: str, checks: str, mask: str = "_err") -> str:
    """Expand the masks of flagged rows into (row, column, reason, severity), set-based."""
    masks = "('_err', '_warn')" if mask == "both" else f"('{mask}')"
    return f"""
        SELECT t._row, c.column_name, c.reason, c.severity, c.bit, c.mask
        FROM (SELECT _row, _err, _warn FROM {typed} WHERE _err <> 0 OR _warn <> 0) t
        JOIN {checks}
          ON c.mask IN {masks}
         AND ((CASE c.mask WHEN '_err' THEN t._err ELSE t._warn END) >> c.bit) & 1 = 1
    """


def set_secret(con, secret: str) -> None:
    """Make the home's hashing key available to SQL as ``getvariable('ci_secret')``.

    Passed as a parameter so that no query text (which errors echo) holds it.
    """
    con.execute("SET VARIABLE ci_secret = $k", {"k": secret})


def _first_errors(wh: Warehouse, typed: str, checks: str, staged: StagedFile) -> list[dict]:
    """One reject per quarantined row (its first failing check), in row order, capped."""
    rows = fetch_all(
        wh.con,
        f"""
        SELECT _row, arg_min(column_name, bit), arg_min(reason, bit)
        FROM ({_flagged_sql(typed, checks)})
        GROUP BY _row ORDER BY _row LIMIT {REJECTS_SHOWN}
        """,
    )
    return [
        {"row": r, "column": staged.columns.get(col, col), "reason": reason}
        for r, col, reason in rows
    ]


def _write_rejects(
    wh: Warehouse, batch_id: int, typed: str, checks: str, staged: StagedFile, source: Source
) -> None:
    """Store every failing (row, column) and the quarantined rows as delivered."""
    con = wh.con
    value_cases = " ".join(
        f"WHEN '{name}' THEN {_masked_raw(source, name)}" for name in staged.columns
    )
    value = f"CASE f.column_name {value_cases} ELSE NULL END" if value_cases else "NULL"
    run(
        con,
        f"""
        INSERT INTO rejects
        SELECT {batch_id}, f._row, f.column_name, f.reason, f.severity, {value}
        FROM ({_flagged_sql(typed, checks, "both")}) f
        JOIN {staged.table} s ON s._row = f._row
        """,
    )
    fields = ", ".join(f"{_sql_str(h)} := {expr}" for h, expr in raw_columns(source, staged))
    run(
        con,
        f"""
        INSERT INTO quarantine
        SELECT {batch_id}, s._row, to_json(struct_pack({fields}))
        FROM {staged.table} s JOIN (SELECT _row FROM {typed} WHERE _err <> 0) t ON t._row = s._row
        """,
    )


def raw_columns(source: Source, staged: StagedFile) -> list[tuple[str, str]]:
    """(header, SQL expression) for every delivered column, personal IDs masked.

    Headers are made unique and non-empty (a repeated header gets ``#2``, a blank
    one 「（无列名）」): they become JSON keys and CSV column names.
    """
    pairs = [(h, _masked_raw(source, name)) for name, h in staged.columns.items()]
    pairs += [(h, f"s.x_{i}") for i, h in enumerate(staged.extra_columns)]
    seen: dict[str, int] = {}
    out = []
    for header, expr in pairs:
        h = header.strip() or "（无列名）"
        seen[h] = seen.get(h, 0) + 1
        out.append((h if seen[h] == 1 else f"{h}#{seen[h]}", expr))
    return out


def _sql_str(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def _masked_raw(source: Source, name: str) -> str:
    """The raw staged column, with a resident ID masked to its division (first 6)."""
    col = f's."{name}"'
    if source.name == "shareholders" and name == "investor_id":
        return f"CASE WHEN length(trim({col})) >= 15 THEN left(trim({col}), 6) || '********' ELSE {col} END"
    return col
