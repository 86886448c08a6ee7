"""The local feed server lives in api/bench/feedserver.py (`newsig bench ingest` serves
from it too); tests import it from here."""

from api.bench.feedserver import FeedServer, Route, atom, rss

__all__ = ["FeedServer", "Route", "atom", "rss"]
