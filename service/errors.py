"""The service's one error hierarchy; `service.api.errors` maps it to HTTP in one place.

Each class carries its HTTP status and a stable machine-readable `code`; `field` names the
part of the request at fault (a dotted path such as `budget.max_attempts`, or a header).

ServiceError                       500 internal
├── InvalidRequest                 422 invalid_request     (a field failed a rule)
├── PayloadTooLarge                413 payload_too_large
├── RequestTimeout                 408 request_timeout     (a body not whole in time)
├── RequestHeadTooLarge            431 request_head_too_large
├── Unauthorized                   401 unauthorized
├── NotFound                       404 not_found
├── Conflict                       409 conflict
├── TooManyActiveJobs              429 too_many_active_jobs
├── RangeNotSatisfiable            416 range_not_satisfiable (Content-Range: bytes */N)
├── ServiceUnavailable             503 unavailable         (a dependency is down; Retry-After)
└── store.errors.StoreError        (JobNotFound 404, IdempotencyConflict 422, ...)
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base of every error the service raises on purpose."""

    status_code = 500
    code = "internal"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def headers(self) -> dict[str, str]:
        """HTTP headers the answer carries besides the body (most errors: none)."""
        return {}


class InvalidRequest(ServiceError):
    """A request field breaks a rule (a limit, a format)."""

    status_code = 422
    code = "invalid_request"


def require_at_most(field: str, value: float, limit: float, unit: str) -> None:
    """Raise `InvalidRequest` naming `field` when `value` is beyond a configured `limit`."""
    if value > limit:
        raise InvalidRequest(f"{field}: at most {limit:g} {unit}, got {value:g}", field=field)


class PayloadTooLarge(ServiceError):
    """The request body exceeds the configured size."""

    status_code = 413
    code = "payload_too_large"


class RequestTimeout(ServiceError):
    """The request body did not arrive whole within the edge's body timeout."""

    status_code = 408
    code = "request_timeout"


class RequestHeadTooLarge(ServiceError):
    """The request head has too many header fields, or too many bytes."""

    status_code = 431
    code = "request_head_too_large"


class Unauthorized(ServiceError):
    """No valid API key where one is required."""

    status_code = 401
    code = "unauthorized"


class NotFound(ServiceError):
    """No such resource for this caller (another key's job is not found, by design)."""

    status_code = 404
    code = "not_found"


class Conflict(ServiceError):
    """The resource's state forbids the request (e.g. cancelling a finished job)."""

    status_code = 409
    code = "conflict"


class TooManyActiveJobs(ServiceError):
    """The caller already has as many queued or running jobs as its limit allows."""

    status_code = 429
    code = "too_many_active_jobs"


class ServiceUnavailable(ServiceError):
    """A dependency (the database) is down before anything was committed: retry later."""

    status_code = 503
    code = "unavailable"
    retry_after_s = 5

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class RangeNotSatisfiable(ServiceError):
    """A valid `Range` that starts past the end of the file (RFC 9110 §15.5.17)."""

    status_code = 416
    code = "range_not_satisfiable"

    def __init__(self, size_bytes: int) -> None:
        super().__init__(f"Range: the file has {size_bytes} bytes", field="Range")
        self.size_bytes = size_bytes

    def headers(self) -> dict[str, str]:
        return {"Content-Range": f"bytes */{self.size_bytes}"}
