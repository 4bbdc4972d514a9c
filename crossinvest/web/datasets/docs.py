"""The statistical definitions (口径) as a dataset: sections with stable anchors.

The text is ``content/definitions.md``, a copy of the spec's ``definitions.md``
shipped with the package (the server runs without the spec); a test keeps the
two equal.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from markdown_it import MarkdownIt

from crossinvest.access.gate import ReadContext, dataset

DEFINITIONS = Path(__file__).resolve().parent.parent / "content" / "definitions.md"

# Anchors the pages link figures to (checked by a test to exist).
ANCHOR = {
    "inbound": "inbound",
    "outbound": "outbound",
    "measures": "measures",
    "penetrate": "ownership-penetration",
    "periods": "periods",
    "origin": "origin-of-an-investor-direct",
    "regions": "regions",
    "disclosure": "disclosure-control",
}


def slug(title: str) -> str:
    """The anchor of a heading: its ASCII words, lower-cased and hyphenated.

    >>> slug("Ownership penetration (穿透)")
    'ownership-penetration'
    """
    ascii_part = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower()
    return ascii_part or re.sub(r"\s+", "-", title.strip())


@cache
def _sections() -> tuple[str, tuple[dict, ...]]:
    text = DEFINITIONS.read_text(encoding="utf-8")
    md = MarkdownIt("commonmark").enable("table")
    title = ""
    sections: list[dict] = []
    current: dict | None = None
    for line in text.splitlines():
        if line.startswith("# "):
            title = line[2:].strip()
            continue
        if line.startswith("## "):
            heading = line[3:].strip()
            current = {"id": slug(heading), "title": heading, "markdown": ""}
            sections.append(current)
            continue
        if current is None:
            current = {"id": "intro", "title": "", "markdown": ""}
            sections.append(current)
        current["markdown"] += line + "\n"
    for s in sections:
        s["markdown"] = s["markdown"].strip() + "\n"
        s["html"] = md.render(s["markdown"])
    return title, tuple(sections)


@dataset("definitions", guard="definitions")
def definitions(ctx: ReadContext) -> dict:
    """The definitions: title and sections (id, title, markdown, html)."""
    title, sections = _sections()
    return {"title": title, "sections": [dict(s) for s in sections], "anchors": ANCHOR}
