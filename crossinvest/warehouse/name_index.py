"""An index of enterprise names (bigrams) and codes, so that a search does not read every name.

Search finds the current enterprises whose lower-cased name contains the text
typed, or whose USCC or registration number starts with it, first by key.
Without an index every search reads all names: 0.4-0.6 s at 10M realistic
names, whatever the text (``benchmarks/bench_search.py``).

``name_grams`` holds, for every registry row, one row per bigram of its
lower-cased name (``g`` = two code points; the last character is paired with
0, so that every character starts a gram and a one-character search is a range
of ``g``), and one row per code (``g`` = -1 for the upper-cased USCC, -2 for the
registration number, with the code in ``term``; -3 with the lower-cased name). It is stored sorted by
``(g, term, enterprise_key)``: a gram's rows are a few row groups DuckDB finds
by their min/max, already in key order, so the first candidates by key are a
top-N over those row groups alone. The whole names (-3) are sorted by key
instead: a character found in most names is searched by reading them in key
order, and DuckDB's top-N passes its bound down to the scan, which skips every
row group past the first few (``_insert_names``). ``name_gram_counts`` says how many rows each
gram has, so a search starts from its rarest gram.

Answers never depend on how fresh the index is:

- rows of batches after ``covered_batch`` are not indexed: search reads them
  directly (a delivery or two, found by ``batch_id``'s min/max);
- superseded and rolled-back rows keep their entries until the next full build:
  every candidate is checked against the current registry row, so a stale entry
  costs a lookup, never a wrong row.

``refresh`` brings it up to date in one transaction; the server runs it after
it starts and after every write job, off the request path (``web/state.py``).
Until the first build, search reads every name.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from crossinvest.warehouse.connection import (
    fetch_all,
    fetch_dicts,
    fetch_one,
    run,
    table_ddl,
    transaction,
)
from crossinvest.warehouse.lookups import by_keys

GRAM_SHIFT = 2_097_152  # 2**21: above every Unicode code point
USCC_G, REG_NO_G, KEY_G = -1, -2, -3
TOP = "\U0010ffff"  # sorts after every character: prefix p is the range [p, p || TOP)
# Indexed rows since the last full build above this share of it: build again
# (one sorted run instead of a tail of appended ones, and the stale entries go).
REBUILD_SHARE = 0.2
# Grams sorted per part of a full build: one sort of 133M grams (10M names)
# peaked at 2.6 GB; parts keep the server's memory for its pages.
PART_GRAMS = 40_000_000

INDEX_DDL = """
CREATE TABLE name_grams (g BIGINT NOT NULL, term VARCHAR, enterprise_key VARCHAR NOT NULL);
CREATE TABLE name_gram_counts (g BIGINT NOT NULL, n BIGINT NOT NULL);
CREATE TABLE name_index_state (
    covered_batch BIGINT NOT NULL,   -- every registry row of a batch up to this one is indexed
    full_rows BIGINT NOT NULL,       -- registry rows indexed by the last full build
    tail_rows BIGINT NOT NULL,       -- registry rows indexed since, appended
    built_at TIMESTAMP NOT NULL
);
"""


def create_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Migration ``core.0007_name_index``: the tables, empty (not built yet)."""
    for stmt in INDEX_DDL.split(";"):
        if stmt.strip():
            run(con, stmt)


# -- building ----------------------------------------------------------------


def grams_sql(where: str, max_len: int, source: str = "registry_rows") -> str:
    """SQL for the (g, term, enterprise_key) rows of the names of ``source`` rows matching ``where``."""
    return f"""
        WITH n AS (SELECT enterprise_key, lower(name) AS s FROM {source}
                   WHERE name IS NOT NULL AND {where})
        SELECT unicode(substr(s, i, 1))::BIGINT * {GRAM_SHIFT}
               + coalesce(unicode(nullif(substr(s, i + 1, 1), '')), 0) AS g,
               NULL::VARCHAR AS term, enterprise_key
        FROM n, range(1, {max(int(max_len), 1) + 1}) r(i) WHERE i <= length(s)"""


def codes_sql(where: str) -> str:
    """SQL for the code rows of registry rows matching ``where``: USCC, registration number."""
    return f"""
        SELECT {USCC_G}::BIGINT AS g, upper(uscc) AS term, enterprise_key FROM registry_rows
        WHERE uscc IS NOT NULL AND {where}
        UNION ALL
        SELECT {REG_NO_G}::BIGINT, reg_no, enterprise_key FROM registry_rows
        WHERE reg_no IS NOT NULL AND {where}"""


def _insert_names(con: duckdb.DuckDBPyConnection, where: str) -> None:
    """The whole names of registry rows matching ``where`` (g = -3), stored by key.

    An insert of their own: one sort by key costs 7 s less at 10M than a sort of
    all codes whose order depends on ``g``.
    """
    run(
        con,
        f"INSERT INTO name_grams SELECT {KEY_G}::BIGINT, lower(name), enterprise_key "
        f"FROM registry_rows WHERE {where} ORDER BY enterprise_key",
    )


def _state(con: duckdb.DuckDBPyConnection) -> tuple[int, int, int] | None:
    row = fetch_one(con, "SELECT covered_batch, full_rows, tail_rows FROM name_index_state")
    return (int(row[0]), int(row[1]), int(row[2])) if row else None


def _built_state(con: duckdb.DuckDBPyConnection) -> tuple[int, int, int] | None:
    """``_state``, or None on a warehouse opened read-only before migration ``core.0007``
    ran: asked first, since a failed query would end the caller's read transaction."""
    have = fetch_one(
        con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'name_index_state'"
    )
    return _state(con) if have and have[0] else None


def covered_batch(con: duckdb.DuckDBPyConnection) -> int | None:
    """The last batch whose registry rows are indexed, or None when the index is not built."""
    st = _built_state(con)
    return None if st is None else st[0]


def refresh(con: duckdb.DuckDBPyConnection, *, full: bool = False) -> dict[str, Any]:
    """Index the registry rows loaded since the last refresh, in one transaction.

    A full build when asked (``full``), when there is none yet, or when the rows
    appended since the last one would pass ``REBUILD_SHARE`` of it; otherwise the
    new rows' entries are appended. Returns ``{"mode": "full"|"append"|"current", "rows": n, "seconds": s}``.

    >>> refresh(con)["mode"]
    'full'
    """
    t0 = time.perf_counter()
    with transaction(con):
        top_row = fetch_one(con, "SELECT max(batch_id) FROM registry_rows")
        top = int(top_row[0]) if top_row and top_row[0] is not None else 0
        st = None if full else _state(con)
        covered = st[0] if st else 0
        where = f"batch_id > {covered} AND batch_id <= {top}"
        stats = fetch_one(
            con, f"SELECT count(*), max(length(name)) FROM registry_rows WHERE {where}"
        )
        assert stats is not None  # an aggregate returns one row
        new_rows, max_len = int(stats[0]), int(stats[1] or 0)
        if st is None or st[2] + new_rows > REBUILD_SHARE * max(st[1], 1):
            mode = "full"
            rows = _full_build(con, top)
            run(con, "INSERT INTO name_index_state VALUES (?, ?, 0, now())", [top, rows])
        elif new_rows == 0:
            mode, rows = "current", 0
            run(
                con, "UPDATE name_index_state SET covered_batch = greatest(covered_batch, ?)", [top]
            )
        else:
            mode, rows = "append", new_rows
            _insert_names(con, where)
            _insert_sorted(con, f"{grams_sql(where, max_len)} UNION ALL {codes_sql(where)}")
            run(
                con,
                f"INSERT INTO name_gram_counts SELECT g, count(*) FROM ({grams_sql(where, max_len)}) "
                "GROUP BY g",
            )
            run(
                con,
                "UPDATE name_index_state SET covered_batch = ?, tail_rows = tail_rows + ?",
                [top, new_rows],
            )
    return {"mode": mode, "rows": rows, "seconds": round(time.perf_counter() - t0, 3)}


def _insert_sorted(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    run(con, f"INSERT INTO name_grams SELECT * FROM ({sql}) ORDER BY g, term, enterprise_key")


def forget(con: duckdb.DuckDBPyConnection) -> None:
    """Drop what the index holds: search reads every name until ``refresh`` builds it anew."""
    for table in ("name_grams", "name_gram_counts", "name_index_state"):
        ddl = table_ddl(con, table)
        run(con, f"DROP TABLE {table}")
        run(con, ddl)


def _full_build(con: duckdb.DuckDBPyConnection, top: int) -> int:
    """Index every registry row up to batch ``top`` from scratch; return how many rows."""
    where = f"batch_id <= {top}"
    stats = fetch_one(
        con,
        f"SELECT count(*), max(length(name)), sum(length(name)) FROM registry_rows WHERE {where}",
    )
    assert stats is not None
    rows, max_len, chars = int(stats[0]), int(stats[1] or 0), int(stats[2] or 0)
    forget(con)  # emptied by recreating the tables: no deletes to store
    _insert_names(con, where)  # g < 0: before every gram
    _insert_sorted(con, codes_sql(where))
    grams = grams_sql(where, max_len)
    parts = max(1, -(-chars // PART_GRAMS))
    bounds: list[int] = []
    if parts > 1:
        # Part bounds from a sample of names: each part's sort holds ~PART_GRAMS rows.
        qs = ", ".join(f"{i / parts}" for i in range(1, parts))
        sample = grams_sql(where, max_len, "(SELECT * FROM registry_rows USING SAMPLE 50000 ROWS)")
        row = fetch_one(con, f"SELECT quantile_disc(g, [{qs}]) FROM ({sample})")
        bounds = sorted({int(b) for b in (row[0] if row and row[0] else [])})
    edges: list[int | None] = [None, *bounds, None]
    for lo, hi in zip(edges, edges[1:], strict=False):
        cond = " AND ".join(
            c
            for c in (f"g >= {lo}" if lo is not None else "", f"g < {hi}" if hi is not None else "")
            if c
        )
        _insert_sorted(con, f"SELECT * FROM ({grams}) WHERE {cond or 'TRUE'}")
    run(
        con,
        "INSERT INTO name_gram_counts SELECT g, count(*) FROM name_grams WHERE g >= 0 GROUP BY g",
    )
    return rows


# -- searching ---------------------------------------------------------------


@dataclass
class _Source:
    """One kind of index entry whose candidates are read in key order, a chunk at a time."""

    sql: str  # selects enterprise_key; parameters: params, then the key after which to read, the limit
    params: list[Any]
    done: bool = False


# A search checks at most this many candidates through the registry's key index
# (~55 us each at 10M) before it reads every name instead.
MAX_CANDIDATES = 2_500
FIRST_CHUNK_FACTOR = 2  # the first chunk: this many candidates per row wanted
# A gram with more rows than RARE is not used alone: the names that also have the
# next rarest grams (with at most INTERSECT_UP_TO rows each) are far fewer
# candidates to check (a whole name at 10M: 89 ms alone, see docs/benchmarks.md).
RARE = 200
INTERSECT_UP_TO = 2_000_000
# A one-character search whose character is in more than this share of the names
# checks enterprises in key order instead of sorting the character's grams.
EVERY_KEY_SHARE = 0.3


def gram_codes(text: str) -> list[int]:
    """The bigram codes of ``text`` (already lower-cased), as ``name_grams.g`` stores them.

    >>> gram_codes("礼宇")
    [65087232903]
    """
    return sorted({ord(a) * GRAM_SHIFT + ord(b) for a, b in zip(text, text[1:], strict=False)})


def _source(where: str, params: Sequence[Any]) -> _Source:
    return _Source(
        f"SELECT enterprise_key FROM name_grams WHERE {where} AND enterprise_key > ? "
        "ORDER BY enterprise_key LIMIT ?",
        list(params),
    )


def _name_source(con: duckdb.DuckDBPyConnection, ql: str, indexed_rows: int) -> _Source:
    """Candidates for names containing ``ql``: the rarest gram's rows (and the next rarest's).

    ``indexed_rows``: registry rows the index holds (all versions, so an upper
    bound of the enterprises).
    """
    if len(ql) == 1:
        lo, hi = ord(ql) * GRAM_SHIFT, (ord(ql) + 1) * GRAM_SHIFT - 1
        row = fetch_one(
            con, "SELECT sum(n) FROM name_gram_counts WHERE g BETWEEN ? AND ?", [lo, hi]
        )
        n = int(row[0]) if row and row[0] is not None else 0
        if n == 0:
            return _Source("", [], done=True)
        if n > EVERY_KEY_SHARE * indexed_rows:
            # In many names: the range's rows span every key and sorting them costs
            # 0.1-0.2 s at 10M; the whole names are stored by key (g = -3), and the
            # top-N's bound skips all but their first row groups.
            return _source(f"g = {KEY_G} AND contains(term, ?)", [ql])
        return _source("g BETWEEN ? AND ?", [lo, hi])
    codes = gram_codes(ql)
    holes = ", ".join("?" for _ in codes)
    counts = dict(
        fetch_all(
            con, f"SELECT g, sum(n) FROM name_gram_counts WHERE g IN ({holes}) GROUP BY g", codes
        )
    )
    if any(counts.get(c, 0) == 0 for c in codes):
        return _Source("", [], done=True)  # a gram no indexed name has: none contains ql
    ranked = sorted(codes, key=lambda c: counts[c])
    if counts[ranked[0]] <= RARE:
        return _source("g = ?", ranked[:1])
    # No gram is rare: candidates are the rarest gram's names that also have the
    # next rarest (up to two more, each read in full, so only if not too common).
    more = [c for c in ranked[1:3] if counts[c] <= INTERSECT_UP_TO]
    also = "".join(
        " AND enterprise_key IN (SELECT enterprise_key FROM name_grams WHERE g = ?)" for _ in more
    )
    return _source(f"g = ?{also}", [ranked[0], *more])


def search(
    con: duckdb.DuckDBPyConnection,
    q: str,
    *,
    columns: str,
    where: str = "TRUE",
    params: Sequence[Any] = (),
    cursor: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]] | None:
    """The first ``limit + 1`` current registry rows after ``cursor`` (by key) that ``q`` finds.

    ``q`` finds a row whose lower-cased name contains lower(q), or, when ``q`` is
    letters and digits only, whose upper-cased USCC starts with upper(q) or whose
    registration number starts with q (``match_sql``). ``columns`` are computed
    over ``registry_rows``; ``where``/``params`` filter further (the actor's scope).
    None when the index cannot answer: not built, or more than ``MAX_CANDIDATES``
    candidates to check (the caller then reads every name).
    """
    st = _built_state(con)
    if st is None:
        return None
    covered = st[0]
    row = fetch_one(con, "SELECT lower(?)", [q])
    ql = str(row[0]) if row else q.lower()
    match, mparams = match_sql(q)
    sources = [_name_source(con, ql, st[1] + st[2])]
    if is_code(q):
        sources += [
            _source(f"g = {USCC_G} AND term >= ? AND term < ?", [q.upper(), q.upper() + TOP]),
            _source(f"g = {REG_NO_G} AND term >= ? AND term < ?", [q, q + TOP]),
        ]
    want = limit + 1
    after = cursor or ""
    cond = f"is_current AND {match} AND {where} AND enterprise_key > ?"
    # Rows of batches the index does not cover yet, read directly: complete up to
    # their last key when fewer than ``want`` came back.
    extra = fetch_dicts(
        con,
        f"SELECT {columns} FROM registry_rows WHERE batch_id > {int(covered)} AND {cond} "
        "ORDER BY enterprise_key LIMIT ?",
        [*mparams, *params, after, want],
    )
    extra_upto = extra[-1]["enterprise_key"] if len(extra) == want else None
    found: dict[str, dict[str, Any]] = {r["enterprise_key"]: r for r in extra}
    chunk, checked = FIRST_CHUNK_FACTOR * want, 0
    pending: set[str] = set()  # candidates read past the last round's bound
    while True:
        upto: str | None = None  # every candidate up to this key has been read
        cands, pending = pending, set()
        for s in sources:
            if s.done:
                continue
            keys = [r[0] for r in fetch_all(con, s.sql, [*s.params, after, chunk])]
            if len(keys) < chunk:
                s.done = True
            elif upto is None or keys[-1] < upto:
                upto = keys[-1]
            cands.update(keys)
        if upto is not None:
            pending = {k for k in cands if k > upto}
            cands -= pending
        if cands:
            checked += len(cands)
            sql = (
                f"WITH k AS MATERIALIZED ({by_keys('registry_rows', 'enterprise_key', len(cands))}) "
                f"SELECT {columns} FROM k WHERE {cond}"
            )
            for r in fetch_dicts(con, sql, [*sorted(cands), *mparams, *params, after]):
                found[r["enterprise_key"]] = r
        bound = min((b for b in (upto, extra_upto) if b is not None), default=None)
        rows = sorted(
            (r for k, r in found.items() if bound is None or k <= bound),
            key=lambda r: r["enterprise_key"],
        )
        if upto is None or len(rows) >= want:
            return rows[:want]
        if checked >= MAX_CANDIDATES:
            return None
        after, chunk = upto, chunk * 4


def is_code(q: str) -> bool:
    """Whether ``q`` may be the start of a USCC or registration number (letters and digits)."""
    return q.isascii() and q.isalnum()


def match_sql(q: str) -> tuple[str, list[Any]]:
    """The search's definition on one registry row, as SQL and its parameters.

    A name is compared lower-cased by DuckDB, as the index stores it; where case
    cannot matter (Chinese, digits) on the name as it is, which reads 11M names
    ~5x faster than folding each one.
    """
    name = "contains(name, ?)" if q.lower() == q.upper() else "contains(lower(name), lower(?))"
    if not is_code(q):
        return name, [q]
    return f"({name} OR starts_with(upper(uscc), ?) OR starts_with(reg_no, ?))", [q, q.upper(), q]
