"""The plugin manager, with crossinvest's built-in modules registered as plugins."""

from __future__ import annotations

import importlib
from functools import cache

import pluggy

from crossinvest import hooks

# Order matters for migrations: core tables first, then what builds on them.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "crossinvest.warehouse.schema",
    "crossinvest.reference.plugin",
    "crossinvest.analytics.plugin",
    "crossinvest.linkage.plugin",
    "crossinvest.web.plugin",
    "crossinvest.access.plugin",
    "crossinvest.ops.plugin",
)


@cache
def get_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("crossinvest")
    pm.add_hookspecs(hooks)
    for name in DEFAULT_PLUGINS:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as e:
            # A built-in plugin not written yet is skipped; a broken import inside
            # an existing one is a real error and must surface.
            if e.name == name:
                continue
            raise
        pm.register(mod, name=name)
    pm.load_setuptools_entrypoints("crossinvest")
    return pm
