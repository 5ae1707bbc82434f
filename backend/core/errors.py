"""Domain errors. Each has a stable code, an HTTP status and a message in the caller's language."""

from __future__ import annotations

from typing import Any

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l


class DomainError(Exception):
    status = 400
    code = "bad_request"
    default_message: LazyString | str = _l("The request could not be processed.")

    def __init__(self, message: LazyString | str | None = None, **extra: Any) -> None:
        self.message = message if message is not None else self.default_message
        self.extra = extra
        super().__init__(str(self.code))

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.code, "message": str(self.message), **self.extra}


class BadInput(DomainError):
    status = 400
    code = "bad_input"
    default_message = _l("The request is not valid.")


class NotFound(DomainError):
    status = 404
    code = "not_found"
    default_message = _l("Not found.")


class Unauthorized(DomainError):
    status = 401
    code = "login_required"
    default_message = _l("Please log in as staff first.")


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    default_message = _l("You are not allowed to do this here.")


class Conflict(DomainError):
    status = 409
    code = "conflict"
    default_message = _l("This cannot be done in the ticket's current state.")


class TooManyRequests(DomainError):
    status = 429
    code = "rate_limited"
    default_message = _l("Too many requests. Please wait a moment.")
