"""Shared domain of News Signals: models, errors, ports, settings and wiring.

Nothing here imports torch, CDK or FastAPI at module level (see DESIGN.md).
"""
