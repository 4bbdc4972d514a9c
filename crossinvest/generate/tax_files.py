"""The tax bureau's deliveries: one file per quarter and a correction file.

Late re-deliveries repeat some rows of a quarter in the next quarter's file;
the correction file re-delivers a few rows (same taxpayer, period and tax type)
with new amounts, which a loader must let supersede the earlier values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from crossinvest.generate import render
from crossinvest.generate.files import DelimitedWriter, headers, positions
from crossinvest.generate.noise import FileLog, apply_noise, log_repeats
from crossinvest.generate.population import Population
from crossinvest.generate.taxstats import ID_VALID, TAX_DEFECTS, TAX_FIELDS, Rows, blanked
from crossinvest.generate.vocab import TAX_TYPES

CROSS_RATE = 0.003
CORRECTION_RATE = 0.001
QUARTER_HEADERS = ("", "spaces", "english", "unit")


class TaxFiles:
    def __init__(self, pop: Population, out_dir: Path, noise: bool, truth) -> None:
        self.pop, self.noise, self.truth = pop, noise, truth
        y = pop.year
        self.logs = [
            FileLog(
                f"tax_{y}Q{q + 1}.csv",
                "tax",
                "gb18030" if noise and q == 0 else "utf-8",
                ",",
                headers("tax", TAX_FIELDS, QUARTER_HEADERS[q] if noise else ""),
                1,
            )
            for q in range(4)
        ]
        self.free_text = positions(TAX_FIELDS, ("taxpayer_name", "tax_paid"))
        self.writers = [
            DelimitedWriter(out_dir / log.file, log, self.free_text) for log in self.logs
        ]
        self.correction_log = (
            FileLog(
                f"tax_{y}_correction.csv", "tax", "utf-8", ",", headers("tax", TAX_FIELDS, ""), 1
            )
            if noise
            else None
        )
        self.out_dir = out_dir
        self._corrections: list[dict] = []

    def add_rows(self, rows: Rows, first: bool) -> None:
        """Write a chunk's tax rows (from ``taxstats.tax_rows``) into the quarterly files."""
        pop, r = self.pop, self.pop.rng
        quarter = (rows.month - 1) // 3
        carry = None
        for q, (log, writer) in enumerate(zip(self.logs, self.writers, strict=True)):
            sel = pa.array(np.flatnonzero(quarter == q))
            cols = {f: rows.columns[f].take(sel) for f in TAX_FIELDS}
            true = rows.true_uscc.take(sel)
            n = len(sel)
            base_first = log.rows
            changed, dups = apply_noise(
                r, pop.year, log, cols, np.ones(n, dtype=bool), self.noise, TAX_DEFECTS, (), first
            )
            kinds = blanked(cols["taxpayer_id"], rows.id_kind[np.asarray(sel)])
            order = np.concatenate([np.arange(n), dups])
            final = {f: cols[f].take(pa.array(order)) for f in TAX_FIELDS}
            final_true = true.take(pa.array(order))
            final_kinds = kinds[order]
            log_repeats(log, n, dups)
            if carry is not None:
                c_cols, c_true, c_kinds, c_src = carry
                for j, (src_file, src_row) in enumerate(c_src):
                    log.duplicates.append((base_first + len(order) + j + 1, src_file, src_row))
                final = {f: pa.concat_arrays([final[f], c_cols[f]]) for f in TAX_FIELDS}
                final_true = pa.concat_arrays([final_true, c_true])
                final_kinds = np.concatenate([final_kinds, c_kinds])
            self.truth.add(
                log, base_first, final, "taxpayer_id", "taxpayer_name", final_true, final_kinds
            )
            writer.write([final[f] for f in TAX_FIELDS])
            carry = None
            if self.noise and n:
                carry = self._pick(
                    log,
                    q,
                    cols,
                    true,
                    kinds,
                    changed,
                    dups,
                    base_first,
                    rows,
                    np.asarray(sel),
                    first,
                )

    def _pick(self, log, q, cols, true, kinds, changed, dups, base_first, rows, sel, first):
        """Choose rows to re-deliver next quarter and rows to correct; return the carry."""
        r = self.pop.rng
        n = len(sel)
        keys = log.generated - n + np.arange(n)
        free = ~changed
        free[dups] = False
        u = r.uniform(log.file + "/cross", keys)
        cross = free & (u < CROSS_RATE) & (q < 3)
        if first and q < 3 and not cross.any() and free.any():
            cross[np.flatnonzero(free)[np.argmin(u[free])]] = True
        valid = kinds == ID_VALID
        u2 = r.uniform(log.file + "/correct", keys)
        corr = free & ~cross & valid & (u2 < CORRECTION_RATE)
        cand = free & ~cross & valid
        if first and not corr.any() and cand.any():
            corr[np.flatnonzero(cand)[np.argmin(u2[cand])]] = True
        for p in np.flatnonzero(corr):
            g = sel[p]
            factor = 0.6 + 0.8 * r.uniform("correction", np.array([keys[p]]))[0]
            self._corrections.append(
                {
                    "taxpayer_id": cols["taxpayer_id"][int(p)].as_py(),
                    "taxpayer_name": cols["taxpayer_name"][int(p)].as_py(),
                    "period": f"{self.pop.year}-{int(rows.month[g]):02d}",
                    "tax_type": TAX_TYPES[int(rows.tax_type[g])],
                    "cents": max(1, int(round(int(rows.cents[g]) * factor))),
                    "source": (log.file, base_first + int(p) + 1),
                }
            )
        pos = pa.array(np.flatnonzero(cross))
        if len(pos) == 0:
            return None
        src = [(log.file, base_first + int(p) + 1) for p in np.flatnonzero(cross)]
        return (
            {f: cols[f].take(pos) for f in TAX_FIELDS},
            true.take(pos),
            kinds[np.asarray(pos)],
            src,
        )

    def finish(self) -> None:
        for w in self.writers:
            w.close()
        self.truth.close()
        if self.correction_log is None:
            return
        log = self.correction_log
        writer = DelimitedWriter(self.out_dir / log.file, log, self.free_text)
        c = self._corrections
        columns = [
            pa.array([x["taxpayer_id"] for x in c], pa.string()),
            pa.array([x["taxpayer_name"] for x in c], pa.string()),
            pa.array([x["period"] for x in c], pa.string()),
            pa.array([x["tax_type"] for x in c], pa.string()),
            render.money(np.array([x["cents"] for x in c], dtype=np.int64)),
        ]
        for j, x in enumerate(c):
            log.corrections.append((j + 1, *x["source"]))
        writer.write(columns)
        writer.close()
        self.logs.append(log)
