"""Tools that play a contact centre on a virtual clock; never loaded by the running engine.

- ``simulator``: the discrete-event simulator around the real ACD core (``hotline.acd.core.Acd``);
- ``appqueue``: Asterisk app_queue's routing as a router with the core's interface, to compare;
- ``files``: call traces and agent rosters as CSV, generated days, rosters planned by Erlang C.

This package sits above the live code: it imports the pure cores (``hotline.acd.core``,
``hotline.acd.events``,
``hotline.acd.ewt``, ``hotline.acd.erlang``) and nothing imports it but ``hotline simulate``, the
benchmarks and
the tests (an import-linter contract in ``make lint`` holds that). Erlang C stays in
``hotline.acd.erlang``: the live staffing plan (``hotline.acd.staffing``, shown on the desk) needs
it too, and a
pure formula with no imports belongs with the pure cores the simulator already depends on.
"""
