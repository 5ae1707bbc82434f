"""A small route registry: validates JSON bodies *and answers* with pydantic, and builds the OpenAPI
document from the same models, so the document cannot drift from what the API accepts or returns.
(pydantic does the validation and the JSON Schema; this module only assembles them, which keeps
Flask's own routing and error handling untouched.) Response models forbid undocumented fields; an
answer that breaks its schema raises under `API_VALIDATE_RESPONSES = "raise"` (tests: every
answer is checked) and is logged under "log" (production: a sample of `API_VALIDATE_SAMPLE` of the
answers, since checking one costs about as much as a bare request)."""

from __future__ import annotations

import functools
import json
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, request
from flask_babel import lazy_gettext as _l
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from backend.core.errors import BadInput
from backend.core.text import NUL

REF_TEMPLATE = "#/components/schemas/{model}"


class Out(BaseModel):
    """A response model: every field the API returns is documented (extra fields are errors)."""

    model_config = ConfigDict(extra="forbid")


class ErrorOut(BaseModel):
    error: str = Field(description="A stable machine-readable code.")
    message: str = Field(description="A sentence in the caller's language.")


class ResponseSchemaError(RuntimeError):
    """An answer that breaks its documented schema."""


def check_response(model: type[BaseModel], result: Any) -> None:
    """Validate a view's answer (a dict, a JSON Response, or either with a status)."""
    body = result[0] if isinstance(result, tuple) else result
    if isinstance(body, Response):
        if body.status_code >= 300 or not body.is_json:
            return
        body = body.get_json()
    if not isinstance(body, dict):
        return
    try:
        model.model_validate(body)
    except ValidationError as exc:
        if current_app.config.get("API_VALIDATE_RESPONSES") == "raise":
            raise ResponseSchemaError(f"{request.path}: {exc}") from None
        current_app.logger.warning("answer breaks its schema %s: %s", model.__name__, exc)


def _checked() -> bool:
    mode = current_app.config.get("API_VALIDATE_RESPONSES")
    if mode == "raise":
        return True
    return bool(mode) and random.random() < float(current_app.config["API_VALIDATE_SAMPLE"])


_RULE_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


@dataclass(frozen=True)
class Param:
    """A query parameter or a header a view reads itself (documented, not validated here)."""

    name: str
    location: str  # "query" or "header"
    description: str
    required: bool = False
    format: str | None = None
    max_length: int | None = None

    def spec(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        if self.format is not None:
            schema["format"] = self.format
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        return {
            "name": self.name,
            "in": self.location,
            "required": self.required,
            "description": self.description,
            "schema": schema,
        }


@dataclass(frozen=True)
class Operation:
    path: str
    method: str
    summary: str
    tag: str
    body: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    auth: str
    params: tuple[tuple[str, str], ...]
    extra_params: tuple[Param, ...] = ()


# Every integer the API takes (ids, counter numbers, stars) fits a signed 32-bit column; a larger
# one could only overflow the database, so it is refused before it gets there.
MAX_INT = 2**31 - 1
# Dates and times outside these years are typing mistakes that the time zone arithmetic cannot
# take (0001-01-01 in UTC+14 has no UTC time).
DATETIME_YEARS = (1900, 2999)
_LONGEST_INT = len(str(MAX_INT)) + 1


class _Huge:
    """A JSON integer literal too long to be worth converting (it is out of range anyway)."""


def _parse_int(text: str) -> int | _Huge:
    return _Huge() if len(text.lstrip("-")) > _LONGEST_INT else int(text)


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every leaf (and every object key) of a JSON value, with its dotted field path."""
    stack = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                yield where, key
                stack.append((f"{where}.{key}" if where else str(key), child))
        elif isinstance(item, (list, tuple)):
            stack.extend((f"{where}.{i}" if where else str(i), c) for i, c in enumerate(item))
        else:
            yield where, item


def _out_of_range(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, _Huge):
        return True
    if isinstance(value, int | float):
        return not -MAX_INT <= value <= MAX_INT  # also NaN and infinities
    if isinstance(value, datetime):
        return not DATETIME_YEARS[0] <= value.year <= DATETIME_YEARS[1]
    return False


def _check_values(value: Any) -> None:
    nul = sorted({where or "body" for where, v in _walk(value) if isinstance(v, str) and NUL in v})
    if nul:
        raise BadInput(
            _l(
                "These fields contain characters that are not allowed: %(fields)s.",
                fields=", ".join(nul),
            ),
            error_code="bad_text",
            fields=nul,
        )
    wide = sorted({where or "body" for where, v in _walk(value) if _out_of_range(v)})
    if wide:
        raise BadInput(
            _l("These values are out of range: %(fields)s.", fields=", ".join(wide)),
            error_code="out_of_range",
            fields=wide,
        )


def parse_body(model: type[BaseModel]) -> BaseModel:
    """The request body as `model`, whatever its Content-Type (kiosks of other vendors send JSON
    as text/plain). Refused with a 400 naming the field: not JSON, not a JSON object, a NUL
    character in any string, a number beyond a 32-bit integer or a date outside sane years
    anywhere in the body (checked on the raw JSON and again on the validated values, since "123…"
    may be coerced to a number)."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        raw = b"{}"
    try:
        decoded = json.loads(raw, parse_int=_parse_int)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BadInput(_l("The request body is not valid JSON."), error_code="bad_json") from None
    _check_values(decoded)
    if not isinstance(decoded, dict):  # a list, a string, a number or null: no field to name
        raise BadInput(
            _l("The request body must be a JSON object (its fields between braces)."),
            fields=["body"],
        )
    try:
        parsed = model.model_validate_json(raw)
    except ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            raise BadInput(
                _l("The request body is not valid JSON."), error_code="bad_json"
            ) from None
        fields = sorted({".".join(str(p) for p in err["loc"]) for err in exc.errors()})
        raise BadInput(
            _l("Please check these fields: %(fields)s.", fields=", ".join(fields)), fields=fields
        ) from None
    _check_values(parsed.model_dump())
    return parsed


class ApiRegistry:
    def __init__(self, title: str, version: str, prefix: str) -> None:
        self.title = title
        self.version = version
        self.prefix = prefix
        self.operations: list[Operation] = []

    def route(
        self,
        bp: Blueprint,
        rule: str,
        method: str,
        *,
        summary: str,
        tag: str,
        body: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        auth: str = "public",
        parameters: tuple[Param, ...] = (),
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        params = tuple((conv or "string", name) for conv, name in _RULE_PARAM.findall(rule))
        path = self.prefix + _RULE_PARAM.sub(r"{\2}", rule)
        self.operations.append(
            Operation(
                path, method.lower(), summary, tag, body, response, status, auth, params, parameters
            )
        )

        def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                if body is not None:
                    kwargs["body"] = parse_body(body)
                result = view(*args, **kwargs)
                if response is not None and _checked():
                    check_response(response, result)
                return result

            bp.add_url_rule(rule, view_func=wrapper, methods=[method])
            return wrapper

        return decorate

    def spec(self) -> dict[str, Any]:
        models: set[type[BaseModel]] = {ErrorOut}
        paths: dict[str, dict[str, Any]] = {}
        for op in self.operations:
            paths.setdefault(op.path, {})[op.method] = self._operation(op, models)
        schemas: dict[str, Any] = {}
        for model in sorted(models, key=lambda m: m.__name__):
            schema = model.model_json_schema(ref_template=REF_TEMPLATE)
            schemas.update(schema.pop("$defs", {}))
            schemas[model.__name__] = schema
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version},
            "paths": paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer"},
                    "session": {"type": "apiKey", "in": "cookie", "name": "session"},
                },
            },
        }

    @staticmethod
    def _ref(model: type[BaseModel]) -> dict[str, str]:
        return {"$ref": REF_TEMPLATE.format(model=model.__name__)}

    def _operation(self, op: Operation, models: set[type[BaseModel]]) -> dict[str, Any]:
        error = {"content": {"application/json": {"schema": self._ref(ErrorOut)}}}
        out: dict[str, Any] = {
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": [
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer" if conv == "int" else "string"},
                }
                for conv, name in op.params
            ]
            + [param.spec() for param in op.extra_params],
            "responses": {
                str(op.status): {"description": "OK"},
                "4XX": {"description": "Error", **error},
            },
        }
        if op.response is not None:
            models.add(op.response)
            out["responses"][str(op.status)]["content"] = {
                "application/json": {"schema": self._ref(op.response)}
            }
        if op.body is not None:
            models.add(op.body)
            out["requestBody"] = {
                "required": False,
                "content": {"application/json": {"schema": self._ref(op.body)}},
            }
        if op.auth == "staff":
            out["security"] = [{"bearer": []}, {"session": []}]
            out["description"] = (
                "Staff only: a bearer API token, or the staff session with X-CSRFToken."
            )
        elif op.auth == "staff_or_token":
            out["security"] = [{"bearer": []}, {"session": []}, {}]
            out["description"] = (
                "Staff (a bearer API token, or the staff session with X-CSRFToken), or the "
                "ticket's holder with its `token` in the body."
            )
        return out
