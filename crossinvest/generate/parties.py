"""Investors that are not registry enterprises: groups elsewhere, national groups,
foreign and 港澳台 enterprises, and natural persons.

Like enterprises, each party is a pure function of its pool index.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from crossinvest.generate import codes, render
from crossinvest.generate.names import cat, rank_to_pair
from crossinvest.generate.population import Population
from crossinvest.generate.rand import permute
from crossinvest.generate.regions import (
    INVESTOR_PROVINCES,
    NATIONAL,
    PERSON_PROVINCES,
    investor_table,
    person_table,
)
from crossinvest.generate.vocab import (
    ENGLISH_1,
    ENGLISH_2,
    ENGLISH_PERSONS_FIRST,
    ENGLISH_PERSONS_LAST,
    ENGLISH_TEMPLATES,
    FOREIGN_PLACES,
    FOREIGN_TEMPLATES_CN,
    person_name_lists,
)

# Legal-person investor types outside the registry, with USCC prefix and share.
EXT_TYPES: tuple[tuple[str, bytes, float], ...] = (
    ("企业法人", b"91", 0.85),
    ("合伙企业", b"91", 0.08),
    ("非法人企业", b"91", 0.02),
    ("事业法人", b"12", 0.03),
    ("社会团体法人", b"51", 0.02),
)
EXT_FORMS = ("有限公司", "股份有限公司", "集团有限公司", "有限责任公司")
EXT_FORM_WEIGHTS = np.array([0.5, 0.2, 0.2, 0.1])


@dataclass
class Parties:
    """Arrays describing a set of parties of one pool."""

    name: pa.Array
    ident: pa.Array  # USCC, resident ID, passport number or ''
    region: np.ndarray  # division code (0 unknown / foreign)
    type_label: pa.Array


class PartyPools:
    def __init__(self, pop: Population) -> None:
        self.pop = pop
        self.rng = pop.rng
        self.ext_places = investor_table(pop.regions, pop.year)
        self.ext_province_codes = sorted(INVESTOR_PROVINCES)
        self.flagships = len(self.ext_province_codes)  # pool members 0..29: one per province
        self.perm_foreign = self.rng.permutation("foreign-rank", pop.m_for)
        self.perm_passport = self.rng.permutation("passport", 10**8)

    # ---- groups elsewhere -----------------------------------------------------------

    def external(self, k: np.ndarray) -> Parties:
        """Legal persons outside Shanghai and outside the registry (pool ``m_ext``)."""
        pop, r = self.pop, self.rng
        k = np.asarray(k, dtype=np.int64)
        row = r.choice("ext-place", k, self.ext_places.weights)
        # The first pool members cover every province, so every province invests.
        first = k < len(self.ext_province_codes)
        prov_of_first = np.array(self.ext_province_codes)[
            np.minimum(k, len(self.ext_province_codes) - 1)
        ]
        same_prov = self._first_row_of_province()
        row = np.where(first, same_prov[prov_of_first], row)
        region = self.ext_places.codes[row]
        typ = r.choice("ext-type", k, np.array([w for _, _, w in EXT_TYPES]))
        g = pop.n + k
        name_core, _ = self._core_name(g)
        city = pa.array(self.ext_places.city).take(pa.array(row))
        prov = pa.array(self.ext_places.province).take(pa.array(row))
        lead = pc.if_else(pa.array(r.uniform("ext-lead", k) < 0.6), city, prov)
        form = pa.array(EXT_FORMS).take(pa.array(r.choice("ext-form", k, EXT_FORM_WEIGHTS)))

        def sub(arr, i):
            return arr.take(pa.array(i))

        name = render.by_case(
            typ,
            (
                lambda i: cat(sub(lead, i), sub(name_core, i), sub(form, i)),
                lambda i: cat(sub(lead, i), sub(name_core, i), "合伙企业（有限合伙）"),
                lambda i: cat(sub(lead, i), sub(name_core, i), "厂"),
                lambda i: cat(sub(prov, i), self._trade(g[i]), "技术研究院"),
                lambda i: cat(sub(city, i), self._trade(g[i]), "企业商会"),
            ),
        )
        prefix = np.array([p for _, p, _ in EXT_TYPES], dtype="S2")[typ]
        u_div = r.uniform("ext-div", k)
        div = np.where(u_div < 0.1, region // 100 * 100, region)
        ident = codes.to_arrow(codes.uscc(prefix, div, self._org(g, k)))
        labels = pa.array([t for t, _, _ in EXT_TYPES]).take(pa.array(typ))
        return Parties(name, ident, region, labels)

    def _first_row_of_province(self) -> np.ndarray:
        out = np.zeros(100, dtype=np.int64)
        for i, c in enumerate(self.ext_places.codes):
            if out[c // 10000] == 0:
                out[c // 10000] = i
        return out

    def _core_name(self, g: np.ndarray) -> tuple[pa.Array, np.ndarray]:
        """字号 + 行业 word for legal persons in the shared rank space."""
        pop = self.pop
        rank = permute(g, pop.g_total, pop.perm_name)
        z, word = rank_to_pair(
            rank, pop.space.n_two, pop.space.n_three, len(pop.words.words), pop.word_offset("word")
        )
        return cat(pop.space.names(z), pop.words.arrow.take(pa.array(word))), word

    def _trade(self, g: np.ndarray) -> pa.Array:
        pop = self.pop
        rank = permute(g, pop.g_total, pop.perm_name)
        z, _ = rank_to_pair(
            rank, pop.space.n_two, pop.space.n_three, len(pop.words.words), pop.word_offset("word")
        )
        return pop.space.names(z)

    def _org(self, g: np.ndarray, salt: np.ndarray) -> np.ndarray:
        pop = self.pop
        ma = self.rng.uniform("ext-ma", salt) < 0.3
        return np.where(
            ma[:, None],
            codes.org_code_ma(permute(g, 31**6, pop.perm_ma)),
            codes.org_code_digits(permute(g, 10**8, pop.perm_org)),
        )

    def national(self, k: np.ndarray) -> Parties:
        """中国XX集团: registered by the national administration (USCC digits 3-8 = 100000)."""
        pop = self.pop
        k = np.asarray(k, dtype=np.int64)
        g = pop.n + pop.m_ext + k
        core, _ = self._core_name(g)
        form = pc.if_else(
            pa.array(self.rng.uniform("nat-form", k) < 0.8), "集团有限公司", "有限公司"
        )
        ident = codes.to_arrow(
            codes.uscc(np.array([b"91"]), np.full(len(k), NATIONAL), self._org(g, k))
        )
        return Parties(
            cat("中国", core, form),
            ident,
            np.full(len(k), NATIONAL),
            pa.array(["企业法人"] * len(k)),
        )

    # ---- foreign and 港澳台 ------------------------------------------------------------

    @cached_property
    def _foreign_names(self) -> tuple[list[str], list[int]]:
        """All foreign names of the pool in rank order, with their place codes."""
        n_en = len(ENGLISH_1) * len(ENGLISH_2) * len(ENGLISH_TEMPLATES)
        places = [(p, code, w) for p, code, w in FOREIGN_PLACES if p]
        weights = np.array([w for _, _, w in places])
        names, regions = [], []
        two = self.pop.space.two.to_pylist()
        per_place: dict[str, int] = {}
        rank = permute(np.arange(self.pop.m_for), self.pop.m_for, self.perm_foreign)
        english = self.rng.uniform("foreign-english", np.arange(self.pop.m_for)) < 0.2
        pick = self.rng.choice("foreign-place", np.arange(self.pop.m_for), weights)
        for k in range(self.pop.m_for):
            if english[k] and rank[k] < n_en:
                a, rest = divmod(int(rank[k]), len(ENGLISH_2) * len(ENGLISH_TEMPLATES))
                b, t = divmod(rest, len(ENGLISH_TEMPLATES))
                names.append(ENGLISH_TEMPLATES[t].format(a=ENGLISH_1[a], b=ENGLISH_2[b]))
                regions.append(0)
                continue
            place, code, _ = places[int(pick[k])]
            templates = FOREIGN_TEMPLATES_CN[place]
            j = per_place.get(place, 0)
            per_place[place] = j + 1
            z, t = divmod(j, len(templates))
            # Scramble per place so that 香港 and 澳门 investors do not share 字号.
            z = (z * 7919 + 1009 * int(pick[k])) % len(two) + len(two) * (z // len(two))
            trade = two[z % len(two)] + two[(z // len(two)) % len(two)] if z >= len(two) else two[z]
            names.append(templates[t].format(z=trade))
            regions.append(code * 10000 if code else 0)
        return names, regions

    def foreign(self, k: np.ndarray) -> Parties:
        names, regions = self._foreign_names
        k = np.asarray(k, dtype=np.int64)
        return Parties(
            pa.array(names).take(pa.array(k)),
            pa.array([""] * len(k)),
            np.array(regions, dtype=np.int64)[k],
            pa.array(["外国(地区)企业"] * len(k)),
        )

    def passport_persons(self, k: np.ndarray) -> Parties:
        """Foreign natural persons, identified by passport."""
        k = np.asarray(k, dtype=np.int64)
        r = self.rng
        first = pa.array(ENGLISH_PERSONS_FIRST).take(
            pa.array(r.below("passport-first", k, len(ENGLISH_PERSONS_FIRST)))
        )
        last = pa.array(ENGLISH_PERSONS_LAST).take(
            pa.array(r.below("passport-last", k, len(ENGLISH_PERSONS_LAST)))
        )
        number = pc.cast(pa.array(10**7 + permute(k, 9 * 10**7, self.perm_passport)), pa.string())
        return Parties(
            cat(first, " ", last),
            cat("E", number),
            np.zeros(len(k), dtype=np.int64),
            pa.array(["自然人股东"] * len(k)),
        )

    # ---- natural persons -------------------------------------------------------------------

    @cached_property
    def _person_tables(self):
        pop = self.pop
        return (
            person_table(pop.regions, pop.year, {31}),
            person_table(pop.regions, pop.year, set(PERSON_PROVINCES)),
        )

    @cached_property
    def _name_lists(self):
        last, weights, male, female = person_name_lists()
        return pa.array(last), np.array(weights), pa.array(male), pa.array(female)

    def person_names(self, key: np.ndarray, male: np.ndarray) -> pa.Array:
        last, weights, m, f = self._name_lists
        r = self.rng
        surname = last.take(pa.array(r.choice("surname", key, weights)))
        given_m = m.take(pa.array(r.below("given", key, len(m))))
        given_f = f.take(pa.array(r.below("given", key, len(f))))
        return cat(surname, pc.if_else(pa.array(male), given_m, given_f))

    def persons(self, p: np.ndarray, shanghai: bool) -> Parties:
        """Natural persons with a resident ID (Shanghai pool or other provinces).

        Person ``p`` takes cell ``p mod cells`` (permuted) and a sequence number
        that differs among persons of one cell, so no two persons share an ID.
        """
        r = self.rng
        p = np.asarray(p, dtype=np.int64)
        table = self._person_tables[0 if shanghai else 1]
        cells = table.cells
        stream = "persons-sh" if shanghai else "persons-other"
        cell = permute(p % cells, cells, self.rng.permutation(stream, cells))
        row = np.searchsorted(table.cum, cell, side="right") - 1
        birth = (table.first_day[row] + cell - table.cum[row]).astype("datetime64[D]")
        seq = (p // cells + r.bits(stream, cell).astype(np.int64) % 1000) % 1000
        ident = codes.to_arrow(codes.resident_id(table.codes[row], birth, seq))
        key = p if shanghai else p + (1 << 40)
        name = self.person_names(key, seq % 2 == 1)  # odd sequence digit: male
        return Parties(name, ident, table.codes[row], pa.array(["自然人股东"] * len(p)))
