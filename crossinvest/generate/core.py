"""``generate()``: stream a synthetic world into delivery files, chunk by chunk.

Chunks are built (optionally in worker processes, see ``workers``) by
``chunk.build_chunk`` and written in order by :class:`Deliveries`, which alone
injects noise and numbers rows, so the output does not depend on ``workers``.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from crossinvest.generate.chunk import ENT_SCHEMA, ChunkData, build_chunk, init_worker, work
from crossinvest.generate.files import (
    XLSX_MAX_ENTERPRISES,
    DelimitedWriter,
    XlsxRegistryWriter,
    headers,
    positions,
)
from crossinvest.generate.noise import FileLog, apply_noise, log_repeats
from crossinvest.generate.parties import PartyPools
from crossinvest.generate.population import Population
from crossinvest.generate.registry import (
    REGISTRY_DEFECTS,
    REGISTRY_FIELDS,
    REGISTRY_WARNINGS,
    SHAREHOLDER_DEFECTS,
    SHAREHOLDER_FIELDS,
    SHAREHOLDER_WARNINGS,
    formula_cells,
)
from crossinvest.generate.tax_files import TaxFiles
from crossinvest.generate.taxstats import (
    ID_FULLWIDTH,
    ID_KINDS,
    ID_VALID,
    STATS_DEFECTS,
    STATS_FIELDS,
    blanked,
)

CHUNK = 100_000
MANIFEST_FORMAT = "crossinvest-generate/1"
TRUTH_FILES = ("manifest.json", "enterprises.parquet", "tax_links.parquet", "stats_links.parquet")

Progress = Callable[[str, int, int], None]

LINK_SCHEMA = pa.schema(
    [
        ("file", pa.string()),
        ("row", pa.int64()),
        ("true_uscc", pa.string()),
        ("id_kind", pa.string()),
        ("delivered_id", pa.string()),
        ("delivered_name", pa.string()),
    ]
)


@dataclass
class GeneratedFile:
    path: Path
    source: str
    rows: int


@dataclass
class GenerateResult:
    """What ``generate`` wrote: delivery files with their source and data-row count."""

    out_dir: Path
    files: list[GeneratedFile]
    manifest: Path
    truth_dir: Path
    enterprises: int
    seconds: float
    counts: dict = field(default_factory=dict)

    def paths(self, source: str) -> list[Path]:
        return [f.path for f in self.files if f.source == source]


class LinkTruth:
    """truth/<source>_links.parquet: every row without a valid USCC, with the true one.

    A full-width USCC is valid once folded to half-width (data-interface.md), so
    such rows are not listed.
    """

    def __init__(self, path: Path) -> None:
        self.writer = pq.ParquetWriter(str(path), LINK_SCHEMA)
        self.rows = 0

    def add(
        self,
        log: FileLog,
        first_row: int,
        columns: dict[str, pa.Array],
        id_field: str,
        name_field: str,
        true_uscc: pa.Array,
        kinds: np.ndarray,
    ) -> None:
        sel = np.flatnonzero((kinds != ID_VALID) & (kinds != ID_FULLWIDTH))
        if len(sel) == 0:
            return
        take = pa.array(sel)
        table = pa.table(
            {
                "file": pa.array([log.file] * len(sel)),
                "row": pa.array(first_row + sel + 1, pa.int64()),
                "true_uscc": true_uscc.take(take),
                "id_kind": pa.array(list(ID_KINDS)).take(pa.array(kinds[sel].astype(np.int64))),
                "delivered_id": columns[id_field].take(take),
                "delivered_name": columns[name_field].take(take),
            },
            schema=LINK_SCHEMA,
        )
        self.writer.write_table(table)
        self.rows += len(sel)
        log.truth_rows += len(sel)

    def close(self) -> None:
        self.writer.close()


def generate(
    out_dir: Path,
    *,
    enterprises: int = 20000,
    seed: int = 42,
    year: int = 2018,
    noise: bool = True,
    formats: str = "mixed",
    progress: Progress | None = None,
    workers: int = 1,
) -> GenerateResult:
    """Write synthetic bureau deliveries for ``enterprises`` enterprises into ``out_dir``.

    Files: registry.xlsx (formats='mixed' and at most 50,000 enterprises) or
    registry.csv, shareholders.csv, tax_<year>Q1..Q4.csv (+ tax_<year>_correction.csv
    with noise), stats.tsv, and truth/ (manifest.json, enterprises.parquet,
    tax_links.parquet, stats_links.parquet). The same arguments give
    byte-identical files, whatever ``workers`` (processes building chunks).

    >>> r = generate(Path("/tmp/ci-gen-doctest"), enterprises=200, noise=False, formats="csv")
    >>> sorted(f.source for f in r.files)
    ['registry', 'shareholders', 'stats', 'tax', 'tax', 'tax', 'tax']
    """
    if formats not in ("mixed", "csv"):
        raise ValueError(f"不支持的文件格式组合：{formats}（可选 mixed 或 csv）")
    if not 2000 <= year <= 2100:
        raise ValueError(f"统计年度应在 2000–2100 之间：{year}")
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    (out_dir / "truth").mkdir(parents=True, exist_ok=True)
    _remove_stale(out_dir, year)
    pop = Population(enterprises, seed, year)
    out = Deliveries(
        pop, out_dir, noise, formats == "mixed" and enterprises <= XLSX_MAX_ENTERPRISES
    )
    for chunk in _chunks(pop, noise, workers):
        out.emit(chunk)
        if progress:
            progress("enterprises", chunk.start + chunk.n, pop.n)
    logs = out.close()
    manifest = _manifest(pop, noise, formats, logs, out)
    manifest_path = out_dir / "truth" / "manifest.json"
    manifest_path.write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    files = [GeneratedFile(out_dir / log.file, log.source, log.rows) for log in logs]
    return GenerateResult(
        out_dir,
        files,
        manifest_path,
        out_dir / "truth",
        pop.n,
        time.perf_counter() - t0,
        manifest["counts"],
    )


def _chunks(pop: Population, noise: bool, workers: int) -> Iterator[ChunkData]:
    ranges = [(s, min(pop.n, s + CHUNK), noise) for s in range(0, pop.n, CHUNK)]
    if workers <= 1 or len(ranges) == 1:
        pools = PartyPools(pop)
        for start, stop, _ in ranges:
            yield build_chunk(pop, pools, start, stop, noise)
        return
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=init_worker, initargs=(pop.n, pop.seed, pop.year)
    ) as ex:
        # At most workers + 1 chunks in flight keeps memory bounded.
        pending = [ex.submit(work, r) for r in ranges[: workers + 1]]
        nxt = len(pending)
        while pending:
            chunk = pending.pop(0).result()
            if nxt < len(ranges):
                pending.append(ex.submit(work, ranges[nxt]))
                nxt += 1
            yield chunk


class Deliveries:
    """The open delivery files; writes chunks in order, injecting noise."""

    def __init__(self, pop: Population, out_dir: Path, noise: bool, xlsx: bool) -> None:
        year = pop.year
        self.pop, self.noise, self.xlsx = pop, noise, xlsx
        truth = out_dir / "truth"
        self.reg_log = FileLog(
            "registry.xlsx" if xlsx else "registry.csv",
            "registry",
            "xlsx" if xlsx else "utf-8",
            None if xlsx else ",",
            headers("registry", REGISTRY_FIELDS, "registry" if noise else ""),
            3 if xlsx else 1,
        )
        self.sh_log = FileLog(
            "shareholders.csv",
            "shareholders",
            "utf-8-sig" if noise else "utf-8",
            ",",
            headers("shareholders", SHAREHOLDER_FIELDS, "shareholders" if noise else ""),
            1,
        )
        self.st_log = FileLog(
            "stats.tsv",
            "stats",
            "utf-8",
            "\t",
            headers("stats", STATS_FIELDS, "stats" if noise else ""),
            1,
        )
        if xlsx:
            title = f"{year}年企业登记信息（共享交换）"
            self.reg_w = XlsxRegistryWriter(out_dir / self.reg_log.file, self.reg_log, title, year)
        else:
            free = positions(REGISTRY_FIELDS, ("name", "address"))
            self.reg_w = DelimitedWriter(out_dir / self.reg_log.file, self.reg_log, free)
        self.sh_w = DelimitedWriter(
            out_dir / self.sh_log.file,
            self.sh_log,
            positions(SHAREHOLDER_FIELDS, ("investor_name",)),
        )
        self.st_w = DelimitedWriter(
            out_dir / self.st_log.file, self.st_log, positions(STATS_FIELDS, ("name",))
        )
        self.tax = TaxFiles(pop, out_dir, noise, LinkTruth(truth / "tax_links.parquet"))
        self.stats_truth = LinkTruth(truth / "stats_links.parquet")
        self.ent_writer = pq.ParquetWriter(str(truth / "enterprises.parquet"), ENT_SCHEMA)
        self.counts: dict[str, int] = {}

    def emit(self, c: ChunkData) -> None:
        first = c.start == 0
        self._registry(c, first)
        self._shareholders(c, first)
        self.tax.add_rows(c.tax, first)
        self._stats(c, first)
        for k, v in c.counts.items():
            self.counts[k] = self.counts.get(k, 0) + v

    def _registry(self, c: ChunkData, first: bool) -> None:
        pop, log = self.pop, self.reg_log
        cols = dict(c.reg_cols)
        first_row = log.rows
        changed, dups = apply_noise(
            pop.rng,
            pop.year,
            log,
            cols,
            c.reg_eligible,
            self.noise,
            REGISTRY_DEFECTS,
            REGISTRY_WARNINGS,
            first,
        )
        if self.noise and first:
            quiet = c.reg_quiet & ~changed
            quiet[dups] = False
            log.formula_cells += [
                (first_row + p + 1, col) for p, col in formula_cells(pop, cols, quiet)
            ]
        order = np.concatenate([np.arange(c.n), dups])
        final = [cols[f].take(pa.array(order)) for f in REGISTRY_FIELDS]
        log_repeats(log, c.n, dups)
        if self.xlsx:
            typed = {
                "date_cell": (c.reg_typed["date_cell"] & ~changed)[order],
                "number_cell": (c.reg_typed["number_cell"] & ~changed)[order],
                "est": c.reg_typed["est"][order],
                "capital": c.reg_typed["capital"][order],
            }
            self.reg_w.write(final, REGISTRY_FIELDS, typed)
        else:
            self.reg_w.write(final)
        rows = pa.array(first_row + np.arange(c.n) + 1, pa.int64())
        self.ent_writer.write_table(c.ent_truth.set_column(0, "registry_row", rows))

    def _shareholders(self, c: ChunkData, first: bool) -> None:
        pop, log = self.pop, self.sh_log
        cols = dict(c.sh_cols)
        _, dups = apply_noise(
            pop.rng,
            pop.year,
            log,
            cols,
            c.sh_eligible,
            self.noise,
            SHAREHOLDER_DEFECTS,
            SHAREHOLDER_WARNINGS,
            first,
        )
        n = len(c.sh_eligible)
        order = pa.array(np.concatenate([np.arange(n), dups]))
        log_repeats(log, n, dups)
        self.sh_w.write([cols[f].take(order) for f in SHAREHOLDER_FIELDS])

    def _stats(self, c: ChunkData, first: bool) -> None:
        pop, log, st = self.pop, self.st_log, c.stats
        cols = dict(st.columns)
        n = len(st.ent_pos)
        _, dups = apply_noise(
            pop.rng,
            pop.year,
            log,
            cols,
            np.ones(n, dtype=bool),
            self.noise,
            STATS_DEFECTS,
            (),
            first,
        )
        order = np.concatenate([np.arange(n), dups])
        final = {f: col.take(pa.array(order)) for f, col in cols.items()}
        kinds = blanked(cols["uscc"], st.id_kind)[order]
        self.stats_truth.add(
            log, log.rows, final, "uscc", "name", st.true_uscc.take(pa.array(order)), kinds
        )
        log_repeats(log, n, dups)
        self.st_w.write(list(final.values()))

    def close(self) -> list[FileLog]:
        self.tax.finish()
        for w in (self.reg_w, self.sh_w, self.st_w):
            w.close()
        self.stats_truth.close()
        self.ent_writer.close()
        return [self.reg_log, self.sh_log, *self.tax.logs, self.st_log]


def _remove_stale(out_dir: Path, year: int) -> None:
    """Delete files an earlier run may have left (e.g. registry.csv before registry.xlsx).

    Only the names this generator writes are touched.
    """
    names = [
        "registry.csv",
        "registry.xlsx",
        "shareholders.csv",
        "stats.tsv",
        f"tax_{year}_correction.csv",
    ]
    names += [f"tax_{year}Q{q}.csv" for q in range(1, 5)]
    names += [f"truth/{n}" for n in TRUTH_FILES]
    for name in names:
        (out_dir / name).unlink(missing_ok=True)


def _manifest(
    pop: Population, noise: bool, formats: str, logs: list[FileLog], out: Deliveries
) -> dict:
    c = dict(out.counts)
    c["tax_rows"] = sum(log.rows for log in out.tax.logs)
    c["stats_rows"] = out.st_log.rows
    c["bad_rows"] = sum(len(log.bad) for log in logs)
    c["warning_rows"] = sum(len(log.warnings) for log in logs)
    c["duplicates"] = sum(len(log.duplicates) for log in logs)
    c["corrections"] = sum(len(log.corrections) for log in logs)
    c["formula_cells"] = sum(len(log.formula_cells) for log in logs)
    c["truth_tax_rows"] = out.tax.truth.rows
    c["truth_stats_rows"] = out.stats_truth.rows
    cycles = [pop.enterprises(np.array(m)).uscc.to_pylist() for m in pop.cycles]
    return {
        "format": MANIFEST_FORMAT,
        "seed": pop.seed,
        "enterprises": pop.n,
        "year": pop.year,
        "reference_date": str(pop.ref),
        "noise": noise,
        "formats": formats,
        "files": {log.file: log.as_json() for log in logs},
        "truth": {
            "enterprises": "truth/enterprises.parquet",
            "tax_links": "truth/tax_links.parquet",
            "stats_links": "truth/stats_links.parquet",
        },
        "cycles": cycles,
        "counts": dict(sorted(c.items())),
    }
