"""HTTP API (FastAPI), its local server, the Lambda entry and the `newsig` CLI."""
