"""Header matching: which column of a delivery holds which field of a source.

Matching ignores surrounding and inner whitespace, full-width/half-width
differences, ASCII case and a trailing unit in brackets (data-interface.md,
"Header names").

>>> normalise_header(" 注册资本（万元） ")
'注册资本'
>>> m = match_headers(SOURCES["tax"], ["纳税人名称", "Tax_Paid (元)", "备注"])
>>> m.field_index, m.extra_index
({'taxpayer_name': 0, 'tax_paid': 1}, [2])
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from crossinvest.readers.base import FileRefused
from crossinvest.sources import SOURCES, Field, Source

# U+FF01..U+FF5E are the full-width forms of ASCII 0x21..0x7E; U+3000 is the
# ideographic space. Upper-case ASCII is folded in the same pass.
_FOLD: dict[int, int | None] = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FOLD[0x3000] = 0x20
for _cp in range(ord("A"), ord("Z") + 1):
    _FOLD[_cp] = _cp + 32
for _cp in range(0xFF21, 0xFF3B):  # full-width A-Z straight to lower-case a-z
    _FOLD[_cp] = _cp - 0xFEE0 + 32
# Width folding only (units are matched with their case, e.g. 'USD').
_FOLD_WIDTH: dict[int, int | None] = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FOLD_WIDTH[0x3000] = 0x20
# Zero-width characters are invisible in a spreadsheet and count as whitespace here.
for _cp in (0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF):
    _FOLD[_cp] = None

# One trailing bracketed group whose content holds no bracket of its kind, after at
# least one character (a header that is all bracket, '【税款所属期】', is a name, not
# a unit). Full-width （） are already folded to () here; 【】 have no half-width form.
_TRAILING_UNIT = re.compile(r"(?<=.)(?:\([^()]*\)|\[[^\[\]]*\]|【[^【】]*】)\Z", re.DOTALL)


def normalise_header(text: str) -> str:
    """Fold a header cell to the form used for matching.

    Full-width ASCII and U+3000 are folded to half-width, all whitespace removed,
    ASCII lower-cased and trailing bracketed units (``()`` ``（）`` ``[]`` ``【】``)
    removed. Idempotent.

    >>> normalise_header(" Tax_Paid (元) ")
    'tax_paid'
    >>> normalise_header("ＵＳＣＣ　")
    'uscc'
    """
    folded = "".join(str(text).translate(_FOLD).split())
    # Repeat so that '资本(万元)[人民币]' and the result of one pass agree (idempotence).
    while True:
        stripped = _TRAILING_UNIT.sub("", folded)
        if stripped == folded:
            return folded
        folded = stripped


def trailing_brackets(text: str) -> list[str]:
    """The trailing bracketed groups that matching ignores, innermost first, folded.

    >>> trailing_brackets("营业收入（万元） ")
    ['万元']
    >>> trailing_brackets("资本(万元)[人民币]"), trailing_brackets("名称")
    (['万元', '人民币'], [])
    """
    folded = "".join(str(text).translate(_FOLD_WIDTH).split())
    groups: list[str] = []
    while m := _TRAILING_UNIT.search(folded):
        groups.insert(0, m.group()[1:-1])
        folded = folded[: m.start()]
    return groups


@functools.cache
def _alias_map(source_name: str) -> dict[str, str]:
    """Normalised alias -> field name for one source (first field wins)."""
    mapping: dict[str, str] = {}
    for f in SOURCES[source_name].fields:
        for alias in f.aliases:
            mapping.setdefault(normalise_header(alias), f.name)
    return mapping


@dataclass(frozen=True)
class HeaderMatch:
    """How one header row maps onto one source's fields."""

    source: Source
    headers: tuple[str, ...]
    field_index: dict[str, int]  # field name -> column index, in column order
    extra_index: list[int]  # unmatched column indexes (later duplicates included)

    @property
    def score(self) -> int:
        return len(self.field_index)

    def missing_required(self) -> list[Field]:
        return [f for f in self.source.required if f.name not in self.field_index]

    def missing_any(self) -> list[tuple[str, ...]]:
        return [
            group
            for group in self.source.required_any
            if not any(name in self.field_index for name in group)
        ]

    @property
    def complete(self) -> bool:
        """Every required field (and one of each ``required_any`` group) is present."""
        return not self.missing_required() and not self.missing_any()


def match_headers(source: Source, headers: Sequence[str]) -> HeaderMatch:
    """Map each header cell onto a field of ``source``; a repeated field is an extra."""
    aliases = _alias_map(source.name)
    field_index: dict[str, int] = {}
    extra: list[int] = []
    for i, h in enumerate(headers):
        name = aliases.get(normalise_header(h))
        if name is None or name in field_index:
            extra.append(i)
        else:
            field_index[name] = i
    return HeaderMatch(source, tuple(headers), field_index, extra)


def _fit(m: HeaderMatch) -> tuple[int, bool, float]:
    return (m.score, m.complete, m.score / len(m.source.fields))


def detect_source(headers: list[str]) -> str | None:
    """Name of the source whose fields the header row fits best, or None if none match.

    Ranked by matched fields, then whether the required ones are all there, then
    the share of the source's fields matched.

    >>> detect_source(["纳税人识别号", "纳税人名称", "税款所属期", "实缴税额"])
    'tax'
    >>> detect_source(["a", "b"]) is None
    True
    """
    matches = [match_headers(s, headers) for s in SOURCES.values()]
    best = max(matches, key=_fit)
    return best.source.name if best.score else None


def _label(f: Field) -> str:
    return f"「{f.canonical}」({f.name})"


def _source_label(s: Source) -> str:
    return f"「{s.title}」({s.name})"


def check_header(source: Source, headers: Sequence[str], path: object) -> HeaderMatch:
    """Match ``headers`` to ``source`` or raise ``FileRefused`` saying why they do not fit.

    A header that another source fits plainly better (the requested one lacks
    required columns and the other matches more of its fields) is refused as the
    wrong source; otherwise the missing required columns are named.
    """
    m = match_headers(source, headers)
    if m.complete:
        return m
    best_name = detect_source(list(headers))
    if best_name is None:
        raise FileRefused(str(path), "找不到表头：没有任何列名是可识别的字段，可能不是数据表格")
    best = match_headers(SOURCES[best_name], headers)
    if best_name != source.name and best.score > m.score:
        raise FileRefused(
            str(path),
            f"表头是{_source_label(best.source)} 的格式，不是{_source_label(source)}",
        )
    problems = []
    if missing := m.missing_required():
        problems.append("缺少必填列" + "、".join(_label(f) for f in missing))
    for group in m.missing_any():
        labels = "或".join(_label(source.field(n)) for n in group)
        problems.append(f"缺少{labels}列（至少需要其一）")
    raise FileRefused(str(path), "；".join(problems))


def header_plausible(source: Source, headers: Sequence[str]) -> int:
    """How well a row could be ``source``'s header: matched fields, 0 if too few.

    A row qualifies when it holds every required field or at least two fields.
    """
    m = match_headers(source, headers)
    return m.score if (m.complete or m.score >= 2) else 0


def best_any_source(headers: Sequence[str]) -> int:
    """Matched fields of the source this row fits best (0: nothing matches)."""
    return max(match_headers(s, headers).score for s in SOURCES.values())
