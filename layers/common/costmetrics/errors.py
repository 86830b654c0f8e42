"""Domain errors. Logic and data access raise these; costmetrics.api maps them to HTTP in one place."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base class: an error with a stable machine-readable code and a message for humans."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class InvalidRequest(DomainError):
    status = 400
    code = "invalid_request"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(DomainError):
    status = 415
    code = "unsupported_media_type"


class ServiceUnavailable(DomainError):
    """Storage is throttled or failing: the client should send the same request again after
    `retry_after` seconds (answered with a Retry-After header)."""

    status = 503
    code = "unavailable"

    def __init__(
        self, message: str, *, retry_after: int, details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after
