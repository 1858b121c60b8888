"""Live-mesh tests need redis-server and prometheus (CI installs them: see .ci/run).

They fail, not skip, when either is missing. The ``live`` state source and executor come from the
``aither-live`` plugin through its entry point (installed by ``make install``), as in production.
"""
