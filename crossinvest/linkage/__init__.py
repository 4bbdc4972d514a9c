"""Record linkage: tie tax and statistics records without a valid USCC to registry enterprises.

Modules: ``normalise`` (Chinese enterprise names taken apart in SQL), ``features``
(what is compared, for enterprises and records), ``model`` (the Splink model and
its scale), ``training`` (m and u from the warehouse's data), ``engine`` (one
linking run: deterministic rules, Splink, bands), ``lifecycle`` (loads and
rollbacks), ``review`` (the analyst's queue and decisions), ``cli``
(``crossinvest links``), ``plugin`` (the hooks), ``synth`` (synthetic data with
known truth for tests and benchmarks). See docs/linkage.md.
"""
