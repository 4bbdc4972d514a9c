"""Trade names (字号) and unique (字号, 行业) pairs, vectorised with pyarrow.

Registered names must be unique, and record linkage by name only makes sense
if they are. Each legal person gets a rank in a bijection of the population;
a rank maps to a distinct (字号, word) pair. Small populations use the curated
two-character list first, large ones extend into combinations.

>>> space = TradeNameSpace()
>>> space.names(np.array([0, 1])).to_pylist()
['达泰', '华联']
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from crossinvest.generate.rand import permute
from crossinvest.generate.vocab import CURATED_TRADE_NAMES, TRADE_CHARS_1, TRADE_CHARS_2


def _unique(seq):
    return list(dict.fromkeys(seq))


def cat(*parts) -> pa.Array:
    """Element-wise concatenation of string arrays and Python strings."""
    return pc.binary_join_element_wise(*parts, "")


class TradeNameSpace:
    """Ordered space of 字号: curated, then 2-char, then 3-char combinations."""

    def __init__(self) -> None:
        curated = _unique(CURATED_TRADE_NAMES)
        self.c1 = _unique(TRADE_CHARS_1)
        self.c2 = _unique(TRADE_CHARS_2)
        seen = set(curated)
        combos = [a + b for a in self.c1 for b in self.c2 if a != b and a + b not in seen]
        # A fixed shuffle so that neighbouring ranks do not share a first character.
        order = np.random.default_rng(4754).permutation(len(combos))
        two = curated + [combos[i] for i in order]
        self.two = pa.array(two)
        self.n_two = len(two)
        self.n_three = len(self.c1) * len(self.c2) * len(self.c2)
        self._c1 = pa.array(self.c1)
        self._c2 = pa.array(self.c2)
        self._perm3 = (7919, 104729)

    @property
    def capacity(self) -> int:
        return self.n_two + self.n_three

    def names(self, z: np.ndarray) -> pa.Array:
        z = np.asarray(z, dtype=np.int64)
        if len(z) and z.max() >= self.capacity:
            raise ValueError("企业数量超出字号空间")
        small = z < self.n_two
        out = self.two.take(pa.array(np.where(small, z, 0)))
        if small.all():
            return out
        t = permute(np.maximum(z - self.n_two, 0), self.n_three, self._perm3)
        n2 = len(self.c2)
        a, rest = np.divmod(t, n2 * n2)
        b, c = np.divmod(rest, n2)
        three = cat(
            self._c1.take(pa.array(a)), self._c2.take(pa.array(b)), self._c2.take(pa.array(c))
        )
        return pc.if_else(pa.array(small), out, three)


def rank_to_pair(
    rank: np.ndarray, n_two: int, n_three: int, n_words: int, word_offset
) -> tuple[np.ndarray, np.ndarray]:
    """Map distinct ranks to distinct (字号 index, word index) pairs.

    Ranks below ``n_two * n_words`` use two-character names; ``z = r mod n_two``
    spreads small populations over distinct names, and the word is offset per
    name so that every word is used; above that, three-character names the same
    way. ``word_offset(z)`` hashes the name index: the offset must depend on the
    name only, so that ranks sharing a name get distinct words.
    """
    rank = np.asarray(rank, dtype=np.int64)
    small = rank < n_two * n_words
    big = np.maximum(rank - n_two * n_words, 0)
    n_three = max(int(n_three), 1)
    z = np.where(small, rank % n_two, n_two + big % n_three)
    cycle = np.where(small, rank // n_two, big // n_three)
    if len(cycle) and cycle.max() >= n_words:
        raise ValueError("企业数量超出企业名称空间")
    return z, (cycle + word_offset(z)) % n_words


def short_district(name: str) -> str:
    """'浦东新区' -> '浦东', '黄浦区' -> '黄浦', '崇明县' -> '崇明'."""
    for suffix in ("新区", "区", "县"):
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name
