"""Readers: one delivered file (CSV, TSV or XLSX) to a DuckDB staging table of raw text.

The loader calls ``stage_file``; validation then parses the text in SQL.
``detect_source`` and ``normalise_header`` are the header-matching rules of
data-interface.md ("Header names").
"""

from crossinvest.readers.base import FileRefused, StagedFile
from crossinvest.readers.headers import detect_source, normalise_header
from crossinvest.readers.stage import stage_file

__all__ = ["FileRefused", "StagedFile", "detect_source", "normalise_header", "stage_file"]
