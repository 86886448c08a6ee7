"""The local feed server lives in ingest/bench/feedserver.py (`newsig bench ingest` serves
from it too); tests import it from here."""

from ingest.bench.feedserver import FeedServer, Route, atom, rss

__all__ = ["FeedServer", "Route", "atom", "rss"]
