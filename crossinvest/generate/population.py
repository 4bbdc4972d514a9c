"""The synthetic population: registry enterprises as pure functions of their index.

Enterprise ``i`` (0 <= i < n) is:

- a Shanghai holding company when ``i % HOLDING_EVERY == 0``; holdings have a
  level 1-3 (``1 + (i // HOLDING_EVERY) % 3``). A level-L holding is owned by a
  level-(L-1) holding, level 1 by groups elsewhere, which gives ownership chains
  of up to four levels above an ordinary enterprise;
- else an enterprise outside Shanghai with Shanghai investors (outbound) with
  probability ``OUTBOUND_SHARE``;
- else an ordinary Shanghai enterprise.

Everything about an enterprise (USCC, name, dates, capital …) is hashed from
its index, so any chunk can look up an investor from another chunk.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cached_property
from importlib import resources

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from crossinvest.generate import codes, render
from crossinvest.generate.names import TradeNameSpace, cat, rank_to_pair, short_district
from crossinvest.generate.rand import Rng, permute
from crossinvest.generate.regions import (
    DESTINATION_HISTORICAL,
    SHANGHAI_HISTORICAL,
    destination_table,
    load_regions,
    shanghai_table,
)
from crossinvest.generate.vocab import (
    DEREGISTERED,
    FORMS,
    HOLDING_FORM,
    HOLDING_WORDS,
    INDUSTRY_WORDS,
    STATUS_WEIGHTS,
)

HOLDING_EVERY = 25
OUTBOUND_SHARE = 0.12
ORDINARY, HOLDING, OUTBOUND = 0, 1, 2
FIRST_YEAR = 1995
USCC_REFORM = np.datetime64("2015-10-01")  # USCCs with 'MA' codes from here on
DAY = np.timedelta64(1, "D")


def industry_table() -> tuple[list[str], list[str]]:
    """GB/T 4754-2017 小类 codes and their section letters, in table order."""
    text = (
        resources.files("crossinvest").joinpath("data/gbt4754-2017.csv").read_text(encoding="utf-8")
    )
    rows = [r for r in csv.DictReader(text.splitlines()) if r["level"] == "小类"]
    return [r["code"] for r in rows], [r["section"] for r in rows]


class WordTable:
    """Words with the flattened list of 小类 indices each fits."""

    def __init__(self, words: dict[str, str], codes_: list[str]) -> None:
        self.words = list(words)
        self.arrow = pa.array(self.words)
        flat: list[int] = []
        self.offset = np.zeros(len(words), dtype=np.int64)
        self.count = np.zeros(len(words), dtype=np.int64)
        by_prefix: dict[str, list[int]] = {}
        for j, c in enumerate(codes_):
            for k in range(2, 5):
                by_prefix.setdefault(c[:k], []).append(j)
        for i, prefixes in enumerate(words.values()):
            matches = sorted({j for p in prefixes.split() for j in by_prefix.get(p, [])})
            self.offset[i], self.count[i] = len(flat), len(matches)
            flat += matches
        self.flat = np.array(flat, dtype=np.int64)

    def industry(self, word: np.ndarray, u: np.ndarray) -> np.ndarray:
        pick = np.minimum((u * self.count[word]).astype(np.int64), self.count[word] - 1)
        return self.flat[self.offset[word] + pick]


@dataclass
class Ent:
    """Attributes of a set of registry enterprises (parallel arrays)."""

    idx: np.ndarray
    kind: np.ndarray
    level: np.ndarray
    place: np.ndarray  # row in the Shanghai or destination place table
    region: np.ndarray
    support: np.ndarray
    est: np.ndarray
    status: np.ndarray
    dereg: np.ndarray
    dereg_shown: np.ndarray
    reg_no_only: np.ndarray
    active: np.ndarray  # at the reference date
    in_year: np.ndarray  # active at some time during the reference year
    uscc_m: np.ndarray
    uscc: pa.Array
    reg_no: pa.Array
    name: pa.Array
    form: np.ndarray  # index into FORMS, -1 for holdings
    industry: np.ndarray
    foreign_invested: np.ndarray
    usd: np.ndarray
    cap_c: np.ndarray  # registered capital in hundredths of 万 (of CNY, or USD when usd)
    size: np.ndarray


class Population:
    """Sizes, tables and per-index attribute functions of one generated world."""

    def __init__(self, n: int, seed: int, year: int) -> None:
        if n < 50:
            raise ValueError("企业数量至少为 50")
        self.n, self.seed, self.year = int(n), int(seed), int(year)
        self.rng = Rng(seed)
        self.ref = np.datetime64(f"{year}-12-31")
        self.year_start = np.datetime64(f"{year}-01-01")
        self.n_hold = (self.n + HOLDING_EVERY - 1) // HOLDING_EVERY
        self.m_ext = max(60, self.n // 8)
        self.m_nat = max(6, self.n // 2000)
        self.m_for = max(40, self.n // 40)
        self.p_sh = max(200, self.n * 6 // 10)
        self.p_other = max(200, self.n * 4 // 10)
        # Legal persons with a USCC and a (字号, 行业) name share one rank space.
        self.g_total = self.n + self.m_ext + self.m_nat
        self.regions = load_regions()
        self.sh = shanghai_table(self.regions, year)
        self.dest, self.dest_support = destination_table(self.regions, year)
        self.sh_short = pa.array(
            [short_district(self.regions.name_any(int(c), year)) for c in self.sh.codes]
        )
        self.codes, self.sections = industry_table()
        self.words = WordTable(INDUSTRY_WORDS, self.codes)
        self.hwords = WordTable(HOLDING_WORDS, self.codes)
        self.space = TradeNameSpace()
        self.perm_name = self.rng.permutation("name-rank", self.g_total)
        self.perm_hold = self.rng.permutation("holding-rank", self.n_hold)
        self.perm_org = self.rng.permutation("org-digits", 10**8)
        self.perm_ma = self.rng.permutation("org-ma", 31**6)
        self.perm_regno = self.rng.permutation("reg-no", 10**8)
        self.cycles = self._cycles()

    # ---- structure -------------------------------------------------------------

    def kind(self, idx: np.ndarray) -> np.ndarray:
        idx = np.asarray(idx, dtype=np.int64)
        out = np.where(self.rng.uniform("outbound", idx) < OUTBOUND_SHARE, OUTBOUND, ORDINARY)
        return np.where(idx % HOLDING_EVERY == 0, HOLDING, out)

    def level(self, idx: np.ndarray) -> np.ndarray:
        idx = np.asarray(idx, dtype=np.int64)
        return np.where(idx % HOLDING_EVERY == 0, 1 + (idx // HOLDING_EVERY) % 3, 0)

    def holdings_at(self, level: int) -> int:
        return max(0, (self.n_hold - (level - 1) + 2) // 3)

    def holding_index(self, level: int, j: np.ndarray) -> np.ndarray:
        """The ``j``-th holding of ``level`` as an enterprise index."""
        return HOLDING_EVERY * (3 * np.asarray(j, dtype=np.int64) + (level - 1))

    def _cycles(self) -> list[list[int]]:
        """Cross-holding cycles: (A, B) or (A, B, C) of holdings at levels 1, 2, 3.

        A owns B (B's parent is A) and B owns C; the cycle's last member also
        holds a 10% share of A, which closes the cycle. The manifest lists each
        cycle in this order: every member owns the next, the last owns the first.
        """
        m_max = (self.n_hold - 3) // 3  # block m holds holdings 3m, 3m+1, 3m+2
        if m_max < 1:
            return []
        count = min(max(2, self.n // 4000), 50, m_max)
        step = max(1, m_max // count)
        out = []
        for c in range(count):
            m = 1 + c * step
            members = [HOLDING_EVERY * (3 * m + k) for k in range(2 if c % 2 == 0 else 3)]
            out.append(members)
        return out

    @cached_property
    def cycle_parent(self) -> dict[int, int]:
        """Forced parent holding of cycle members B and C."""
        out = {}
        for members in self.cycles:
            for child, parent in zip(members[1:], members[:-1], strict=True):
                out[child] = parent
        return out

    @cached_property
    def cycle_closer(self) -> dict[int, int]:
        """A -> the cycle's last member, which holds shares of A (closing the cycle)."""
        return {members[0]: members[-1] for members in self.cycles}

    # ---- enterprises --------------------------------------------------------------

    def life(self, idx: np.ndarray, kind: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        """Establishment, status and deregistration of enterprises ``idx``.

        Returns (est, status, dereg, dereg_shown, reg_no_only, active, in_year);
        cheap enough to ask of investors before computing their names.
        """
        idx = np.asarray(idx, dtype=np.int64)
        r = self.rng
        hold = (self.kind(idx) if kind is None else kind) == HOLDING
        span = int((self.ref - np.datetime64(f"{FIRST_YEAR}-01-01")) / DAY) + 1
        skew = np.where(hold, 1.3, 0.55)  # holdings are older, new firms more frequent
        est = (
            np.datetime64(f"{FIRST_YEAR}-01-01")
            + (span * r.uniform("est", idx) ** skew).astype(np.int64) * DAY
        )
        est = np.minimum(est, self.ref)
        est_year = est.astype("datetime64[Y]").astype(np.int64) + 1970

        status = r.choice("status", idx, np.array(STATUS_WEIGHTS))
        status = np.where(hold, 0, status)
        dead = np.isin(status, DEREGISTERED)
        life = (self.ref + 180 * DAY - est) / DAY
        dereg = (
            est + (30 + np.maximum(life - 30, 1) * r.uniform("dereg", idx)).astype(np.int64) * DAY
        )
        dereg = np.where(dead, dereg, np.datetime64("NaT"))
        dereg_shown = dead & (r.uniform("dereg-shown", idx) < 0.8)
        reg_no_only = ~hold & (
            (dead & (dereg < USCC_REFORM) & (r.uniform("regno-only", idx) < 0.6))
            | (~dead & (est_year < 2000) & (r.uniform("regno-only", idx) < 0.03))
        )
        gone_by_ref = dead & (~dereg_shown | (dereg <= self.ref))
        active = (est <= self.ref) & ~gone_by_ref
        in_year = (est <= self.ref) & ~(dead & (~dereg_shown | (dereg < self.year_start)))

        return est, status, dereg, dereg_shown, reg_no_only, active, in_year

    def enterprises(self, idx: np.ndarray) -> Ent:
        """All attributes of enterprises ``idx`` (any order, repeats allowed)."""
        idx = np.asarray(idx, dtype=np.int64)
        r = self.rng
        kind = self.kind(idx)
        level = self.level(idx)
        hold = kind == HOLDING
        out = kind == OUTBOUND

        est, status, dereg, dereg_shown, reg_no_only, active, in_year = self.life(idx, kind)
        est_year = est.astype("datetime64[Y]").astype(np.int64) + 1970

        # Domicile.
        sh_row = r.choice("district", idx, self.sh.weights)
        codes_list = list(self.sh.codes)
        for cur, (hist, until, share) in SHANGHAI_HISTORICAL.items():
            swap = (
                (self.sh.codes[sh_row] == cur)
                & (est_year < until)
                & (r.uniform(f"hist{hist}", idx) < share)
            )
            sh_row = np.where(swap, codes_list.index(hist), sh_row)
        dest_row = r.choice("dest", idx, self.dest.weights)
        dest_list = list(self.dest.codes)
        for cur, (hist, until, share) in DESTINATION_HISTORICAL.items():
            if cur not in dest_list or hist not in dest_list:
                continue
            swap = (
                (self.dest.codes[dest_row] == cur)
                & (est_year < until)
                & (r.uniform(f"hist{hist}", idx) < share)
            )
            dest_row = np.where(swap, dest_list.index(hist), dest_row)
        place = np.where(out, dest_row, sh_row)
        region = np.where(out, self.dest.codes[dest_row], self.sh.codes[sh_row])
        support = out & self.dest_support[dest_row]
        u_div = r.uniform("uscc-div", idx)
        uscc_div = np.where(
            out,
            np.where(u_div < 0.1, region // 100 * 100, region),
            np.where(u_div < 0.15, 310000, region),
        )

        # Codes: 'MA' organisation codes for enterprises registered after the reform.
        ma = est >= USCC_REFORM
        org = np.where(
            ma[:, None],
            codes.org_code_ma(permute(idx, 31**6, self.perm_ma)),
            codes.org_code_digits(permute(idx, 10**8, self.perm_org)),
        )
        uscc_m = codes.uscc(np.array([b"91"]), uscc_div, org)
        uscc = pc.if_else(pa.array(reg_no_only), "", codes.to_arrow(uscc_m))
        reg_m = codes.reg_no15(
            np.where(out, region, 310000 + region % 1000), permute(idx, 10**8, self.perm_regno)
        )
        show_reg = reg_no_only | (~ma & (r.uniform("show-regno", idx) < 0.3))
        reg_no = pc.if_else(pa.array(show_reg), codes.to_arrow(reg_m), "")

        # Name and industry.
        form = r.choice("form", idx, np.array([w for _, w in FORMS]))
        name, word, hword = self._names(idx, kind, place, form)
        u_ind = r.uniform("industry", idx)
        industry = np.where(
            hold, self.hwords.industry(hword, u_ind), self.words.industry(word, u_ind)
        )

        # Capital and size.
        foreign = (kind == ORDINARY) & (r.uniform("foreign-invested", idx) < 0.05)
        usd = foreign & (r.uniform("usd", idx) < 0.4)
        mu = np.where(hold, np.log(5000.0), np.log(100.0))
        cap = np.exp(mu + 1.6 * r.normal("capital", idx))
        cap = np.where(usd, cap / 6.6, cap)
        u_round = r.uniform("capital-round", idx)
        cap_c = np.where(
            u_round < 0.5,
            np.maximum(np.round(cap / np.where(cap >= 100, 100, 10)), 1)
            * np.where(cap >= 100, 100, 10)
            * 100,
            np.where(
                u_round < 0.8,
                np.maximum(np.round(cap), 1) * 100,
                np.maximum(np.round(cap * 100), 1),
            ),
        ).astype(np.int64)
        size = np.exp(0.5 * np.log(np.maximum(cap, 1.0)) + 0.8 * r.normal("size", idx))

        return Ent(
            idx=idx,
            kind=kind,
            level=level,
            place=place,
            region=region,
            support=support,
            est=est,
            status=status,
            dereg=dereg,
            dereg_shown=dereg_shown,
            reg_no_only=reg_no_only,
            active=active,
            in_year=in_year,
            uscc_m=uscc_m,
            uscc=uscc,
            reg_no=reg_no,
            name=name,
            form=np.where(hold, -1, form),
            industry=industry,
            foreign_invested=foreign,
            usd=usd,
            cap_c=cap_c,
            size=size,
        )

    def word_offset(self, stream: str):
        return lambda z: self.rng.bits(stream, z).astype(np.int64) & 0xFFFFFF

    def _names(self, idx, kind, place, form) -> tuple[pa.Array, np.ndarray, np.ndarray]:
        r = self.rng
        hold = kind == HOLDING
        out = kind == OUTBOUND
        rank = permute(idx, self.g_total, self.perm_name)
        z, word = rank_to_pair(
            rank,
            self.space.n_two,
            self.space.n_three,
            len(self.words.words),
            self.word_offset("word"),
        )
        hrank = permute(idx // HOLDING_EVERY, self.n_hold, self.perm_hold)
        hz, hword = rank_to_pair(
            hrank,
            self.space.n_two,
            self.space.n_three,
            len(self.hwords.words),
            self.word_offset("hword"),
        )
        z = np.where(hold, hz, z)
        trade = self.space.names(z)
        body_word = pc.if_else(
            pa.array(hold),
            self.hwords.arrow.take(pa.array(hword)),
            self.words.arrow.take(pa.array(word)),
        )
        forms = pa.array([f for f, _ in FORMS])
        form_s = pc.if_else(pa.array(hold), HOLDING_FORM, forms.take(pa.array(form)))

        # 行政区划 part: 上海 / 上海市 / 上海浦东 / 字号（上海）; elsewhere 遵义 / 贵州 / 字号（遵义）.
        style = r.choice("name-style", idx, np.array([0.80, 0.04, 0.08, 0.08]))
        sh_place = np.where(out, 0, place)
        dest_place = np.where(out, place, 0)
        city_t, prov_t = pa.array(self.dest.city), pa.array(self.dest.province)

        def lead(i, sh_word):
            sh = pa.array(np.full(len(i), sh_word)) if isinstance(sh_word, str) else sh_word
            return pc.if_else(pa.array(out[i]), city_t.take(pa.array(dest_place[i])), sh)

        def body(i):
            ii = pa.array(i)
            return trade.take(ii), body_word.take(ii), form_s.take(ii)

        def plain(i):
            return cat(lead(i, "上海"), *body(i))

        def municipal(i):  # 上海市… / 贵州…
            sh_or_prov = pc.if_else(
                pa.array(out[i]), prov_t.take(pa.array(dest_place[i])), "上海市"
            )
            return cat(sh_or_prov, *body(i))

        def district(i):
            return cat(lead(i, cat("上海", self.sh_short.take(pa.array(sh_place[i])))), *body(i))

        def bracketed(i):
            t, w, f = body(i)
            return cat(t, "（", lead(i, "上海"), "）", w, f)

        name = render.by_case(style, (plain, municipal, district, bracketed))
        return name, word, hword

    def section(self, industry: np.ndarray) -> pa.Array:
        return pa.array(self.sections).take(pa.array(industry))

    def industry_code(self, industry: np.ndarray) -> pa.Array:
        return pa.array(self.codes).take(pa.array(industry))
