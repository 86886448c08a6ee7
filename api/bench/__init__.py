"""Benchmarks: every `newsig bench ...` command and the load test, in one package.

Tooling, not service: no handler imports it, and infra/bundling.py leaves it out of every
Lambda bundle (tests/infra/test_bundles.py proves it). One server fixture and one port
helper (api/bench/server.py) serve all of them.
"""
