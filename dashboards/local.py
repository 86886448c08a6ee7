"""The local dashboard and the API docs: pages and assets served by the API app itself (no
CDN), so both work offline and under a strict Content-Security-Policy (no inline scripts).
Every URL in them is relative, so the same pages work at / locally and under the stage prefix
on API Gateway (the AWS deployment serves them from the API function, see README)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"


def mount_dashboard(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False, response_model=None)
    def index(request: Request) -> FileResponse | RedirectResponse:
        # The page's URLs are relative, so it works under any prefix: locally at /, on API
        # Gateway at /<stage>/. There `/prod` and `/prod/` both reach this route, and only the
        # latter resolves `static/app.js` right: redirect the former (a relative Location,
        # so it can never leave the host).
        event = request.scope.get("aws.event") or {}
        full = str((event.get("requestContext") or {}).get("path") or "/")
        if not full.endswith("/"):
            return RedirectResponse(f"./{full.rsplit('/', 1)[-1]}/", status_code=308)
        return FileResponse(STATIC / "index.html", media_type="text/html")


DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>News Signals API</title>
<link rel="stylesheet" href="docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script src="static/docs-init.js"></script></body></html>
"""


def mount_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the swagger-ui-bundle package's files (Apache-2.0)."""
    import swagger_ui_bundle
    from fastapi.responses import HTMLResponse

    app.mount("/docs/assets", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
              name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(DOCS_PAGE)
