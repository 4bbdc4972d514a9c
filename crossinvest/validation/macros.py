"""DuckDB SQL macros that parse and check delivered text, set-based.

(Placeholder: being written. ``install_macros(con)`` must be idempotent.)
"""

from __future__ import annotations

import duckdb


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Create (or replace) every ``ci_*`` macro on ``con``."""
