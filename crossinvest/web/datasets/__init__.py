"""The datasets the web application reads, each registered with the access gate.

Importing this package registers them (``access.gate.dataset``).
"""

from crossinvest.web.datasets import docs, enterprise_list, enterprises, ops, profile, stats

__all__ = ["docs", "enterprise_list", "enterprises", "ops", "profile", "stats"]
