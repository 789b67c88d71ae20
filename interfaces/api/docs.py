"""The API's documentation pages, served without a CDN.

`/docs` (Swagger UI) and `/redoc` (ReDoc) load their JavaScript and CSS from `/docs-assets/`, which
serves the files shipped in the installed `fastapi-offline` package (MIT; Swagger UI and ReDoc
bundles). Nothing is fetched from outside at run time: the pages work on a machine without
internet. The pages are public, like `/openapi.json` they describe.

The app is built with `docs_url=None, redoc_url=None` and then `install_docs(app)`; this is
FastAPI's "Custom Docs UI Static Assets (Self-Hosting)" recipe with the files from a package.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs-assets"
DOCS_URL = "/docs"
REDOC_URL = "/redoc"
SWAGGER_JS = "swagger-ui-bundle.js"
SWAGGER_CSS = "swagger-ui.css"
REDOC_JS = "redoc.standalone.js"
FAVICON = "favicon.png"
ASSET_FILES = (SWAGGER_JS, SWAGGER_CSS, REDOC_JS, FAVICON)

# Swagger UI's online validator badge would send the spec's URL to validator.swagger.io.
_SWAGGER_DEFAULTS: dict[str, Any] = {"validatorUrl": None}

# The pages may load only what this server serves. ReDoc's side menu always shows Redocly's logo
# from their CDN (no option turns it off); this policy keeps the browser from fetching it. Inline
# script and style: FastAPI's page starts Swagger UI inline, and both UIs inject their styles.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


def _self_contained(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page


def assets_directory() -> Path:
    """Where the installed package keeps the Swagger UI and ReDoc bundles; refuses a broken install."""
    directory = Path(str(files("fastapi_offline").joinpath("static")))
    missing = [name for name in ASSET_FILES if not (directory / name).is_file()]
    if missing:
        raise RuntimeError(f"fastapi-offline's assets are missing from {directory}: {', '.join(missing)}")
    return directory


def install_docs(app: FastAPI) -> None:
    """Register `/docs`, its OAuth2 redirect, `/redoc`, and the assets under `/docs-assets/`."""
    if app.docs_url is not None or app.redoc_url is not None:
        raise ValueError("construct the app with docs_url=None, redoc_url=None: install_docs serves them")
    if app.openapi_url is None:
        raise ValueError("the docs pages need the app's OpenAPI schema (openapi_url is None)")
    openapi_url = app.openapi_url
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url
    swagger_parameters = _SWAGGER_DEFAULTS | (app.swagger_ui_parameters or {})

    app.mount(ASSETS_URL, StaticFiles(directory=assets_directory()), name="docs-assets")

    def assets(request: Request) -> str:
        return f"{request.scope.get('root_path', '')}{ASSETS_URL}"

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{assets(request)}/{SWAGGER_JS}",
            swagger_css_url=f"{assets(request)}/{SWAGGER_CSS}",
            swagger_favicon_url=f"{assets(request)}/{FAVICON}",
            oauth2_redirect_url=f"{root}{oauth2_redirect_url}" if oauth2_redirect_url else None,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=swagger_parameters,
        )
        return _self_contained(page)

    if oauth2_redirect_url:

        @app.get(oauth2_redirect_url, include_in_schema=False)
        async def swagger_ui_oauth2_redirect() -> HTMLResponse:
            return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{assets(request)}/{REDOC_JS}",
            redoc_favicon_url=f"{assets(request)}/{FAVICON}",
            with_google_fonts=False,
        )
        return _self_contained(page)
