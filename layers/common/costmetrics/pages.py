"""What the functions that serve browser pages share (DocsFunction, ConsoleFunction): where the request came
in, JSON that is safe inside a <script> element, and the headers every page and asset carries."""

from __future__ import annotations

import json
import re
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

_HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$")
_PREFIX = re.compile(r"^(/[A-Za-z0-9._~-]+)*$")


def base_path(app: APIGatewayRestResolver) -> str:
    """The path of the API's root on the URL this request was sent to: the stage on an execute-api URL
    (/dev), the base path of a custom domain, or "" (what requestContext.path has before the resource
    path). Only URL-safe segments are kept, so it can go into a page as it is."""
    event = app.current_event
    full, path = event.request_context.path or "", event.path
    prefix = full[: -len(path)] if path and full.endswith(path) else ""
    return prefix if _PREFIX.match(prefix) else ""


def base_url(app: APIGatewayRestResolver) -> str:
    """The URL this request was sent to, up to the API's root: scheme, host, then `base_path`. A Host or
    X-Forwarded-Proto header that is not a plain host or scheme is not trusted."""
    headers = {name.lower(): value for name, value in (app.current_event.headers or {}).items()}
    host = headers.get("host") or ""
    host = host if _HOST.match(host) else "localhost"
    scheme = headers.get("x-forwarded-proto") or "https"
    scheme = scheme if scheme in ("http", "https") else "https"
    return f"{scheme}://{host}{base_path(app)}"


def script_json(value: Any) -> str:
    """JSON that is safe inside a <script> element: no '<', '>' or '&' left to end it early."""
    text = json.dumps(value, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page_headers(content_security_policy: str) -> dict[str, str]:
    """The headers of a page: its policy, no MIME sniffing, no referrer, no framing, revalidated on use."""
    return {
        "Content-Security-Policy": content_security_policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }
