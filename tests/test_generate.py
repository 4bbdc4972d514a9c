"""crossinvest generate: the generated deliveries read back and checked independently.

Files are read with Python's csv module and python-calamine, identifiers checked
with python-stdnum, never with the generator's own code.
"""

from __future__ import annotations

import atexit
import csv
import datetime as dt
import hashlib
import io
import json
import re
import shutil
import tempfile
from functools import cache
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from python_calamine import CalamineWorkbook
from stdnum.cn import ric, uscc

from crossinvest.generate import generate
from crossinvest.generate.vocab import HOLDING_WORDS, INDUSTRY_WORDS

SIZE = 1500
REF = dt.date(2018, 12, 31)


class World:
    """A generated directory with its manifest and the files read back."""

    def __init__(self, root: Path, result) -> None:
        self.root = root
        self.result = result
        self.manifest = json.loads((root / "truth" / "manifest.json").read_text(encoding="utf-8"))
        self._cache: dict[str, tuple[list[str], list[list[str]]]] = {}

    def files(self, source: str | None = None) -> list[str]:
        return [f for f, info in self.manifest["files"].items() if source in (None, info["source"])]

    def read(self, name: str) -> tuple[list[str], list[list[str]]]:
        """Header and data rows of a delivered file, every cell as text."""
        if name not in self._cache:
            path = self.root / name
            if name.endswith(".xlsx"):
                rows = (
                    CalamineWorkbook.from_path(str(path))
                    .get_sheet_by_index(0)
                    .to_python(skip_empty_area=False)
                )
                header_at = self.manifest["files"][name]["header_line"] - 1
                self._cache[name] = (
                    [str(c) for c in rows[header_at]],
                    [[_cell(c) for c in r] for r in rows[header_at + 1 :]],
                )
            else:
                raw = path.read_bytes()
                text = _decode(raw)
                delim = "\t" if name.endswith(".tsv") else ","
                rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delim))
                self._cache[name] = (rows[0], rows[1:])
        return self._cache[name]

    def column(self, name: str, field: str) -> list[str]:
        from crossinvest.sources import SOURCES

        header, rows = self.read(name)
        source = SOURCES[self.manifest["files"][name]["source"]]
        pos = _position(header, source.field(field))
        return [r[pos] for r in rows]

    def bad(self, name: str) -> set[int]:
        return {b["row"] for b in self.manifest["files"][name]["bad_rows"]}

    def enterprises(self) -> list[dict]:
        return pq.read_table(self.root / "truth" / "enterprises.parquet").to_pylist()


def _cell(c) -> str:
    if isinstance(c, dt.datetime):
        return c.date().isoformat()
    if isinstance(c, dt.date):
        return c.isoformat()
    if isinstance(c, float):
        return repr(c)
    return "" if c is None else str(c)


def _decode(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("gb18030")


def _fold(s: str) -> str:
    return "".join(chr(ord(c) - 0xFEE0) if "！" <= c <= "～" else c for c in s)


def _norm_header(h: str) -> str:
    h = "".join(
        chr(ord(c) - 0xFEE0) if "！" <= c <= "～" else (" " if c == "\u3000" else c) for c in h
    )
    return re.sub(r"\(.*\)$", "", h.strip()).strip()


def _position(header: list[str], f) -> int:
    norm = [_norm_header(h) for h in header]
    for alias in f.aliases:
        if alias in norm:
            return norm.index(alias)
    raise KeyError(f.name)


@cache
def world(noise: bool, formats: str = "mixed", size: int = SIZE, seed: int = 42) -> World:
    root = Path(tempfile.mkdtemp(prefix="ci-gen-"))
    atexit.register(shutil.rmtree, root, True)
    return World(root, generate(root, enterprises=size, seed=seed, noise=noise, formats=formats))


@pytest.fixture(scope="module")
def noisy() -> World:
    return world(True)


@pytest.fixture(scope="module")
def clean() -> World:
    return world(False, "csv")


def parse_ratio(s: str) -> float:
    if s.endswith("%"):
        return float(s[:-1]) / 100
    v = float(s)
    return v / 100 if v > 1 else v


# ---- files and counts -------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    def digest(root: Path) -> dict[str, str]:
        return {
            str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }

    a = generate(tmp_path / "a", enterprises=400, seed=7, noise=True)
    b = generate(tmp_path / "b", enterprises=400, seed=7, noise=True)
    c = generate(tmp_path / "c", enterprises=400, seed=8, noise=True)
    da, db, dc = digest(a.out_dir), digest(b.out_dir), digest(c.out_dir)
    assert da == db
    assert "registry.xlsx" in da and "truth/manifest.json" in da
    assert da["shareholders.csv"] != dc["shareholders.csv"]


@pytest.mark.parametrize("noise", [True, False])
def test_manifest_counts_equal_rows_read_back(noise: bool) -> None:
    w = world(noise) if noise else world(False, "csv")
    listed = {f.path.name: f.rows for f in w.result.files}
    assert set(listed) == set(w.manifest["files"])
    for name, info in w.manifest["files"].items():
        header, rows = w.read(name)
        assert len(rows) == info["rows"] == listed[name], name
        assert header == info["header"], name
    assert w.manifest["counts"]["enterprises"] == SIZE
    assert len(w.read(w.files("registry")[0])[1]) == SIZE + len(
        w.manifest["files"][w.files("registry")[0]]["duplicates"]
    )


def test_registry_is_xlsx_with_title_rows_when_mixed(noisy: World) -> None:
    rows = (
        CalamineWorkbook.from_path(str(noisy.root / "registry.xlsx"))
        .get_sheet_by_index(0)
        .to_python(skip_empty_area=False)
    )
    assert "企业登记信息" in rows[0][0]
    assert all(c in ("", None) for c in rows[1])
    assert rows[2][0] == "统一社会信用代码"
    kinds = {type(r[5]).__name__ for r in rows[3:]}  # 成立日期: date cells and text
    assert {"date", "str"} <= kinds


def test_csv_format_and_large_sizes_write_registry_csv(clean: World) -> None:
    assert clean.files("registry") == ["registry.csv"]


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="格式"):
        generate(tmp_path, enterprises=100, formats="pdf")


# ---- identifiers ----------------------------------------------------------------------------


@pytest.mark.parametrize("noise", [True, False])
def test_usccs_verify_except_intended_bad_rows(noise: bool) -> None:
    w = world(noise) if noise else world(False, "csv")
    reg = w.files("registry")[0]
    bad = w.bad(reg)
    codes = w.column(reg, "uscc")
    reg_no = w.column(reg, "reg_no")
    for i, (code, no) in enumerate(zip(codes, reg_no, strict=True), start=1):
        if i in bad:
            continue
        if code:
            assert uscc.is_valid(code), (i, code)
            assert code[:2] == "91"
        else:
            assert re.fullmatch(r"\d{15}", no), (i, no)
    ids = w.column("shareholders.csv", "investor_id")
    types = w.column("shareholders.csv", "investor_id_type")
    checked = 0
    for code, t in zip(ids, types, strict=True):
        if t in ("统一社会信用代码", "营业执照"):
            assert uscc.is_valid(code), code
            checked += 1
    assert checked > SIZE / 2


def test_resident_ids_verify_and_come_from_many_provinces(noisy: World) -> None:
    ids = [
        i
        for i, t in zip(
            noisy.column("shareholders.csv", "investor_id"),
            noisy.column("shareholders.csv", "investor_id_type"),
            strict=True,
        )
        if t == "居民身份证"
    ]
    assert len(ids) > SIZE / 2
    assert all(ric.is_valid(i) for i in ids)
    provinces = {i[:2] for i in ids}
    assert "31" in provinces and len(provinces) >= 20
    births = {ric.get_birth_date(i).year for i in ids}
    assert min(births) >= 1950 and max(births) <= 2000


def test_resident_ids_appear_only_in_the_shareholders_file(noisy: World) -> None:
    pattern = re.compile(rb"(?<![0-9A-Z])\d{17}[\dX](?![0-9A-Z])")
    for path in sorted(noisy.root.rglob("*")):
        if not path.is_file() or path.name == "shareholders.csv":
            continue
        data = path.read_bytes()
        if path.suffix == ".xlsx":
            rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
            data = "\n".join(",".join(_cell(c) for c in r) for r in rows).encode()
        elif path.suffix == ".parquet":
            data = json.dumps(
                pq.read_table(path).to_pylist(), ensure_ascii=False, default=str
            ).encode()
        found = [m.decode() for m in pattern.findall(data) if ric.is_valid(m.decode())]
        assert not found, (path.name, found[:3])


def test_national_groups_and_foreign_investors(noisy: World) -> None:
    names = noisy.column("shareholders.csv", "investor_name")
    ids = noisy.column("shareholders.csv", "investor_id")
    types = noisy.column("shareholders.csv", "investor_type")
    national = [(n, i) for n, i in zip(names, ids, strict=True) if i[2:8] == "100000"]
    assert national and all(n.startswith("中国") and uscc.is_valid(i) for n, i in national)
    foreign = [(n, i) for n, i, t in zip(names, ids, types, strict=True) if t == "外国(地区)企业"]
    assert any(n.startswith("香港") for n, _ in foreign) and any(
        n.startswith("澳门") for n, _ in foreign
    )
    assert any(n.isascii() for n, _ in foreign)  # English names too
    assert all(i == "" for _, i in foreign)


# ---- names ------------------------------------------------------------------------------------


def test_names_follow_the_statutory_pattern(noisy: World) -> None:
    reg = noisy.files("registry")[0]
    info = noisy.manifest["files"][reg]
    skip = (
        noisy.bad(reg)
        | {c["row"] for c in info["formula_cells"]}
        | {w["row"] for w in info["warning_rows"]}
    )
    words = sorted(set(INDUSTRY_WORDS) | set(HOLDING_WORDS), key=len, reverse=True)
    form = r"(集团有限公司|股份有限公司|有限责任公司|有限公司)$"
    names = noisy.column(reg, "name")
    industries = noisy.column(reg, "industry_code")
    regions = noisy.column(reg, "region_code")
    seen = set()
    for i, (name, code, region) in enumerate(zip(names, industries, regions, strict=True), start=1):
        if i in skip:
            continue
        m = re.search(form, name)
        assert m, name
        body = name[: m.start()]
        word = next((w for w in words if body.endswith(w)), None)
        assert word, name
        table = HOLDING_WORDS if m.group(1) == "集团有限公司" else INDUSTRY_WORDS
        assert word in table, name
        prefixes = table[word].split()
        bare = code.lstrip("ABCDEFGHIJKLMNOPQRST")
        if re.fullmatch(r"\d{4}", bare) and bare not in ("9999", "0000", "8888", "1000", "5555"):
            assert any(bare.startswith(p) for p in prefixes), (name, code)
        rest = body[: -len(word)]
        if region.startswith("31"):
            assert rest.startswith("上海") or "（上海）" in rest, name
        seen.add(name)
    assert len(seen) > SIZE * 0.9
    assert any(
        re.match(
            r"上海(浦东|闵行|嘉定|松江|青浦|奉贤|宝山|崇明|黄浦|徐汇|长宁|静安|普陀|虹口|杨浦|金山)",
            n,
        )
        for n in seen
    )
    assert any(n.endswith("股份有限公司") for n in seen) and any(
        n.endswith("集团有限公司") for n in seen
    )


def test_registered_names_are_unique(clean: World) -> None:
    names = clean.column("registry.csv", "name")
    assert len(names) == len(set(names))
