"""Benchmarks that print figures (never pass/fail): ``python -m bench`` runs them all.

Each module here with a ``main()`` is one bench; ``bench/__main__.py`` finds and runs them.
"""
