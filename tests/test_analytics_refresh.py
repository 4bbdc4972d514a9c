"""Materialised statistics stay equal to a cold recompute after each load and rollback.

A warehouse with holdings, a cycle, persons and outbound enterprises is built;
then deliveries (registry, shareholders, tax, stats) are simulated the way the
loader writes them (superseded rows lose ``is_current``) and the plugin's
``after_load`` runs inside the transaction; then each is rolled back and
``after_rollback`` runs. After every step the served figures must equal the
figures computed from the raw tables, and the materialised tables must equal a
full rebuild.
"""

from __future__ import annotations

import itertools

import pytest

from crossinvest.analytics import materialize, measures, plugin, query, refresh, subsets
from crossinvest.analytics.tables import get_state
from crossinvest.warehouse.batches import Batch
from crossinvest.warehouse.connection import fetch_all, run, transaction
from crossinvest.warehouse.schema import FILL_INVESTOR_USCC
from tests.test_analytics_world import World, mk_uscc

SH = [mk_uscc("310115", i) for i in range(1, 9)]
ZJ, JS, GD = mk_uscc("330106", 50), mk_uscc("320106", 51), mk_uscc("440305", 52)
OUT = [mk_uscc("330106", 60), mk_uscc("653125", 61)]
NEW = mk_uscc("310104", 70)

COMBOS = [
    (kind, by, pen, persons, period)
    for kind, by in [
        ("inbound", "origin_province"),
        ("inbound", "district"),
        ("inbound", "origin_prefecture"),
        ("outbound", "dest_province"),
        ("outbound", "district"),
    ]
    for pen, persons in itertools.product((False, True), (False, True))
    for period in ("2018", "2018Q3", "2018-02")
]


def build(w: World) -> None:
    for i, key in enumerate(SH):
        w.ent(key, capital=100.0 * (i + 1), established="2015-01-01" if i != 3 else "2018-05-01")
    w.holder(SH[0], "zj", uscc=ZJ, subscribed=30, share=0.3)
    w.holder(SH[0], "sh1", uscc=SH[1], subscribed=70, share=0.7)
    w.holder(SH[1], "js", uscc=JS, subscribed=100, share=0.5)
    w.holder(SH[1], "sh2", uscc=SH[2], subscribed=100, share=0.5)
    w.holder(SH[2], "sh1", uscc=SH[1], subscribed=150, share=0.5)  # cycle SH1 <-> SH2
    w.holder(SH[2], "gd", uscc=GD, subscribed=150, share=0.5)
    w.holder(SH[3], "person", person_division="330106", subscribed=400, share=1.0)
    w.holder(SH[4], "js", uscc=JS, subscribed=500, share=1.0)
    w.ent(OUT[0], region="330106", capital=80)
    w.ent(OUT[1], region="653125", capital=90)
    w.holder(OUT[0], "sh5", uscc=SH[5], subscribed=80, share=1.0)
    w.holder(OUT[1], "sh6", uscc=SH[6], subscribed=45, share=0.5)
    for i, key in enumerate(SH[:5]):
        w.tax(key, "2018-02", 1.0 + i)
        w.tax(key, "2018-08", 10.0 + i)
    w.stat(SH[0], 2018, 1000.0, 10)
    w.stat(OUT[1], 2018, 50.0, 5)


# Live (cold) answers are slow to plan on a tiny warehouse: compare a representative subset.
LIVE_COMBOS = [
    (kind, by, pen, persons, "2018")
    for kind, by in [
        ("inbound", "origin_province"),
        ("inbound", "district"),
        ("outbound", "dest_province"),
        ("outbound", "district"),
    ]
    for pen, persons in itertools.product((False, True), (False, True))
] + [
    ("inbound", "origin_prefecture", True, True, "2018-02"),
    ("inbound", "origin_province", True, False, "2018Q3"),
]


def answers(con, live: bool, combos=None) -> dict:
    out = {}
    for kind, by, pen, persons, period in combos or COMBOS:
        r = query.stats(con, kind, period, [by], penetrate=pen, include_persons=persons, live=live)
        assert r.served_from == ("live" if live else "cube")
        out[(kind, by, pen, persons, period)] = (r.rows, r.total)
    return out


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        rows_a, tot_a = a[k]
        rows_b, tot_b = b[k]
        assert len(rows_a) == len(rows_b), k
        for ra, rb in zip([*rows_a, tot_a], [*rows_b, tot_b], strict=True):
            assert ra.keys() == rb.keys(), k
            for f in ra:
                if isinstance(ra[f], float):
                    assert ra[f] == pytest.approx(rb[f], rel=1e-9, abs=1e-9), (k, f)
                else:
                    assert ra[f] == rb[f], (k, f)


TABLES = {
    "investor_origins": "* EXCLUDE (appended)",
    "an_enterprises": "*",
    "an_groups": "kind, enterprise_key, origin_code, via_person, penetrate, round(investment_wan, 6), round(share, 9)",
    "an_groups_by_key": "kind, enterprise_key, origin_code, via_person, penetrate, round(investment_wan, 6), round(share, 9)",
    "an_pen_edges": "side, child_key, parent_key, round(share, 9)",
    "an_pen_start": "side, start_key, origin_code, via_person, round(share9, 9), round(share10, 9), n9, n10",
    "an_yearly": "enterprise_key, year, "
    + ", ".join(f"round(t{m:02d}, 6)" for m in range(1, 13))
    + ", round(revenue_wan, 6), employees",
}
MONTHS = ", ".join(f"round(sum(t{m:02d}), 6)" for m in range(1, 13))
CUBE = f"""SELECT kind, level, mask, o_prov, o_pref, o_dist, e_region, e_div, e_sec, est_b, end_b, src, tm,
                 sum(n), round(sum(inv0), 6), round(sum(inv1), 6), round(sum(inv2), 6), round(sum(inv3), 6),
                 {MONTHS}, round(sum(rev), 6), sum(emp)
          FROM an_cube GROUP BY ALL ORDER BY ALL"""


def snapshot(con) -> dict:
    snap = {
        t: sorted(fetch_all(con, f"SELECT {cols} FROM {t}"), key=repr) for t, cols in TABLES.items()
    }
    # Rows a merge left empty (sums cancelled to 0) are not figures: drop them.
    for cube in ("an_cube", "an_cube_r0", "an_cube_r1", "an_cube_r2"):
        snap[cube] = [
            r for r in fetch_all(con, CUBE.replace("an_cube", cube)) if r[13] or any(r[18:])
        ]
    return snap


def assert_tables_equal_full_rebuild(con) -> None:
    incremental = snapshot(con)
    run(con, "BEGIN TRANSACTION")
    try:
        materialize.rebuild_all(con)
        full = snapshot(con)
    finally:
        run(con, "ROLLBACK")
    for t in incremental:
        assert incremental[t] == full[t], t
    assert incremental["an_groups_by_key"] == incremental["an_groups"]


def appended_origins(con) -> list[str]:
    """The enterprises of the investor_origins rows refreshes appended, in storage order.

    Checks that they follow the rebuild's rows and are stored as one run by ``eh``.
    """
    rows = fetch_all(
        con, "SELECT appended, eh, enterprise_uscc FROM investor_origins ORDER BY rowid"
    )
    flags = [bool(r[0]) for r in rows]
    first = flags.index(True) if True in flags else len(flags)
    assert all(flags[first:]), "rebuild rows after appended ones"
    ehs = [r[1] for r in rows[first:]]
    assert ehs == sorted(ehs), "the appended rows are not one run in eh order"
    return [r[2] for r in rows[first:]]


def sorted_tail(con, table: str) -> list[str]:
    """The keys of ``table``'s rows after its rebuild body, in storage order; checks they are one sorted run."""
    body = int(get_state(con)[f"body:{table}"])
    keys = [
        r[0]
        for r in fetch_all(
            con, f"SELECT enterprise_key FROM {table} WHERE rowid >= {body} ORDER BY rowid"
        )
    ]
    assert keys == sorted(keys), f"{table}: the rows refreshes appended are not one run by key"
    return keys


def deliver(con, batch: int, source: str, sql: list[str], supersede: list[str] = ()) -> str:
    with transaction(con):
        for s in supersede:
            run(con, s)
        for s in sql:
            run(con, s)
        plugin.after_load(con=con, batch=Batch(batch, source, f"{source}.csv", "x" * 64))
        return refresh_mode(con, batch)


def refresh_mode(con, batch: int) -> str:
    rows = fetch_all(con, "SELECT enterprise_key FROM an_batch_touch WHERE batch_id = ?", [batch])
    return "full" if any(r[0] is None for r in rows) else "incremental"


def undo(con, batch: int, source: str, table: str, restore: list[str] = ()) -> None:
    with transaction(con):
        run(con, f"DELETE FROM {table} WHERE batch_id = {batch}")
        for s in restore:
            run(con, s)
        plugin.after_rollback(con=con, batch=Batch(batch, source, f"{source}.csv", "x" * 64))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("refresh") / "home")
    build(w)
    w.rebuild()
    yield w
    w.close()


def test_initial_build_serves_the_same_figures_as_the_raw_tables(world):
    assert_same(
        answers(world.con, live=False, combos=LIVE_COMBOS),
        answers(world.con, live=True, combos=LIVE_COMBOS),
    )


def test_loads_and_rollbacks_stay_equal_to_a_cold_recompute(world):
    con = world.con
    before = answers(con, live=False)

    # 1. registry: a new Shanghai enterprise, and SH[2] moves to 广东 (it stops being a
    #    Shanghai holding: penetration below it changes, and rule 2 of its holders' rows).
    mode = deliver(
        con,
        2,
        "registry",
        supersede=[f"UPDATE registry_rows SET is_current = false WHERE enterprise_key = '{SH[2]}'"],
        sql=[
            f"""INSERT INTO registry_rows (batch_id, row_no, is_current, enterprise_key, uscc, name, established_on,
                   registered_capital_wan, region_code, region_source, industry_code, industry_section, status)
                VALUES (2, 1, true, '{NEW}', '{NEW}', '新企业', DATE '2018-03-01', 300, '310104', 'given', '6513',
                        'I', '存续'),
                       (2, 2, true, '{SH[2]}', '{SH[2]}', '迁出', DATE '2015-01-01', 300, '440305', 'given',
                        '6513', 'I', '存续')""",
        ],
    )
    assert mode == "incremental"
    after_registry = answers(con, live=False)
    tail_after_registry = appended_origins(con)
    pen = [c for c in LIVE_COMBOS if c[2]]
    assert_same(answers(con, live=False, combos=pen), answers(con, live=True, combos=pen))
    assert_tables_equal_full_rebuild(con)
    assert after_registry != before  # the move changed figures

    # 2. shareholders: NEW gets a 江苏 and a SH[0] holder; SH[4]'s 江苏 holder is corrected.
    mode = deliver(
        con,
        3,
        "shareholders",
        supersede=[
            f"UPDATE shareholders_rows SET is_current = false WHERE enterprise_uscc = '{SH[4]}'"
        ],
        sql=[
            f"""INSERT INTO shareholders_rows (batch_id, row_no, is_current, enterprise_uscc, investor_key,
                   investor_name, investor_type, investor_id, is_person, subscribed_capital_wan, share_ratio)
                VALUES (3, 1, true, '{NEW}', '{JS}', 'js', '企业法人', '{JS}', false, 120, 0.4),
                       (3, 2, true, '{NEW}', '{SH[0]}', 'sh0', '企业法人', '{SH[0]}', false, 180, 0.6),
                       (3, 3, true, '{SH[4]}', '{JS}', 'js', '企业法人', '{JS}', false, 250, 0.5)""",
            FILL_INVESTOR_USCC,
        ],
    )
    assert mode == "incremental"
    assert_tables_equal_full_rebuild(con)
    # Both refreshes' rows are one run after the rebuild's body, in eh order.
    tail = appended_origins(con)
    assert tail_after_registry and set(tail_after_registry) <= set(tail)
    assert {NEW, SH[4]} <= set(tail)
    # So are an_enterprises' and an_yearly's, by key (materialize.sort_tails).
    ents = sorted_tail(con, "an_enterprises")
    assert {NEW, SH[4]} <= set(ents) and len(ents) > 2
    assert {NEW, SH[4]} <= set(sorted_tail(con, "an_groups_by_key"))

    # 3. tax and stats deliveries (measures only)
    deliver(
        con,
        4,
        "tax",
        sql=[
            f"""INSERT INTO tax_rows (batch_id, row_no, is_current, taxpayer_key, taxpayer_id, taxpayer_uscc,
               taxpayer_name, period, tax_type, tax_type_key, tax_paid_wan)
            VALUES (4, 1, true, '{NEW}', '{NEW}', '{NEW}', 'x', DATE '2018-08-01', '增值税', '增值税', 7.5),
                   (4, 2, true, '{SH[1]}', '{SH[1]}', '{SH[1]}', 'y', DATE '2018-09-01', '增值税', '增值税', 2.25)""",
        ],
    )
    deliver(
        con,
        5,
        "stats",
        sql=[
            f"""INSERT INTO stats_rows (batch_id, row_no, is_current, unit_key, uscc, unit_uscc, name, year,
               employees, revenue_wan)
            VALUES (5, 1, true, '{SH[1]}', '{SH[1]}', '{SH[1]}', 'y', 2018, 7, 70.0)""",
        ],
    )
    assert refresh_mode(con, 4) == refresh_mode(con, 5) == "incremental"
    assert_tables_equal_full_rebuild(con)
    assert {NEW, SH[1]} <= set(sorted_tail(con, "an_yearly"))
    assert set(ents) <= set(sorted_tail(con, "an_enterprises"))

    # Roll everything back, newest first: figures return to what they were.
    undo(con, 5, "stats", "stats_rows")
    undo(con, 4, "tax", "tax_rows")
    undo(
        con,
        3,
        "shareholders",
        "shareholders_rows",
        restore=[
            f"UPDATE shareholders_rows SET is_current = true WHERE enterprise_uscc = '{SH[4]}'"
        ],
    )
    assert_tables_equal_full_rebuild(con)
    undo(
        con,
        2,
        "registry",
        "registry_rows",
        restore=[f"UPDATE registry_rows SET is_current = true WHERE enterprise_key = '{SH[2]}'"],
    )
    assert_same(answers(con, live=False), before)
    assert_tables_equal_full_rebuild(con)


def test_a_large_delivery_rebuilds_everything_and_so_does_its_rollback(world):
    con = world.con
    before = answers(con, live=False)
    keys = [mk_uscc("310106", 500 + i) for i in range(1100)]  # more than the 1,000 floor
    with transaction(con):
        con.executemany(
            """INSERT INTO registry_rows (batch_id, row_no, is_current, enterprise_key, uscc, name, established_on,
                   region_code, status) VALUES (9, ?, true, ?, ?, 'x', DATE '2010-01-01', '310106', '存续')""",
            [[i, k, k] for i, k in enumerate(keys)],
        )
        con.executemany(
            """INSERT INTO shareholders_rows (batch_id, row_no, is_current, enterprise_uscc, investor_key,
                   investor_name, investor_id, is_person, subscribed_capital_wan)
               VALUES (9, ?, true, ?, ?, 'gd', ?, false, 1.0)""",
            [[i, k, GD, GD] for i, k in enumerate(keys)],
        )
        run(con, FILL_INVESTOR_USCC)
        assert refresh.refresh_for_batch(con, 9, "registry", rolled_back=False) == "full"
    r = query.stats(con, "inbound", "2018", ["origin_province"])
    gd = {x["origin_province"]: x for x in r.rows}["440000"]
    assert gd["enterprises"] == 1 + 1100  # SH[2]'s 广东 holder, and the new ones
    with transaction(con):
        run(con, "DELETE FROM registry_rows WHERE batch_id = 9")
        run(con, "DELETE FROM shareholders_rows WHERE batch_id = 9")
        assert refresh.refresh_for_batch(con, 9, "registry", rolled_back=True) == "full"
    assert_same(answers(con, live=False), before)


def test_an_accepted_link_outside_a_load_refreshes_the_figures(world):
    con = world.con
    before = query.stats(con, "inbound", "2018", ["origin_province"]).total["tax_wan"]
    with transaction(con):
        run(
            con,
            """INSERT INTO tax_rows (batch_id, row_no, is_current, taxpayer_key, taxpayer_id, taxpayer_uscc,
                   taxpayer_name, period, tax_type, tax_type_key, tax_paid_wan)
               VALUES (77, 1, true, 'N:无代码纳税人', NULL, NULL, '无代码纳税人', DATE '2018-04-01', '增值税',
                       '增值税', 4.0)""",
        )
        # An analyst ties the record to SH[0] (an inbound enterprise) and accepts it.
        run(
            con,
            f"""INSERT INTO record_links (source, record_key, enterprise_key, method, weight, status, reviewer,
                    decided_at, batch_id)
                VALUES ('tax', 'N:无代码纳税人', '{SH[0]}', 'manual', NULL, 'accepted', 'analyst', now(), NULL)""",
        )
        refresh.refresh_for_enterprises(con, [SH[0]], measures_only=True)
    after = query.stats(con, "inbound", "2018", ["origin_province"])
    assert after.total["tax_wan"] == pytest.approx(before + 4.0)
    live = query.stats(con, "inbound", "2018", ["origin_province"], live=True)
    assert after.total == {k: pytest.approx(v) for k, v in live.total.items()}


def test_a_newly_registered_uscc_takes_its_records_from_their_link(world):
    """A record with a valid USCC not in the registry counts for the enterprise
    record_links ties it to, until that USCC is registered: then it is the new
    enterprise's, and the linked enterprise (not itself in the delivery) loses it."""
    con = world.con
    u = mk_uscc("310115", 90)
    with transaction(con):
        world.tax(u, "2018-05", 9.0, batch=80)
        run(
            con,
            f"""INSERT INTO record_links (source, record_key, enterprise_key, method, weight, status, reviewer,
                    decided_at, batch_id)
                VALUES ('tax', '{u}', '{SH[1]}', 'splink', 12.0, 'auto', NULL, NULL, 80)""",
        )
        refresh.refresh_for_enterprises(con, [SH[1]], measures_only=True)
    linked = fetch_all(con, f"SELECT enterprise_key FROM tax_linked WHERE taxpayer_key = '{u}'")
    assert linked == [(SH[1],)]
    assert_tables_equal_full_rebuild(con)
    sh1_before = fetch_all(con, f"SELECT t05 FROM an_yearly WHERE enterprise_key = '{SH[1]}'")

    mode = deliver(
        con,
        81,
        "registry",
        sql=[
            f"""INSERT INTO registry_rows (batch_id, row_no, is_current, enterprise_key, uscc, name,
                   established_on, registered_capital_wan, region_code, region_source, status)
                VALUES (81, 1, true, '{u}', '{u}', '登记了', DATE '2016-01-01', 50, '310115', 'given', '存续')""",
        ],
    )
    assert mode == "incremental"
    assert fetch_all(con, f"SELECT enterprise_key FROM tax_linked WHERE taxpayer_key = '{u}'") == [
        (u,)
    ]
    sh1_after = fetch_all(con, f"SELECT t05 FROM an_yearly WHERE enterprise_key = '{SH[1]}'")
    assert (sh1_after[0][0] or 0) == pytest.approx((sh1_before[0][0] or 0) - 9.0)
    assert_tables_equal_full_rebuild(con)


def test_restricted_linked_rows_equal_the_linked_views(world):
    con = world.con
    keys = [SH[0], SH[1], SH[2], mk_uscc("310115", 90), "no-such-enterprise"]
    run(con, "CREATE OR REPLACE TEMP TABLE _t_keys (enterprise_key VARCHAR)")
    con.executemany("INSERT INTO _t_keys VALUES (?)", [[k] for k in keys])
    for source in ("tax", "stats"):
        name = subsets.restrict_linked(con, source, "_t_keys")
        ours = fetch_all(con, f"SELECT * FROM {name}")
        view = fetch_all(
            con,
            f"SELECT * FROM {source}_linked WHERE enterprise_key IN (SELECT enterprise_key FROM _t_keys)",
        )
        assert ours, source
        assert sorted(ours, key=repr) == sorted(view, key=repr), source


def test_the_full_build_of_yearly_rows_in_parts_gives_the_same_rows(world, monkeypatch):
    con = world.con

    def yearly() -> list:
        return sorted(fetch_all(con, f"SELECT {TABLES['an_yearly']} FROM an_yearly"), key=repr)

    def stored_keys() -> list[str]:
        return [r[0] for r in fetch_all(con, "SELECT enterprise_key FROM an_yearly ORDER BY rowid")]

    run(con, "BEGIN TRANSACTION")
    try:
        materialize.rebuild_all(con)
        whole, whole_order = yearly(), stored_keys()
        monkeypatch.setattr(measures, "MEASURE_PART_KEYS", 2)  # several parts
        materialize.rebuild_all(con)
        in_parts, parts_order = yearly(), stored_keys()
    finally:
        run(con, "ROLLBACK")
    assert len(whole) >= 5
    assert in_parts == whole
    # Stored in key order either way (an enterprise list's page reads few row groups).
    assert whole_order == sorted(whole_order) and parts_order == sorted(parts_order)


def test_a_registry_batch_relinks_only_new_enterprises_and_changed_usccs(world):
    con = world.con
    new, regno, u = mk_uscc("310115", 91), "R:3101150000092", mk_uscc("310115", 92)
    ins = """INSERT INTO registry_rows (batch_id, row_no, is_current, enterprise_key, uscc, name,
                 established_on, region_code, status) VALUES (?, ?, ?, ?, ?, 'x', DATE '2016-01-01', '310115', '存续')"""
    run(con, "BEGIN TRANSACTION")
    try:
        con.execute(ins, [95, 1, False, regno, None])  # registered first without a USCC
        run(con, f"UPDATE registry_rows SET is_current = false WHERE enterprise_key = '{SH[0]}'")
        for row_no, (key, uscc) in enumerate([(SH[0], SH[0]), (new, new), (regno, u)], start=1):
            con.execute(ins, [96, row_no, True, key, uscc])
        relinked = {r[0] for r in fetch_all(con, refresh.relinked_sql(96))}
    finally:
        run(con, "ROLLBACK")
    # SH[0] is delivered again with the same USCC: its records stay where they are.
    assert relinked == {new, regno}
