"""Documentation keeps up with the code (the datasette pattern): every operator setting and
every command is described somewhere in README.md or docs/, so none exists only in the code."""

from __future__ import annotations

from pathlib import Path

import typer.main

from crossinvest.config import DEFAULT_SETTINGS

ROOT = Path(__file__).resolve().parent.parent


def _docs() -> str:
    return "\n".join(
        p.read_text(encoding="utf-8")
        for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    )


def test_every_setting_is_documented() -> None:
    text = _docs()
    missing = [k for k in DEFAULT_SETTINGS if f"`{k}`" not in text]
    assert missing == [], f"document these settings in docs/ (as `name`): {missing}"


def _commands(group: typer.main.TyperGroup, prefix: str = "") -> list[str]:  # type: ignore[name-defined]
    out = []
    for name, cmd in group.commands.items():
        full = f"{prefix}{name}"
        out.append(full)
        if hasattr(cmd, "commands"):
            out += _commands(cmd, full + " ")
    return out


def test_every_command_is_documented() -> None:
    from crossinvest.cli import app

    group = typer.main.get_command(app)
    text = _docs()
    commands = _commands(group)  # type: ignore[arg-type]
    assert len(commands) > 20
    missing = [c for c in commands if f"crossinvest {c}" not in text]
    assert missing == [], f"document these commands in README.md or docs/: {missing}"
