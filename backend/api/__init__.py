"""The JSON API (/api/v1): one blueprint, one registry that validates bodies and answers and
builds the OpenAPI document. Each domain's api module adds its routes to them."""

from __future__ import annotations

from flask import Blueprint

from backend.api.openapi import ApiRegistry

bp = Blueprint("api", __name__, url_prefix="/api/v1")
registry = ApiRegistry("Hall queue API", "1", "/api/v1")
route = registry.route


def load_routes() -> None:
    """Import every domain's routes (called once by the app factory)."""
    from backend.bookings import api as bookings_api  # noqa: F401
    from backend.messaging import api as messaging_api  # noqa: F401
    from backend.queue import api as queue_api  # noqa: F401
