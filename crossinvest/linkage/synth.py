"""Synthetic registry and tax/stats records with known truth, built in SQL, for tests and benchmarks.

The generator (``crossinvest.generate``) writes delivery files through the
loader; a benchmark of linkage at 10 million enterprises and a million records
without a valid USCC needs them faster than that, straight into the warehouse
tables. Names and noise follow the generator's rules (vocab and
``taxstats.name_variants``): 行政区划 + unique (字号, 行业) + 组织形式; records
spell names with （分公司）, half-width brackets, a trailing space or
有限公司 <-> 有限责任公司, and carry no ID, a mistyped USCC or the legacy
15-character number. Some holdings (集团) share their (字号, 行业) with an
ordinary enterprise, and some records belong to enterprises missing from the
registry: both must not be linked wrongly.

Example (on a warehouse connection)::

    make_registry(con, batch_id=1, n=1000, seed=1)
    make_records(con, "tax", batch_id=2, rows=500, n_enterprises=1000, seed=1)
"""

from __future__ import annotations

import duckdb

from crossinvest.generate.vocab import INDUSTRY_WORDS, TRADE_CHARS_1, TRADE_CHARS_2
from crossinvest.linkage.util import scalar
from crossinvest.warehouse.connection import run

_C1 = "".join(dict.fromkeys(TRADE_CHARS_1))
_C2 = "".join(dict.fromkeys(TRADE_CHARS_2))
_WORDS = list(INDUSTRY_WORDS)
_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_DISTRICTS = [
    "310101",
    "310104",
    "310105",
    "310106",
    "310107",
    "310109",
    "310110",
    "310112",
    "310113",
    "310114",
    "310115",
    "310116",
    "310117",
    "310118",
    "310120",
    "310151",
]
_SHORT = [
    "黄浦",
    "徐汇",
    "长宁",
    "静安",
    "普陀",
    "虹口",
    "杨浦",
    "闵行",
    "宝山",
    "嘉定",
    "浦东",
    "金山",
    "松江",
    "青浦",
    "奉贤",
    "崇明",
]
HOLDING_EVERY = 50  # every 50th enterprise is a holding (集团有限公司)
ABSENT_EVERY = 97  # every 97th generated enterprise is left out of the registry


def _u(seed: int, stream: str, i: str = "i") -> str:
    """A uniform draw in [0, 1) for row ``i`` of ``stream``."""
    return f"((hash({seed}, {i}, '{stream}') % 1000003) / 1000003.0)"


def _list(items: list[str]) -> str:
    return "[" + ", ".join("'" + s + "'" for s in items) + "]"


def _org_code(seed: int) -> str:
    """Nine organisation-code characters: 'MA' and seven random alphabet characters, as issued since 2015."""
    chars = " || ".join(
        f"substr('{_ALPHABET}', 1 + ((hash({seed}, i, 'org') // {31**k}) % 31)::INT, 1)"
        for k in range(7)
    )
    return f"'MA' || {chars}"


def enterprise_sql(n: int, seed: int) -> str:
    """SELECT of ``n`` generated enterprises: i, uscc, name (and parts), region_code, absent flag."""
    n1, n2, nw = len(_C1), len(_C2), len(_WORDS)
    nz = n1 * n2 * n2
    return f"""
    SELECT i, uscc, region_code, absent,
           CASE WHEN style < 0.80 THEN '上海' || trade || word || form
                WHEN style < 0.84 THEN '上海市' || trade || word || form
                WHEN style < 0.92 THEN '上海' || short || trade || word || form
                ELSE trade || '（上海）' || word || form END AS name
    FROM (
        SELECT i,
               substr('{_C1}', 1 + (z // {n2 * n2})::INT, 1) || substr('{_C2}', 1 + ((z // {n2}) % {n2})::INT, 1)
                   || substr('{_C2}', 1 + (z % {n2})::INT, 1) AS trade,
               {_list(_WORDS)}[1 + ((i // {nz} + z * 7) % {nw})::INT] AS word,
               CASE WHEN i % {HOLDING_EVERY} = 0 THEN '集团有限公司'
                    WHEN {_u(seed, "form")} < 0.66 THEN '有限公司'
                    WHEN {_u(seed, "form")} < 0.88 THEN '有限责任公司' ELSE '股份有限公司' END AS form,
               {_u(seed, "style")} AS style,
               {_list(_DISTRICTS)}[1 + (hash({seed}, i, 'district') % {len(_DISTRICTS)})::INT] AS region_code,
               {_list(_SHORT)}[1 + (hash({seed}, i, 'district') % {len(_SHORT)})::INT] AS short,
               '91' || {_list(_DISTRICTS)}[1 + (hash({seed}, i, 'district') % {len(_DISTRICTS)})::INT]
                   || {_org_code(seed)}
                   || substr('{_ALPHABET}', 1 + (hash({seed}, i, 'check') % 31)::INT, 1) AS uscc,
               i % {ABSENT_EVERY} = {ABSENT_EVERY - 1} AS absent
        FROM (
            -- A holding takes the (字号, 行业) of the ordinary enterprise before it half the
            -- time: the same core, told apart only by 集团.
            SELECT i, CASE WHEN i % {HOLDING_EVERY} = 0 AND i > 0 AND hash({seed}, i, 'twin') % 2 = 0
                           THEN ((i - 1) * 7919) % {nz} ELSE (i * 7919) % {nz} END AS z
            FROM range({int(n)}) t(i)
        )
    )
    """


def make_registry(con: duckdb.DuckDBPyConnection, batch_id: int, n: int, seed: int) -> int:
    """Insert the registry rows of ``n`` generated enterprises (minus the absent ones) as one batch."""
    run(
        con,
        f"""
        INSERT INTO registry_rows (batch_id, row_no, is_current, enterprise_key, uscc, name, established_on,
                                   region_code, region_source, status)
        SELECT {int(batch_id)}, i + 1, true, uscc, uscc, name, DATE '2010-01-01', region_code, 'given', '存续'
        FROM ({enterprise_sql(n, seed)}) WHERE NOT absent
        """,
    )
    run(
        con,
        f"""INSERT INTO batches VALUES ({int(batch_id)}, 'registry', 'synthetic-registry', 'x', NULL, 'csv',
                 'utf-8', {n}, {n}, 0, 0, 'loaded', now(), NULL, 0)""",
    )
    return scalar(con, f"SELECT count(*) FROM registry_rows WHERE batch_id = {int(batch_id)}")


def _variant(name: str, k: str) -> str:
    """The generator's four spellings of a name, chosen by ``k`` in 0..3."""
    return f"""CASE {k}
        WHEN 0 THEN {name} || '（分公司）'
        WHEN 1 THEN CASE WHEN contains({name}, '（') THEN replace(replace({name}, '（', '('), '）', ')')
                         ELSE {name} || '(分公司)' END
        WHEN 2 THEN {name} || ' '
        ELSE CASE WHEN ends_with({name}, '股份有限公司') THEN {name} || ' '
                  WHEN ends_with({name}, '有限责任公司') THEN regexp_replace({name}, '有限责任公司$', '有限公司')
                  WHEN ends_with({name}, '有限公司') THEN regexp_replace({name}, '有限公司$', '有限责任公司')
                  ELSE {name} || ' ' END
    END"""


def make_records(
    con: duckdb.DuckDBPyConnection,
    source: str,
    batch_id: int,
    rows: int,
    n_enterprises: int,
    seed: int,
    *,
    valid_share: float = 0.0,
    noise_seed: int | None = None,
) -> None:
    """Insert ``rows`` tax or stats rows of randomly chosen enterprises as one batch.

    Without a valid USCC (1 - ``valid_share`` of rows): a third each no ID, a
    mistyped USCC, the legacy 15-character number; 60% of these spell the name
    differently. The truth goes to table ``synth_truth`` (source, batch_id,
    row_no, record_key, true_key; true_key NULL for absent enterprises).
    ``seed`` must be the registry's (it names the enterprises); ``noise_seed``
    (default ``seed``) draws the rows and their noise.
    """
    b = int(batch_id)
    world, seed = seed, (seed if noise_seed is None else noise_seed)
    mistype_pos = f"(3 + hash({seed}, r, 'pos') % 16)::INT"
    run(
        con,
        f"""
        CREATE OR REPLACE TEMP TABLE synth_rows AS
        SELECT r, e.uscc AS true_uscc, e.absent, e.name AS reg_name, kind,
               CASE kind WHEN 'valid' THEN e.uscc WHEN 'missing' THEN NULL
                         WHEN 'legacy15' THEN substr(e.uscc, 3, 15)
                         ELSE substr(e.uscc, 1, {mistype_pos} - 1)
                              || substr('{_ALPHABET}', 1 + ((strpos('{_ALPHABET}', substr(e.uscc, {mistype_pos}, 1))
                                         + hash({seed}, r, 'val') % 30) % 31)::INT, 1)
                              || substr(e.uscc, {mistype_pos} + 1) END AS id,
               CASE WHEN kind <> 'valid' AND {_u(seed, "variant", "r")} < 0.6
                    THEN {_variant("e.name", f"(hash({seed}, r, 'vk') % 4)")} ELSE e.name END AS name
        FROM (
            SELECT r, (hash({seed}, r, 'ent') % {int(n_enterprises)}) AS i,
                   CASE WHEN {_u(seed, "valid", "r")} < {valid_share} THEN 'valid'
                        ELSE ['missing', 'mistyped', 'legacy15'][1 + (hash({seed}, r, 'kind') % 3)::INT] END AS kind
            FROM range({int(rows)}) t(r)
        ) x
        JOIN ({enterprise_sql(n_enterprises, world)}) e USING (i)
        """,
    )
    key = "coalesce(id, 'N:' || trim(name))"
    if source == "tax":
        run(
            con,
            f"""
            INSERT INTO tax_rows (batch_id, row_no, is_current, taxpayer_key, taxpayer_id, taxpayer_uscc,
                                  taxpayer_name, period, tax_type, tax_type_key, tax_paid_wan)
            SELECT {b}, r + 1, true, {key}, id, CASE WHEN kind = 'valid' THEN id END, trim(name),
                   DATE '2018-01-01' + to_months((r % 12)::INT), '增值税', '增值税',
                   1 + (hash({seed}, r, 'amt') % 1000) / 10.0
            FROM synth_rows
            """,
        )
    else:
        run(
            con,
            f"""
            INSERT INTO stats_rows (batch_id, row_no, is_current, unit_key, uscc, unit_uscc, name, year,
                                    employees, revenue_wan)
            SELECT {b}, r + 1, true, {key}, id, CASE WHEN kind = 'valid' THEN id END, trim(name),
                   2018, 100, 1 + (hash({seed}, r, 'amt') % 1000) / 10.0
            FROM synth_rows
            """,
        )
    run(
        con,
        f"""INSERT INTO batches VALUES ({b}, '{source}', 'synthetic-{source}', 'x{b}', NULL, 'csv', 'utf-8',
                 {rows}, {rows}, 0, 0, 'loaded', now(), NULL, 0)""",
    )
    run(
        con,
        "CREATE TABLE IF NOT EXISTS synth_truth (source VARCHAR, batch_id BIGINT, row_no BIGINT, "
        "record_key VARCHAR, true_key VARCHAR, kind VARCHAR)",
    )
    run(
        con,
        f"""INSERT INTO synth_truth SELECT '{source}', {b}, r + 1, {key},
                   CASE WHEN absent THEN NULL ELSE true_uscc END, kind
            FROM synth_rows WHERE kind <> 'valid'""",
    )
    run(con, "DROP TABLE synth_rows")
