"""Constructs composed by infra/stacks.py."""
