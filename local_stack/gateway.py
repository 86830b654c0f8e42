"""The REST API on 127.0.0.1: requests routed by template.yaml's Api events to the real handlers, with
the Cognito authorizer in front, Lambda proxy events built by local_stack.apigw, and the template's
GatewayResponses for what API Gateway answers itself.

Where this differs from API Gateway, on purpose: a path that matches no resource is a 404
{"error": "not_found"} (API Gateway says 403 "Missing Authentication Token", which misleads); a known
path with a method it does not have is, as in API Gateway, a 403 "Missing Authentication Token".
"""

from __future__ import annotations

import base64
import fnmatch
import json
import logging
import threading
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from local_stack.apigw import match_route, rest_event
from local_stack.authorizer import AuthorizerRefused, CognitoAuthorizer, InvalidToken, LambdaRequestAuthorizer
from local_stack.template import Route, lambda_authorizers, resources, routes

log = logging.getLogger("local_stack.gateway")

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's limit
Invoke = Callable[[str, dict[str, Any]], Any]


@dataclass
class HttpRequest:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    source_ip: str = "127.0.0.1"


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)


def _gateway_templates() -> dict[str, dict[str, Any]]:
    apis = resources("AWS::Serverless::Api")
    found: dict[str, dict[str, Any]] = {}
    for api in apis.values():
        found.update(api["Properties"].get("GatewayResponses", {}))
    return found


_DEFAULT_STATUS = {
    "UNAUTHORIZED": 401,
    "ACCESS_DENIED": 403,
    "MISSING_AUTHENTICATION_TOKEN": 403,
    "REQUEST_TOO_LARGE": 413,
    "THROTTLED": 429,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "AUTHORIZER_FAILURE": 500,
    "AUTHORIZER_CONFIGURATION_ERROR": 500,
    "DEFAULT_4XX": 400,
    "DEFAULT_5XX": 502,
}
_ERROR_TYPES = {
    "UNAUTHORIZED": "UnauthorizedException",
    "MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException",
    "REQUEST_TOO_LARGE": "RequestTooLargeException",
    "ACCESS_DENIED": "AccessDeniedException",
    "AUTHORIZER_FAILURE": "AuthorizerFailureException",
    "AUTHORIZER_CONFIGURATION_ERROR": "AuthorizerConfigurationException",
    "DEFAULT_5XX": "InternalServerErrorException",
}


def gateway_response(kind: str, message: str, request_id: str) -> HttpResponse:
    """What API Gateway answers itself for `kind` (UNAUTHORIZED, MISSING_AUTHENTICATION_TOKEN...), from the
    template's GatewayResponses, falling back to DEFAULT_4XX / DEFAULT_5XX as API Gateway does."""
    templates = _gateway_templates()
    status = _DEFAULT_STATUS.get(kind, 400)
    fallback = "DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX"
    spec = templates.get(kind) or templates.get(fallback) or {}
    status = int(spec.get("StatusCode", status)) if kind in templates else status
    template = (
        spec.get("ResponseTemplates", {}).get("application/json")
        or '{"message": "$context.error.messageString"}'
    )
    body = template.replace("$context.error.messageString", json.dumps(message)[1:-1])
    headers = [
        ("Content-Type", "application/json"),
        ("x-amzn-RequestId", request_id),
        ("x-amzn-ErrorType", _ERROR_TYPES.get(kind, kind)),
    ]
    # ResponseParameters: Headers: {Retry-After: "'1'"}: static values are quoted, as in API Gateway.
    for name, value in spec.get("ResponseParameters", {}).get("Headers", {}).items():
        headers.append((name, str(value).strip("'")))
    return HttpResponse(status, headers, body.encode())


def binary_media_types() -> list[str]:
    """The Api's BinaryMediaTypes, as media types (the template writes `/` as `~1`)."""
    (api,) = resources("AWS::Serverless::Api").values()
    return [str(t).replace("~1", "/") for t in api["Properties"].get("BinaryMediaTypes", [])]


def is_binary(media_type: str | None, binary_types: list[str]) -> bool:
    """Whether API Gateway treats `media_type` (a Content-Type, or the first Accept value) as binary."""
    if not media_type:
        return False
    bare = media_type.split(",")[0].split(";")[0].strip().lower()
    return any(fnmatch.fnmatchcase(bare, pattern.lower()) for pattern in binary_types)


class _Undecodable(Exception):
    """A Content-Encoding API Gateway does not support, or a body not compressed as it says (a 415)."""


def decoded(body: bytes, encoding: str | None, limit: int) -> bytes:
    """The body as API Gateway hands it on: decompressed per Content-Encoding (gzip, deflate, identity);
    raises _Undecodable, or ValueError past `limit` bytes."""
    coding = (encoding or "identity").strip().lower()
    if coding in ("", "identity") or not body:
        return body
    if coding not in ("gzip", "deflate"):
        raise _Undecodable(coding)
    inflater = zlib.decompressobj(wbits=31 if coding == "gzip" else 15)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error:
        raise _Undecodable(coding) from None
    if len(out) > limit:
        raise ValueError(f"over {limit} bytes once decompressed")
    if not inflater.eof:
        raise _Undecodable(coding)
    return out


def _json_response(status: int, body: dict[str, Any], request_id: str) -> HttpResponse:
    return HttpResponse(
        status,
        [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)],
        json.dumps(body).encode(),
    )


def _specificity(template_path: str) -> tuple[int, ...]:
    # API Gateway prefers a literal segment over a {parameter} at the first place they differ.
    return tuple(0 if part.startswith("{") else 1 for part in template_path.strip("/").split("/"))


class Gateway:
    """Turns HTTP requests into Lambda proxy events for the template's routes and back."""

    def __init__(
        self,
        invoke: Invoke,
        authorizer: CognitoAuthorizer,
        stage: str = "local",
        authorizer_ttl: float | None = None,
    ) -> None:
        self.invoke = invoke
        self.authorizer = authorizer
        self.stage = stage
        self.routes: list[Route] = routes()
        self.lambda_authorizers = {
            name: LambdaRequestAuthorizer(spec, invoke, authorizer_ttl)
            for name, spec in lambda_authorizers().items()
        }
        self.binary_types = binary_media_types()

    def method_arn(self, method: str, path: str) -> str:
        """The methodArn API Gateway gives a Lambda authorizer for a request of `method` on `path`."""
        api = "arn:aws:execute-api:us-east-1:123456789012:localapi01"
        return f"{api}/{self.stage}/{method}/{path.lstrip('/')}"

    def resource_for(self, path: str) -> tuple[str, dict[str, str]] | None:
        """The template path (resource) `path` falls under, with its raw path parameters."""
        matches = [(r.path, params) for r in self.routes if (params := match_route(r.path, path)) is not None]
        if not matches:
            return None
        return max(matches, key=lambda match: _specificity(match[0]))

    def handle(self, request: HttpRequest) -> HttpResponse:
        """Answers one request as API Gateway and the function behind it would."""
        request_id = str(uuid.uuid4())
        split = urlsplit(request.target)
        raw_path = split.path if split.path in ("", "/") else split.path.rstrip("/")
        found = self.resource_for(raw_path)
        methods = (
            [r for r in self.routes if r.path == found[0] and r.method in (request.method, "ANY")]
            if found
            else []
        )
        if found is None or not methods:
            # No resource, or no such method on it (TRACE, DELETE, anything): one answer in API Gateway.
            return gateway_response(
                "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token", request_id
            )
        resource, raw_params = found
        route = methods[0]
        if len(request.body) > MAX_PAYLOAD_BYTES:
            return gateway_response("REQUEST_TOO_LARGE", "Request Too Long", request_id)

        headers: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for name, value in request.headers:
            headers[name] = value
            multi.setdefault(name, []).append(value)

        def header(name: str) -> str | None:
            return next((v for k, v in headers.items() if k.lower() == name), None)

        # API Gateway decompresses a body sent with Content-Encoding before the authorizer and the function.
        try:
            body = decoded(request.body, header("content-encoding"), MAX_PAYLOAD_BYTES)
        except _Undecodable:
            return gateway_response("UNSUPPORTED_MEDIA_TYPE", "Unsupported Media Type", request_id)
        except ValueError:
            return gateway_response("REQUEST_TOO_LARGE", "Request Too Long", request_id)
        claims = None
        lambda_authorizer = self.lambda_authorizers.get(route.authorizer or "")
        if route.authorized and lambda_authorizer is None:
            authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
            try:
                claims = self.authorizer.verify(authorization)
            except InvalidToken as error:
                log.debug("401 for %s %s: %s", request.method, raw_path, error)
                return gateway_response("UNAUTHORIZED", "Unauthorized", request_id)

        binary = is_binary(header("content-type"), self.binary_types)
        event = rest_event(
            request.method,
            unquote(raw_path),
            resource=resource,
            path_parameters={name: unquote(value) for name, value in raw_params.items()},
            query=split.query,
            body=(
                None
                if not body
                else base64.b64encode(body).decode()
                if binary
                else body.decode("utf-8", errors="replace")
            ),
            headers=headers,
            claims=claims,
            stage=self.stage,
        )
        event["isBase64Encoded"] = binary and bool(body)
        forwarded = {"X-Forwarded-For": request.source_ip, "X-Forwarded-Proto": "http"}
        event["headers"] = {**headers, **forwarded}
        event["multiValueHeaders"] = {**multi, **{k: [v] for k, v in forwarded.items()}}
        event["requestContext"]["requestId"] = request_id
        # The path as the client sent it: this server is like a custom domain with no base path, so the
        # stage is not in it (on an execute-api URL, API Gateway's requestContext.path is /<stage>/...).
        event["requestContext"]["path"] = unquote(raw_path)
        event["requestContext"]["identity"]["sourceIp"] = request.source_ip
        event["requestContext"]["identity"]["userAgent"] = header("user-agent")
        if lambda_authorizer is not None:
            try:
                event["requestContext"]["authorizer"] = lambda_authorizer.authorize(
                    event, self.method_arn(request.method, unquote(raw_path))
                )
            except AuthorizerRefused as refused:
                log.debug("%s for %s %s", refused.kind, request.method, raw_path)
                return gateway_response(refused.kind, refused.message, request_id)

        try:
            result = self.invoke(route.function, event)
        except Exception:
            log.exception("%s raised on %s %s (502)", route.function, request.method, raw_path)
            return gateway_response("DEFAULT_5XX", "Internal server error", request_id)
        try:
            return self._proxy_response(result, request_id, is_binary(header("accept"), self.binary_types))
        except (TypeError, ValueError, KeyError) as error:
            log.error("%s returned a malformed proxy response (502): %s", route.function, error)
            return gateway_response("DEFAULT_5XX", "Internal server error", request_id)

    @staticmethod
    def _proxy_response(result: Any, request_id: str, binary_accepted: bool = False) -> HttpResponse:
        """The function's proxy answer as API Gateway returns it: a base64 body is decoded only when the
        request's first Accept value is a binary media type; otherwise the client gets the base64 text."""
        if not isinstance(result, dict):
            raise TypeError(f"expected an object, got {type(result).__name__}")
        status = int(result["statusCode"])
        body = result.get("body")
        if body is None:
            payload = b""
        elif not isinstance(body, str):
            raise TypeError("body must be a string")
        else:
            payload = (
                base64.b64decode(body) if result.get("isBase64Encoded") and binary_accepted else body.encode()
            )
        merged: list[tuple[str, str]] = []
        multi = result.get("multiValueHeaders") or {}
        for name, values in multi.items():
            merged.extend((name, str(value)) for value in values)
        multi_names = {name.lower() for name in multi}
        for name, value in (result.get("headers") or {}).items():
            if name.lower() not in multi_names:
                merged.append((name, str(value)))
        if not any(name.lower() == "content-type" for name, _ in merged):
            merged.append(("Content-Type", "application/json"))
        merged.append(("x-amzn-RequestId", request_id))
        return HttpResponse(status, merged, payload)


class _Unframed(Exception):
    """The request's body cannot be delimited (a bad Content-Length or chunk size)."""


_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ApiServer

    def _read_body(self) -> bytes:
        try:
            return self._read_framed_body()
        except ValueError as error:  # a Content-Length or chunk size that is no number
            raise _Unframed(str(error)) from None

    def _read_framed_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        try:
            body = self._read_body()
            headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP]
            response = self.server.gateway.handle(
                HttpRequest(self.command, self.path, headers, body, self.client_address[0])
            )
        except _Unframed:  # the rest of the connection cannot be read as requests either
            self.close_connection = True
            response = _json_response(
                400, {"error": "bad_request", "message": "malformed Content-Length or chunked body"}, "-"
            )
        except Exception:
            log.exception("gateway failure on %s %s", self.command, self.path)
            response = _json_response(
                500, {"error": "internal_error", "message": "local gateway failure"}, "-"
            )
        try:
            self.send_response(response.status)
            for name, value in response.headers:
                if name.lower() not in _HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away (a killed export, a timeout): nothing to say

    def __getattr__(self, name: str) -> Any:
        # Every method, TRACE and made-up ones included, gets the gateway's JSON answer, never
        # http.server's 501 page.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.client_address[0], *args)


class ApiServer(ThreadingHTTPServer):
    """A threaded HTTP server in front of a Gateway; `serve_in_background()` starts it on a daemon thread."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, gateway: Gateway) -> None:
        super().__init__((host, port), _RequestHandler)
        self.gateway = gateway
        self._thread: threading.Thread | None = None

    def serve_in_background(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, name="api-server", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread:
            self._thread.join(timeout=5)
