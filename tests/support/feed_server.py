"""The local feed server lives in ingest/feedserver.py (the ingest benchmark uses it too)."""

from ingest.feedserver import FeedServer, Route, atom, rss

__all__ = ["FeedServer", "Route", "atom", "rss"]
