"""Benchmarks behind ``aither-wm bench ...``; each module returns one JSON-able dict."""
