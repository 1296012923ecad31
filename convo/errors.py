"""Every exception convo raises, in one tree. The lowest layer: imports nothing of convo's.

::

    ConvoError
    ├── DecodeError             bad bytes or a wrong shape: file, line, $.path, what was expected
    ├── ValidationError         a conversation breaks the API's rules (carries the Report)
    ├── TransformError          a transform cannot apply here (e.g. no valid place for a system message)
    ├── ImageError              a file or bytes that are not a supported image
    ├── ProfileError            a model-profiles file that cannot be read
    ├── UnknownModelError       a target model id no profile knows (a typo?): says the closest ids
    └── APIError                anything from talking to the API (executors)
        ├── APIConnectionError          the connection failed (retried)
        │   └── APITimeoutError         the request timed out (retried)
        ├── StreamError                 an SSE stream ended early or was malformed
        └── APIStatusError              an HTTP error status, or an SSE `error` event
            ├── BadRequestError             400 invalid_request_error
            ├── AuthenticationError         401 authentication_error
            ├── BillingError                402 billing_error
            ├── PermissionDeniedError       403 permission_error
            ├── NotFoundError               404 not_found_error
            ├── ConflictError               409 conflict_error
            ├── RequestTooLargeError        413 request_too_large
            ├── UnprocessableEntityError    422
            ├── RateLimitError              429 rate_limit_error
            └── InternalServerError         500 and every other status >= 500 (api_error)
                ├── ServiceUnavailableError 503
                ├── DeadlineExceededError   504 timeout_error
                └── OverloadedError         529 overloaded_error

``error_for_status(status, body, headers)`` picks the class: by status first, then by the body's
``error.type`` (an SSE ``error`` event arrives after HTTP 200, so its type decides). No exception
message or repr ever contains an API key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BillingError",
    "ConflictError",
    "ConvoError",
    "DeadlineExceededError",
    "DecodeError",
    "ImageError",
    "InternalServerError",
    "NotFoundError",
    "OverloadedError",
    "PermissionDeniedError",
    "ProfileError",
    "RateLimitError",
    "RequestTooLargeError",
    "ServiceUnavailableError",
    "StreamError",
    "TransformError",
    "UnknownModelError",
    "UnprocessableEntityError",
    "ValidationError",
    "error_for_status",
]


class ConvoError(Exception):
    """The base of every exception convo raises."""


class DecodeError(ConvoError, ValueError):
    """Input that is not valid JSON, or not the shape the line kind needs.

    >>> str(DecodeError("expected a string", path="$.messages[0].role", file="a.jsonl", line=3))
    'a.jsonl:3: $.messages[0].role: expected a string'
    """

    def __init__(
        self, expected: str, *, path: str = "$", file: str | None = None, line: int | None = None
    ) -> None:
        super().__init__(expected)
        self.expected = expected
        self.path = path
        self.file = file
        self.line = line

    def located(self, *, file: str | None = None, line: int | None = None) -> DecodeError:
        """The same error, told where in which file it happened."""
        return DecodeError(
            self.expected,
            path=self.path,
            file=file if file is not None else self.file,
            line=line if line is not None else self.line,
        )

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = f"{self.file}:{self.line}: " if self.line is not None else f"{self.file}: "
        elif self.line is not None:
            where = f"line {self.line}: "
        return f"{where}{self.path}: {self.expected}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_decode_error, (self.expected, self.path, self.file, self.line))


def _rebuild_decode_error(
    expected: str, path: str, file: str | None, line: int | None
) -> DecodeError:
    return DecodeError(expected, path=path, file=file, line=line)


class ValidationError(ConvoError, ValueError):
    """A conversation breaks the API's rules; ``.report`` lists every violation."""

    def __init__(self, report: Any) -> None:
        self.report = report
        lines = [f"{v.rule} {v.path}: {v.message}" for v in report.errors]
        super().__init__("; ".join(lines) if lines else "invalid conversation")


class TransformError(ConvoError, ValueError):
    """A transform cannot be applied to this conversation (the message says why and what to do);
    ``path`` is the ``$.path`` where, when one place is the reason.

    >>> TransformError("a secret in an identifier", path="$.messages[1].content[0].id").path
    '$.messages[1].content[0].id'
    """

    def __init__(self, message: str, *, path: str = "$") -> None:
        super().__init__(message)
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_transform_error, (str(self), self.path))


def _rebuild_transform_error(message: str, path: str) -> TransformError:
    return TransformError(message, path=path)


class ImageError(ConvoError, ValueError):
    """Bytes or a file that are not an image the API accepts (jpeg, png, gif, webp)."""


class ProfileError(ConvoError, ValueError):
    """A model-profiles file or a /v1/models response that cannot be read."""


class UnknownModelError(ConvoError, ValueError):
    """A model id given as a target (``migrate(model=...)``, ``--validate-for``) that no profile
    knows: most often a typo. The message names the closest known ids; pass
    ``allow_unknown=True`` (``--allow-unknown-model`` on the command) when the id is intended."""

    def __init__(self, message: str, *, model: str, suggestions: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.model = model
        self.suggestions = suggestions


class APIError(ConvoError):
    """Anything that went wrong talking to the API."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class APIConnectionError(APIError):
    """The connection failed before a response arrived."""


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class StreamError(APIError):
    """An SSE stream ended before ``message_stop`` or carried malformed events."""


class APIStatusError(APIError):
    """The API answered with an error: ``status``, ``type``, ``message``, ``request_id``."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        type: str | None = None,
        request_id: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type
        self.request_id = request_id
        self.body = body

    def __str__(self) -> str:
        rid = f" (request-id {self.request_id})" if self.request_id else ""
        return f"{self.status} {self.type or 'error'}: {self.message}{rid}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, type={self.type!r}, "
            f"message={self.message!r}, request_id={self.request_id!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_status_error,
            (type(self), self.message, self.status, self.type, self.request_id, self.body),
        )


def _rebuild_status_error(
    cls: type[APIStatusError], message: str, status: int, type: str | None, rid: str | None, body: Any
) -> APIStatusError:
    return cls(message, status=status, type=type, request_id=rid, body=body)


class BadRequestError(APIStatusError):
    """400 invalid_request_error."""


class AuthenticationError(APIStatusError):
    """401 authentication_error."""


class BillingError(APIStatusError):
    """402 billing_error."""


class PermissionDeniedError(APIStatusError):
    """403 permission_error."""


class NotFoundError(APIStatusError):
    """404 not_found_error."""


class ConflictError(APIStatusError):
    """409 conflict_error."""


class RequestTooLargeError(APIStatusError):
    """413 request_too_large."""


class UnprocessableEntityError(APIStatusError):
    """422."""


class RateLimitError(APIStatusError):
    """429 rate_limit_error."""


class InternalServerError(APIStatusError):
    """500 api_error, and any other status of 500 or more."""


class ServiceUnavailableError(InternalServerError):
    """503."""


class DeadlineExceededError(InternalServerError):
    """504 timeout_error."""


class OverloadedError(InternalServerError):
    """529 overloaded_error."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: BillingError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: RequestTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    503: ServiceUnavailableError,
    504: DeadlineExceededError,
    529: OverloadedError,
}

_BY_TYPE: dict[str, type[APIStatusError]] = {
    "invalid_request_error": BadRequestError,
    "authentication_error": AuthenticationError,
    "billing_error": BillingError,
    "permission_error": PermissionDeniedError,
    "not_found_error": NotFoundError,
    "conflict_error": ConflictError,
    "request_too_large": RequestTooLargeError,
    "rate_limit_error": RateLimitError,
    "api_error": InternalServerError,
    "timeout_error": DeadlineExceededError,
    "overloaded_error": OverloadedError,
}


def error_for_status(
    status: int, body: Any = None, headers: Mapping[str, str] | None = None
) -> APIStatusError:
    """Build the exception for an error status (or for an SSE ``error`` event after a 200).

    >>> e = error_for_status(529, {"type": "error", "error": {"type": "overloaded_error",
    ...     "message": "Overloaded"}}, {"request-id": "req_1"})
    >>> type(e).__name__, e.status, e.type, e.request_id
    ('OverloadedError', 529, 'overloaded_error', 'req_1')
    """
    err_type: str | None = None
    message = f"HTTP {status}"
    request_id = None
    if isinstance(body, Mapping):
        inner = body.get("error")
        if isinstance(inner, Mapping):
            t = inner.get("type")
            err_type = t if isinstance(t, str) else None
            m = inner.get("message")
            message = m if isinstance(m, str) else message
        rid = body.get("request_id")
        request_id = rid if isinstance(rid, str) else None
    if headers is not None:
        request_id = headers.get("request-id") or request_id
    if 200 <= status < 300:  # an `error` event inside a 200 stream: its type decides
        cls = _BY_TYPE.get(err_type or "", APIStatusError)
    elif status in _BY_STATUS:
        cls = _BY_STATUS[status]
    elif status >= 500:
        cls = InternalServerError
    else:
        cls = _BY_TYPE.get(err_type or "", APIStatusError)
    return cls(message, status=status, type=err_type, request_id=request_id, body=body)
