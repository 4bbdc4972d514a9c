"""Where crossinvest keeps its state, and the settings an operator may change.

Every command honours ``CROSSINVEST_HOME``; two homes never share state.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = Path.home() / ".crossinvest"


@dataclass(frozen=True)
class Home:
    """The folder that holds the warehouse, the raw archive, backups and reports.

    >>> h = Home(Path("/tmp/ci-home"))
    >>> h.warehouse.name
    'warehouse.duckdb'
    """

    root: Path

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def archive(self) -> Path:
        return self.root / "archive"

    @property
    def backups(self) -> Path:
        return self.root / "backups"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def settings_file(self) -> Path:
        return self.root / "settings.json"

    def ensure(self) -> Home:
        for p in (self.root, self.archive, self.backups, self.reports, self.tmp):
            p.mkdir(parents=True, exist_ok=True)
        return self

    def secret_key(self) -> bytes:
        """The key for hashing personal identifiers; created once per home.

        It never leaves the home: a hash made with it cannot be matched against
        a list of ID numbers by anyone who does not hold the home.
        """
        path = self.root / "secret.key"
        if not path.exists():
            self.ensure()
            tmp = path.with_suffix(".tmp")
            tmp.write_text(secrets.token_hex(32))
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        return bytes.fromhex(path.read_text().strip())

    def settings(self) -> dict:
        """Operator settings (thresholds, exchange rates, …) merged over defaults."""
        merged = dict(DEFAULT_SETTINGS)
        if self.settings_file.exists():
            merged.update(json.loads(self.settings_file.read_text(encoding="utf-8")))
        return merged


# Defaults an operator may override in settings.json under the home.
DEFAULT_SETTINGS: dict = {
    # CNY per unit of foreign currency, for registered capital stated in 万美元 etc.
    "fx_to_cny": {"USD": 6.6174, "HKD": 0.8431, "EUR": 7.8473, "JPY": 0.0599, "GBP": 8.8658},
    # Splink match-weight bands (issue 4).
    "link_accept_weight": 10.0,
    "link_review_weight": 4.0,
    "link_margin_weight": 4.0,
    "link_max_review_candidates": 3,
    "link_engine": "duckdb",
    # Sharing service (issue 6): sign-in, sessions and throttling.
    # Role for requests without credentials; only on a one-person workstation
    # (``crossinvest serve`` refuses it on a non-loopback address).
    "anonymous_role": None,
    "session_hours": 8,
    # Session cookies are Secure (serve over TLS); false only for a plain-HTTP pilot.
    "cookie_secure": True,
    "login_slow_after": 3,
    "login_lock_after": 10,
    "login_lock_minutes": 30,
    "login_ip_per_minute": 30,
    "login_delay_cap_seconds": 60,
}


def current_home() -> Home:
    """The home named by ``CROSSINVEST_HOME``, else ``~/.crossinvest``."""
    env = os.environ.get("CROSSINVEST_HOME")
    return Home(Path(env).expanduser().resolve() if env else DEFAULT_HOME)
