"""Demo-like warehouses for the web tests and the benchmark.

``demo_home(dest)`` gives a home holding a loaded warehouse: deliveries written
by the generator (``crossinvest.generate``) and loaded through the real loader,
exactly as ``crossinvest demo`` does. The first call in a process builds a
template; later calls copy it, so each test gets its own home cheaply.
``CROSSINVEST_WEB_TEMPLATE`` names an existing home to copy instead (a large
warehouse for the benchmark, or one built by hand).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from pathlib import Path

from crossinvest.config import Home

SOURCE_ORDER = ("registry", "shareholders", "tax", "stats")

_templates: dict[tuple[int, int], Path] = {}
_lock = threading.Lock()


def deliveries(out: Path, *, enterprises: int, seed: int) -> list[tuple[str, Path]]:
    """Generate deliveries into ``out``; (source, path) in load order."""
    from crossinvest.generate import generate

    result = generate(out, enterprises=enterprises, seed=seed)
    # registry first so the others find their enterprises; within a source, the
    # generator's order (a correction after the deliveries it corrects)
    files = sorted(result.files, key=lambda f: SOURCE_ORDER.index(f.source))
    return [(f.source, Path(f.path)) for f in files]


def load_all(home: Home, files: list[tuple[str, Path]]) -> list[dict]:
    """Load every file in order through ``load_file``; refused files are skipped."""
    from crossinvest.readers import FileRefused
    from crossinvest.warehouse.connection import connect
    from crossinvest.warehouse.load import load_file

    results = []
    with connect(home) as wh:
        for source, path in files:
            try:
                results.append(load_file(wh, source, path).as_json())
            except FileRefused:
                continue
    return results


def open_workstation(home: Home, role: str | None = "analyst") -> Home:
    """Set ``anonymous_role`` in the home's settings: requests without sign-in act as ``role``.

    The single-user workstation mode; the web tests of analysts' pages use it so
    that they need not sign in (the sharing tests sign in for real).
    """
    settings = (
        json.loads(home.settings_file.read_text("utf-8")) if home.settings_file.exists() else {}
    )
    settings["anonymous_role"] = role
    home.settings_file.write_text(json.dumps(settings, ensure_ascii=False), "utf-8")
    return home


def demo_home(
    dest: Path, *, enterprises: int = 400, seed: int = 11, anonymous_role: str | None = "analyst"
) -> Home:
    """A home at ``dest`` with the generator's data for ``enterprises`` loaded.

    ``anonymous_role`` (default: analyst) is written to its settings; pass
    ``None`` for a home that requires sign-in.
    """
    return open_workstation(_copy_template(dest, enterprises, seed), anonymous_role)


def _copy_template(dest: Path, enterprises: int, seed: int) -> Home:
    given = os.environ.get("CROSSINVEST_WEB_TEMPLATE")
    if given:
        shutil.copytree(
            given, dest, dirs_exist_ok=False, ignore=shutil.ignore_patterns("server.json")
        )
        return Home(dest)
    key = (enterprises, seed)
    with _lock:
        template = _templates.get(key)
        if template is None:
            root = Path(tempfile.mkdtemp(prefix=f"ci-web-template-{enterprises}-"))
            home = Home(root / "home").ensure()
            files = deliveries(root / "deliveries", enterprises=enterprises, seed=seed)
            load_all(home, files)
            _templates[key] = template = home.root
    shutil.copytree(template, dest, dirs_exist_ok=False)
    return Home(dest)
