"""Counter-based randomness: every draw is a pure function of (seed, stream, index).

The generator streams millions of enterprises in chunks, yet an enterprise must be
recomputable on demand (an investor in chunk 7 may be an enterprise of chunk 2).
A stateful RNG cannot do that; hashing the index can. SplitMix64's finaliser is
fast in numpy and good enough for synthetic data.

>>> r = Rng(42)
>>> bool((r.uniform("x", np.arange(5)) == r.uniform("x", np.arange(5))).all())
True
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_S30, _S27, _S31, _S11 = (np.uint64(s) for s in (30, 27, 31, 11))


def _mix(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> _S30)
    x = x * _C1
    x = x ^ (x >> _S27)
    x = x * _C2
    return x ^ (x >> _S31)


class Rng:
    """Deterministic per-index draws, named by stream so fields do not correlate."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._keys: dict[str, np.uint64] = {}

    def key(self, stream: str) -> np.uint64:
        k = self._keys.get(stream)
        if k is None:
            digest = hashlib.blake2b(f"{self.seed}/{stream}".encode(), digest_size=8).digest()
            k = np.uint64(int.from_bytes(digest, "little"))
            self._keys[stream] = k
        return k

    def bits(self, stream: str, idx: np.ndarray) -> np.ndarray:
        """64 random bits per index."""
        with np.errstate(over="ignore"):
            x = np.asarray(idx).astype(np.uint64) * _GOLDEN + self.key(stream)
            return _mix(_mix(x))

    def uniform(self, stream: str, idx: np.ndarray) -> np.ndarray:
        """Floats in [0, 1)."""
        return (self.bits(stream, idx) >> _S11).astype(np.float64) * (1.0 / 9007199254740992.0)

    def below(self, stream: str, idx: np.ndarray, n) -> np.ndarray:
        """Integers in [0, n); ``n`` may be an array (per-index bound)."""
        out = np.floor(self.uniform(stream, idx) * n).astype(np.int64)
        return np.minimum(out, np.asarray(n) - 1)

    def choice(self, stream: str, idx: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Indices into ``weights`` drawn with those (unnormalised) weights."""
        cum = np.cumsum(np.asarray(weights, dtype=np.float64))
        pos = np.searchsorted(cum, self.uniform(stream, idx) * cum[-1], side="right")
        return np.minimum(pos, len(cum) - 1)

    def normal(self, stream: str, idx: np.ndarray) -> np.ndarray:
        """Standard normal draws (Box-Muller over two sub-streams)."""
        u1 = self.uniform(stream + "#1", idx)
        u2 = self.uniform(stream + "#2", idx)
        return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)

    def permutation(self, stream: str, n: int) -> tuple[int, int]:
        """Parameters (a, b) of the bijection x -> (a*x + b) mod n on [0, n)."""
        n = max(int(n), 1)
        base = int(self.key(stream))
        a = (base % max(n - 1, 1)) + 1
        while math.gcd(a, n) != 1:
            a += 1
        return a, (base >> 20) % n


def permute(x: np.ndarray, n: int, ab: tuple[int, int]) -> np.ndarray:
    """Apply the bijection of :meth:`Rng.permutation` (exact, no overflow for n < 2**31)."""
    a, b = ab
    x = np.asarray(x, dtype=np.int64) % n
    # a*x may exceed int64 when n is large; split a to keep products below 2**62.
    hi, lo = divmod(a, 1 << 16)
    return ((((x * hi) % n) * (1 << 16)) % n + x * lo + b) % n
