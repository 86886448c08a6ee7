"""Feed ingestion: fetch (httpx) -> parse (feedparser) -> dedup -> classify -> store."""
