"""Linkage quality on generated deliveries, loaded through the real loader, against the generator's truth."""

from __future__ import annotations

from pathlib import Path

from crossinvest.warehouse.connection import connect
from crossinvest.warehouse.load import load_file

TARGET_PRECISION, TARGET_RECALL = 0.995, 0.98


def link_quality(con, truth_dir: Path) -> dict:
    """Precision/recall of the links of rows without a valid USCC, as the truth files define them.

    A row's link is its record key's auto or accepted link. Rows whose true
    enterprise is not in the registry (its row quarantined) count against
    precision when linked, and are left out of recall.
    """
    parts = []
    for source, table, key in (
        ("tax", "tax_rows", "taxpayer_key"),
        ("stats", "stats_rows", "unit_key"),
    ):
        parts.append(f"""
            SELECT '{source}' AS source, t.true_uscc, l.enterprise_key,
                   t.true_uscc IN (SELECT uscc FROM registry WHERE uscc IS NOT NULL) AS registered
            FROM read_parquet('{truth_dir / f"{source}_links.parquet"}') t
            JOIN batches b ON b.file_name = t.file AND b.source = '{source}' AND b.status = 'loaded'
            JOIN {table} r ON r.batch_id = b.batch_id AND r.row_no = t.row
            LEFT JOIN (SELECT record_key, any_value(enterprise_key) AS enterprise_key FROM record_links
                       WHERE source = '{source}' AND status IN ('auto', 'accepted') GROUP BY 1) l
                   ON l.record_key = r.{key}
            WHERE t.id_kind <> 'fullwidth'
        """)
    rows = con.execute(
        f"""
        SELECT count(enterprise_key), count(*) FILTER (enterprise_key = true_uscc),
               count(*) FILTER (registered), count(*)
        FROM ({" UNION ALL ".join(parts)})
        """
    ).fetchall()[0]
    linked, correct, registered, total = rows
    queue = con.execute("SELECT count(*) FROM record_links WHERE status = 'review'").fetchall()[0][
        0
    ]
    return {
        "precision": correct / max(linked, 1),
        "recall": correct / max(registered, 1),
        "rows": total,
        "linked": linked,
        "review_queue": queue,
    }


def test_generated_deliveries_meet_the_targets(home, tmp_path):
    from crossinvest.generate import generate

    out = generate(tmp_path / "gen", enterprises=3000, seed=5)
    with connect(home) as wh:
        for source in ("registry", "tax", "stats"):
            for path in out.paths(source):
                load_file(wh, source, path)
        q = link_quality(wh.con, out.truth_dir)
    assert q["rows"] > 200
    assert q["precision"] >= TARGET_PRECISION, q
    assert q["recall"] >= TARGET_RECALL, q


def test_records_loaded_before_the_registry_are_linked_by_the_registry_load(home, tmp_path):
    from crossinvest.generate import generate

    out = generate(tmp_path / "gen", enterprises=1000, seed=9)
    with connect(home) as wh:
        for path in out.paths("tax"):
            load_file(wh, "tax", path)
        assert wh.con.execute("SELECT count(*) FROM record_links").fetchall()[0][0] == 0
        for path in out.paths("registry"):
            load_file(wh, "registry", path)
        q = link_quality(wh.con, out.truth_dir)
    assert q["precision"] >= TARGET_PRECISION, q
    assert q["recall"] >= TARGET_RECALL, q
