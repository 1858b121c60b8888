"""What a user runs: the applications built on the library and the Ray runtime.

``demo`` is ``aither-wm demo`` (its report in ``demo_report``), ``service`` is ``aither-wm run``,
``train`` is ``aither-wm train``, ``tune`` is ``aither-wm tune lambda``; ``presets`` holds the named
model and run sizes (Ray-free). The command line (:mod:`aither_wm.cli`) only parses arguments and
calls these; benchmarks live in :mod:`aither_wm.bench`.
"""
