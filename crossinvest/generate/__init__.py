"""Synthetic bureau deliveries at any scale (``crossinvest generate``).

>>> from crossinvest.generate import generate, GenerateResult
"""

from crossinvest.generate.core import GeneratedFile, GenerateResult, generate

__all__ = ["GenerateResult", "GeneratedFile", "generate"]
