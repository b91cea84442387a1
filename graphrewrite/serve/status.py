"""Serving errors as TF Serving reports them: a canonical code, an HTTP status, one message."""

from __future__ import annotations

from graphrewrite.engine.errors import GraphRewriteError

# TF Serving's mapping of canonical error codes to HTTP statuses (http_server.cc).
HTTP_STATUS = {
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "NOT_FOUND": 404,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "ALREADY_EXISTS": 409,
    "ABORTED": 409,
    "RESOURCE_EXHAUSTED": 429,
    "CANCELLED": 499,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
    "INTERNAL": 500,
    "PAYLOAD_TOO_LARGE": 413,  # ours: the body-size limit, answered before parsing
}


class ServeError(GraphRewriteError):
    """A request the server answers with an error body: bad JSON, unknown model, wrong shape."""

    def __init__(self, message: str, code: str = "INVALID_ARGUMENT"):
        super().__init__(message)
        self.code = code

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 500)


class ModelLoadError(GraphRewriteError):
    """A model to serve could not be found or loaded (bad path, no versions, bad config file)."""


def invalid(message: str) -> ServeError:
    """An INVALID_ARGUMENT error (HTTP 400)."""
    return ServeError(message, "INVALID_ARGUMENT")


def not_found(message: str) -> ServeError:
    """A NOT_FOUND error (HTTP 404)."""
    return ServeError(message, "NOT_FOUND")
