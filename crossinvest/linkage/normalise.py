"""Chinese enterprise names taken apart in SQL, for linkage.

A registered name follows 行政区划 + 字号 + 行业 + 组织形式 (企业名称登记管理规定);
bureaus spell the same name differently. :func:`name_parts_sql` turns a name
column into comparable parts, set-based in one SELECT:

- width and brackets: full-width ASCII folded, （）【】〔〕［］ become ``()``,
  spaces and separators (``·`` ``.`` ``,`` ``、`` …) dropped, Latin letters upper-cased;
- branch: a trailing ``（分公司）``, ``分公司`` or ``XX分公司`` (also 分店/分厂/营业部/
  办事处/经营部) is cut off and flagged (``branch``);
- region: a leading province/prefecture name (上海, 上海市, 青岛, 贵州省 …) goes to
  ``region``; after it, a Shanghai district (浦东, 浦东新区, 黄浦区 …) to ``district``;
  a bracketed place as in ``达泰（上海）建设有限公司`` to ``region`` as well;
- form: the trailing organisation form goes to ``form``: 有限公司 and 有限责任公司
  are the same form (``有限``), 股份有限公司/股份有限责任公司/股份公司 are ``股份``,
  合伙 forms ``合伙``, a bare 公司 ``公司``; a 集团 just before it to ``grp``;
- ``core``: what is left, the 字号 + 行业 (e.g. ``达泰建设``).

>>> import duckdb
>>> con = duckdb.connect()
>>> sql = name_parts_sql("SELECT '上海达泰建设集团有限责任公司（分公司） ' AS name", "name")
>>> con.execute(f"SELECT region, core, grp, form, branch FROM ({sql})").fetchone()
('上海', '达泰建设', '集团', '有限', True)
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import stdnum

LOC_DAT = Path(stdnum.__file__).parent / "cn" / "loc.dat"

# Suffixes that a place word may carry or drop.
_PROVINCE_SUFFIX = re.compile(r"(维吾尔自治区|壮族自治区|回族自治区|自治区|特别行政区|省|市)$")
_PREFECTURE_SUFFIX = re.compile(r"(地区|盟|市)$")
_DISTRICT_SUFFIX = re.compile(r"(新区|区|县)$")
_RANGE = re.compile(r"^\[[0-9]*-[0-9]*\]")
# Autonomous prefectures appear in names by their first two characters, a few
# by a longer first word (the generator and common usage agree on these).
_LONG_PREFECTURES = ("黔东南", "黔西南", "西双版纳", "博尔塔拉", "巴音郭楞", "克孜勒苏", "大兴安岭")

BRANCH_WORDS = ("分公司", "分店", "分厂", "营业部", "办事处", "经营部")
# Longest first: RE2 alternation takes the first alternative that matches.
FORM_WORDS = (
    "合伙企业(有限合伙)",
    "合伙企业(普通合伙)",
    "股份有限责任公司",
    "股份有限公司",
    "有限责任公司",
    "责任有限公司",
    "有限公司",
    "股份公司",
    "(有限合伙)",
    "(普通合伙)",
    "有限合伙",
    "普通合伙",
    "合伙企业",
    "总公司",
    "公司",
)
FORM_CLASS = {
    "股份有限责任公司": "股份",
    "股份有限公司": "股份",
    "股份公司": "股份",
    "有限责任公司": "有限",
    "责任有限公司": "有限",
    "有限公司": "有限",
    "合伙企业(有限合伙)": "合伙",
    "合伙企业(普通合伙)": "合伙",
    "(有限合伙)": "合伙",
    "(普通合伙)": "合伙",
    "有限合伙": "合伙",
    "普通合伙": "合伙",
    "合伙企业": "合伙",
    "总公司": "公司",
    "公司": "公司",
}
FULLWIDTH = "".join(chr(c) for c in range(0xFF01, 0xFF5F)) + "\u3000【】〔〕［］｛｝〈〉《》「」"
HALFWIDTH = "".join(chr(c) for c in range(0x21, 0x7F)) + " ()()()()()()()"
# Separators dropped before comparing (spaces of every width included).
_DROP = r"[\s·・•\.,，、。'\"“”‘’_\-]+"


def _names_of(line: str) -> list[str]:
    """Every name a loc.dat entry had, without its year range."""
    return [_RANGE.sub("", p) for p in line.split('"')[1].split(",")]


@cache
def place_words() -> tuple[dict[str, str], dict[str, str]]:
    """(region word -> canonical short, Shanghai district word -> short), from GB/T 2260.

    Regions are provinces and prefectures, each with and without its suffix;
    districts are Shanghai's county-level names, historical ones included.
    County names elsewhere are left alone: too many of them are also common
    trade names (永安, 长江 …).
    """
    regions: dict[str, str] = {"中国": "中国"}
    districts: dict[str, str] = {}
    prov = 0
    for line in LOC_DAT.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if not line.startswith(" "):
            prov = int(line.split(" ", 1)[0])
            for full in _names_of(line):
                short = _PROVINCE_SUFFIX.sub("", full)
                if len(short) >= 2:
                    regions[full], regions[short] = short, short
            continue
        code, rest = line.strip().split(" ", 1)
        for full in _names_of(rest):
            if code.endswith("00") and code != "0000" and prov not in (11, 12, 31, 50):
                if "直辖" in full or full in ("市辖区", "县"):
                    continue
                longs = [w for w in _LONG_PREFECTURES if full.startswith(w)]
                if longs:
                    short = longs[0]
                elif full.endswith("自治州"):
                    short = full[:2]
                else:
                    short = _PREFECTURE_SUFFIX.sub("", full)
                if len(short) >= 2:
                    regions[full], regions[short] = short, short
            elif prov == 31 and not code.endswith("00"):
                short = _DISTRICT_SUFFIX.sub("", full)
                if len(short) >= 2 and full not in ("市辖区", "县"):
                    districts[full], districts[short] = short, short
    return regions, districts


def _alternation(words: list[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=lambda w: (-len(w), w)))


def _q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


@cache
def _patterns() -> dict[str, str]:
    regions, districts = place_words()
    region_alt = _alternation(list(regions))
    district_alt = _alternation(list(districts))
    branch_alt = _alternation(list(BRANCH_WORDS))
    # Only group-0 matches and one short capture: RE2 then stays on its fast DFA path.
    return {
        # A range, not the 110 characters listed: RE2 tests it several times faster.
        "fullwidth": r"[\x{FF01}-\x{FF5E}\x{3000}【】〔〕［］｛｝〈〉《》「」]",
        "fullwidth_ascii": r"[\x{FF01}-\x{FF5E}]",
        "branch_any": rf"(?:{branch_alt})\)?$",
        # '…公司' + optional '(' + branch designation + optional ')'; lazy so that
        # the parent name ends at its first 公司.
        "branch_parent": rf"^(.+?公司)\(?[^()]*?(?:{branch_alt})\)?$",
        "branch_tail": rf"\(?(?:{branch_alt})\)?$",
        "bracket_region": rf"\(({region_alt}|{district_alt})\)",
        "region": rf"^(?:{region_alt})",
        "district": rf"^(?:{district_alt})",
        "form": rf"(?:{_alternation(list(FORM_WORDS))})$",
    }


def _fold_common(col: str) -> str:
    out = col
    for a, b in (
        ("（", "("),
        ("）", ")"),
        ("【", "("),
        ("】", ")"),
        ("〔", "("),
        ("〕", ")"),
        ("［", "("),
        ("］", ")"),
        ("\u3000", " "),
    ):
        out = f"replace({out}, '{a}', '{b}')"
    return out


def _values(mapping: dict[str, str]) -> str:
    return ", ".join(f"({_q(k)}, {_q(v)})" for k, v in mapping.items())


def name_parts_sql(source_sql: str, name_col: str) -> str:
    """A SELECT over ``source_sql`` adding the parts of ``name_col``.

    Added columns: ``name_clean`` (width/brackets/spaces folded), ``branch``
    (BOOLEAN), ``region``, ``district``, ``core``, ``grp`` ('集团' or ''),
    ``form`` (有限/股份/合伙/公司 or NULL) and ``name_key`` (core + grp + form,
    the name without place and branch). Empty parts are NULL, ``grp`` excepted.

    One nested SELECT per step: DuckDB would re-evaluate an expression each time
    a same-level alias refers to it. Each step is a cheap test first, the costly
    rewrite only where it applies.
    """
    p = _patterns()
    regions, districts = place_words()
    # (new columns, replacement for the working string _n) per step.
    steps: list[tuple[str, str]] = [
        # Brackets and the ideographic space by replace(); translate() (slow) only for
        # the rare name still holding full-width ASCII (the loader folds most).
        (
            "",
            f"""CASE WHEN regexp_matches(_n, {_q(p["fullwidth"])})
                      THEN {_fold_common("_n")} ELSE _n END""",
        ),
        (
            "",
            f"""CASE WHEN regexp_matches(_n, {_q(p["fullwidth_ascii"])})
                      THEN translate(_n, {_q(FULLWIDTH)}, {_q(HALFWIDTH)}) ELSE _n END""",
        ),
        (
            f"""upper(CASE WHEN regexp_matches(_n, {_q(_DROP)}) THEN regexp_replace(_n, {_q(_DROP)}, '', 'g')
                        ELSE _n END) AS name_clean""",
            "",
        ),
        (
            "",
            f"""CASE WHEN regexp_matches(name_clean, {_q(p["branch_any"])})
                      THEN COALESCE(NULLIF(regexp_extract(name_clean, {_q(p["branch_parent"])}, 1), ''),
                                    regexp_replace(name_clean, {_q(p["branch_tail"])}, ''))
                      ELSE name_clean END""",
        ),
        (
            f"_n <> name_clean AS branch, NULLIF(regexp_extract(_n, {_q(p['bracket_region'])}, 1), '') AS _br",
            "",
        ),
        # A bracketed place (达泰（上海）建设) is the region: no leading one is looked for.
        (
            f"CASE WHEN _br IS NULL THEN regexp_extract(_n, {_q(p['region'])}) ELSE _br END AS _r",
            "CASE WHEN _br IS NULL THEN _n ELSE replace(_n, '(' || _br || ')', '') END",
        ),
        ("", "CASE WHEN _br IS NULL THEN substr(_n, length(_r) + 1) ELSE _n END"),
        (f"regexp_extract(_n, {_q(p['district'])}) AS _d", ""),
        ("", "substr(_n, length(_d) + 1)"),
        (f"regexp_extract(_n, {_q(p['form'])}) AS _f", ""),
        ("", "left(_n, length(_n) - length(_f))"),
        ("CASE WHEN ends_with(_n, '集团') THEN '集团' ELSE '' END AS grp", ""),
        ("NULLIF(left(_n, length(_n) - length(grp)), '') AS core", ""),
    ]
    sql = f"SELECT *, COALESCE({name_col}, '') AS _n FROM ({source_sql})"
    for add, new_n in steps:
        star = f"* REPLACE ({new_n} AS _n)" if new_n else "*"
        sql = f"SELECT {star}{', ' + add if add else ''} FROM ({sql})"
    return f"""
    SELECT s.* EXCLUDE (_n, _br, _r, _d, _f),
           pr.short AS region, pd.short AS district, pf.short AS form,
           NULLIF(COALESCE(s.core, '') || s.grp || COALESCE(pf.short, ''), '') AS name_key
    FROM ({sql}) s
    LEFT JOIN (VALUES {_values(regions)}) pr(word, short) ON pr.word = s._r
    LEFT JOIN (VALUES {_values(districts)}) pd(word, short) ON pd.word = s._d
    LEFT JOIN (VALUES {_values(FORM_CLASS)}) pf(word, short) ON pf.word = s._f
    """
