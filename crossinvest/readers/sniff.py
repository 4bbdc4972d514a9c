"""What a delivered file is: its kind from the leading bytes, and a text file's encoding.

DuckDB reads only UTF-8 here (the ``encodings`` extension cannot be installed), so
a GB18030/GBK file is transcoded to a UTF-8 temp file in streaming chunks.
"""

from __future__ import annotations

import codecs
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from crossinvest.readers.base import FileRefused

# Large enough to hold any header and a good run of rows for encoding detection.
SAMPLE_BYTES = 4 * 1024 * 1024
TRANSCODE_CHUNK = 16 * 1024 * 1024

_ZIP = b"PK\x03\x04"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, .doc, … (legacy Office)
_BINARY_MAGIC: tuple[tuple[bytes, str], ...] = (
    (_OLE2, "是旧版 Office 格式（如 .xls），不受支持；请另存为 .xlsx 或 CSV（UTF-8）"),
    (b"%PDF", "是 PDF 文档，不是数据表格"),
    (b"\x1f\x8b", "是 gzip 压缩文件；请解压后提交"),
    (b"Rar!", "是 RAR 压缩文件；请解压后提交"),
    (b"7z\xbc\xaf\x27\x1c", "是 7z 压缩文件；请解压后提交"),
    (b"PK\x05\x06", "是空的 zip 压缩包，不是数据表格"),
)
_CONTROL = re.compile(r"[\x01-\x08\x0e-\x1f\x7f]")
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)


@dataclass(frozen=True)
class TextSample:
    """The decoded start of a text file."""

    encoding: str  # 'utf-8' | 'utf-8-sig' | 'gb18030'
    text: str  # decoded sample, BOM removed
    whole_file: bool  # the sample is the entire file
    ascii_only: bool  # the sample's bytes are all ASCII (encoding not really evidenced)


def file_kind(path: Path) -> str:
    """'xlsx' for a zip container, 'text' otherwise; refuse empty and known binary formats."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as e:
        raise FileRefused(path, f"无法读取文件（{e.strerror or e}）") from e
    if not head:
        raise FileRefused(path, "文件为空")
    if head.startswith(_ZIP):
        return "xlsx"
    for magic, reason in _BINARY_MAGIC:
        if head.startswith(magic):
            raise FileRefused(path, reason)
    return "text"


CUT_AT_END = "文件末尾有不完整的字符（文件可能被截断）"


def _decodes_but_for_its_end(raw: bytes, encoding: str) -> bool:
    """Whether ``raw`` decodes in ``encoding`` except for a character cut at its end."""
    try:
        _decode_sample(raw, encoding, False)
    except UnicodeDecodeError:
        return False
    return True


def ends_inside_utf8_character(path: Path) -> bool:
    """Whether the file's last bytes are the start of a UTF-8 character without its end.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = p.write_bytes("名称\\n上海".encode()[:-1])
    >>> ends_inside_utf8_character(p)
    True
    """
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        fh.seek(max(0, fh.tell() - 4))
        tail = fh.read()
    # Continuation bytes at the tail's start belong to a character that began before it.
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        decoder.decode(tail.lstrip(bytes(range(0x80, 0xC0))))
    except UnicodeDecodeError:
        return False
    return bool(decoder.getstate()[0])  # bytes still waiting for the rest of a character


def _decode_sample(raw: bytes, encoding: str, final: bool) -> str:
    # An incremental decoder keeps a multi-byte character cut at the sample's end
    # pending instead of failing on it.
    return codecs.getincrementaldecoder(encoding)("strict").decode(raw, final=final)


def sample_text(path: Path) -> TextSample:
    """Read the file's start and decide its encoding from the bytes.

    UTF-8 BOM -> 'utf-8-sig'; else strict UTF-8 -> 'utf-8'; else strict GB18030
    -> 'gb18030'; else the file is refused as not text. NUL bytes or many control
    characters mean a binary file.
    """
    with open(path, "rb") as fh:
        raw = fh.read(SAMPLE_BYTES + 1)
    whole = len(raw) <= SAMPLE_BYTES
    raw = raw[:SAMPLE_BYTES]
    if raw.startswith(_UTF16_BOMS):
        raise FileRefused(path, "是 UTF-16/UTF-32 编码，不受支持；请另存为 UTF-8 或 GB18030")
    if b"\x00" in raw:
        raise FileRefused(path, "是二进制文件（含空字节），不是文本表格")
    if raw.startswith(codecs.BOM_UTF8):
        encoding, body = "utf-8-sig", raw[len(codecs.BOM_UTF8) :]
    else:
        encoding, body = "utf-8", raw
    try:
        text = _decode_sample(body, "utf-8", whole)
    except UnicodeDecodeError:
        # Text that decodes to its last character and breaks only there was cut
        # inside that character: a truncated file, whichever encoding also happens
        # to accept the bytes (cut UTF-8 Chinese often reads as GB18030 garbage).
        if whole and _decodes_but_for_its_end(body, "utf-8"):
            raise FileRefused(path, CUT_AT_END) from None
        if encoding == "utf-8-sig":
            raise FileRefused(path, "带 UTF-8 BOM，但内容不是有效的 UTF-8") from None
        try:
            text = _decode_sample(body, "gb18030", whole)
        except UnicodeDecodeError:
            if whole and _decodes_but_for_its_end(body, "gb18030"):
                raise FileRefused(path, CUT_AT_END) from None
            raise FileRefused(
                path, "无法识别的编码（既不是 UTF-8 也不是 GB18030/GBK），可能不是文本表格"
            ) from None
        encoding = "gb18030"
    controls = len(_CONTROL.findall(text))
    if controls > max(2, len(text) // 100):
        raise FileRefused(path, "含大量控制字符，是二进制文件，不是文本表格")
    if not text.strip():
        raise FileRefused(path, "文件为空（只有空白）")
    return TextSample(encoding, text, whole, raw.isascii())


class UndecodableText(FileRefused):
    """The file holds bytes that are invalid in the encoding it was read with."""


def rewrite_as_utf8(path: Path, encoding: str, tmp_dir: Path, *, skip_chars: int = 0) -> Path:
    """Stream ``path`` decoded from ``encoding`` into a new UTF-8 file under ``tmp_dir``.

    The first ``skip_chars`` decoded characters are left out (leading blank lines,
    which DuckDB's own ``skip`` miscounts when their line ends differ from the
    body's). ``encoding`` 'utf-8-sig' drops the BOM. Never holds more than one
    chunk in memory; the caller deletes the result. A byte sequence invalid in
    ``encoding`` raises ``UndecodableText`` naming the line.
    """
    tmp_dir.mkdir(parents=True, exist_ok=True)
    out = tmp_dir / f"readers-{uuid.uuid4().hex}.utf8.csv"
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    label = "GB18030" if encoding == "gb18030" else "UTF-8"
    lines_before = 0
    try:
        with open(path, "rb") as src, open(out, "w", encoding="utf-8", newline="") as dst:
            while chunk := src.read(TRANSCODE_CHUNK):
                try:
                    text = decoder.decode(chunk)
                except UnicodeDecodeError as e:
                    line = lines_before + chunk[: max(e.start, 0)].count(b"\n") + 1
                    raise UndecodableText(
                        path, f"文件第 {line} 行附近含有无效的 {label} 字节（编码混杂或文件损坏）"
                    ) from None
                if skip_chars:
                    cut = min(skip_chars, len(text))
                    text, skip_chars = text[cut:], skip_chars - cut
                dst.write(text)
                lines_before += chunk.count(b"\n")
            try:
                dst.write(decoder.decode(b"", final=True))
            except UnicodeDecodeError:
                raise UndecodableText(path, "文件末尾有不完整的字符（文件可能被截断）") from None
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return out
