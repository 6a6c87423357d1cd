"""Domain errors mapped to HTTP in one place, as JSON ``{"error": code, "detail": message}``."""

from __future__ import annotations

import logging
import re
from pathlib import PurePosixPath

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from tiling.errors import SlideNotFoundError, SlideReadError, TilingError, UnsupportedSlideError
from worklist.errors import (
    ConcurrentUpdateError,
    DatabaseBusyError,
    InvalidTransitionError,
    NotFoundError,
    NotPermittedError,
    ValidationError,
    WorklistError,
)
from worklist.rounds import StaleRoundError


class ServiceError(Exception):
    """An error raised by the service layer itself, with its HTTP status and code."""

    status_code = 400
    code = "bad_request"


class NotAuthenticatedError(ServiceError):
    """No valid session: sign in first."""

    status_code = 401
    code = "not_authenticated"


class AccessDeniedError(ServiceError):
    """Signed in, but not allowed to see or do this."""

    status_code = 403
    code = "forbidden"


class TooManyAttemptsError(ServiceError):
    """Too many failed sign-ins: wait ``retry_after_s`` seconds (the answer's Retry-After)."""

    status_code = 429
    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ResourceNotFoundError(ServiceError, LookupError):
    """The requested thing does not exist (or may not be known to exist)."""

    status_code = 404
    code = "not_found"


class ConflictError(ServiceError):
    """The request conflicts with the current state."""

    status_code = 409
    code = "conflict"


class SlideWithdrawnError(ServiceError):
    """The slide was withdrawn by a lab manager (a broken scan): gone for every viewer."""

    status_code = 410
    code = "slide_withdrawn"


class WorkersUnavailableError(ServiceError):
    """No worker process is available (no cluster, a lost scheduler, a timeout): try later."""

    status_code = 503
    code = "workers_unavailable"


class BodyTooLargeError(ServiceError):
    """The request body is larger than the service accepts."""

    status_code = 413
    code = "too_large"


class UploadTooLargeError(BodyTooLargeError):
    """The upload is larger than the service accepts."""


class UnsupportedMediaTypeError(ServiceError):
    """The request body is not of a kind the route accepts (JSON, or a multipart upload)."""

    status_code = 415
    code = "unsupported_media_type"


class UnsupportedUploadError(UnsupportedMediaTypeError):
    """The request or the file is not of a kind the upload accepts."""


class InvalidUploadError(ServiceError):
    """The multipart body is malformed or misses what the upload needs."""

    status_code = 422
    code = "invalid"


# Most specific first: the first matching class decides.
_DOMAIN_STATUS: tuple[tuple[type[Exception], int, str], ...] = (
    (DatabaseBusyError, 503, "busy"),
    (PoolTimeoutError, 503, "busy"),  # every database connection of this process in use
    (StaleRoundError, 409, "stale_round"),  # before its base class
    (ConcurrentUpdateError, 409, "concurrent_update"),
    (InvalidTransitionError, 409, "invalid_transition"),
    (NotPermittedError, 403, "forbidden"),
    (NotFoundError, 404, "not_found"),
    (ValidationError, 422, "invalid"),
    (WorklistError, 409, "conflict"),
    (SlideNotFoundError, 410, "slide_file_missing"),
    (UnsupportedSlideError, 422, "unsupported_slide"),
    (SlideReadError, 422, "slide_unreadable"),
    (LookupError, 404, "not_found"),
    (TilingError, 422, "tiling_error"),
)


def status_for(exc: Exception) -> tuple[int, str]:
    """The HTTP status and error code for a domain or service error."""
    if isinstance(exc, ServiceError):
        return exc.status_code, exc.code
    for error_class, status, code in _DOMAIN_STATUS:
        if isinstance(exc, error_class):
            return status, code
    return 500, "internal"


_log = logging.getLogger(__name__)

# A path in quotes (as ``{path!r}`` writes it, spaces and all), and a bare one of two or more
# parts that starts a word (not the "/" in "1/2").
_QUOTED_PATH = re.compile(r"""(['"])(/[^'"]*)\1""")
_BARE_PATH = re.compile(r"""(?<![\w.~/-])/(?:[^\s'"/]+/)+([^\s'"/]*)""")


def without_server_paths(message: str) -> str:
    """``message`` with every absolute file path cut to its file name.

    The slide and tiling errors name the file they could not read, and the server's folders
    are nobody's business over HTTP; the server log keeps the whole message.
    """
    message = _QUOTED_PATH.sub(
        lambda match: f"{match[1]}{PurePosixPath(match[2]).name}{match[1]}", message
    )
    return _BARE_PATH.sub(lambda match: match[1], message)


def error_detail(exc: Exception) -> str:
    """The message of ``exc`` as an HTTP answer tells it: without the server's paths."""
    if isinstance(exc, PoolTimeoutError):
        return "the service is busy (every database connection in use); try again shortly"
    message = str(exc)
    return without_server_paths(message) if isinstance(exc, TilingError) else message


def error_response(exc: Exception) -> JSONResponse:
    """The HTTP answer to ``exc``: its status, and ``{"error": code, "detail": message}``.

    The exception handlers answer with it, and so does middleware that refuses a request
    before it reaches a route.
    """
    status, code = status_for(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, TooManyAttemptsError):
        headers = {"Retry-After": str(exc.retry_after_s)}
    body: dict[str, object] = {"error": code, "detail": error_detail(exc)}
    if isinstance(exc, StaleRoundError):
        body["changes"] = list(exc.changes)  # all of them: the detail names the first ten
    return JSONResponse(body, status_code=status, headers=headers)


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, PoolTimeoutError):
        _log.warning("%s %s: %s", request.method, request.url.path, exc)
    if isinstance(exc, TilingError):
        # The whole message, paths included, for whoever runs the service.
        _log.warning("%s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
    return error_response(exc)


async def _handle_invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """Malformed input gets the same JSON shape as every other error, naming each field."""
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        problems.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return JSONResponse(
        {"error": "invalid_request", "detail": "; ".join(problems) or "invalid request"},
        status_code=422,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Map every domain error to its HTTP answer; routes never build error bodies by hand."""
    for error_class in (ServiceError, WorklistError, TilingError, PoolTimeoutError):
        app.add_exception_handler(error_class, _handle)
    app.add_exception_handler(RequestValidationError, _handle_invalid_request)
