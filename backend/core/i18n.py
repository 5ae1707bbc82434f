"""Language choice: ?lang= (kept in a cookie), then the cookie, then the browser; zh by default."""

from __future__ import annotations

from flask import Flask, Response, has_request_context, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

LANG_COOKIE = "lang"
LANGUAGES = ("zh", "en")
DEFAULT_LANG = "zh"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600


def select_locale() -> str:
    if not has_request_context():
        return DEFAULT_LANG
    forced = request.args.get("lang")
    if forced in LANGUAGES:
        return forced
    kept = request.cookies.get(LANG_COOKIE)
    if kept in LANGUAGES:
        return kept
    return request.accept_languages.best_match(LANGUAGES, default=DEFAULT_LANG) or DEFAULT_LANG


def current_lang() -> str:
    locale = get_locale() if has_request_context() else None
    return locale.language if locale is not None and locale.language in LANGUAGES else DEFAULT_LANG


def remember_forced_lang(response: Response) -> Response:
    forced = request.args.get("lang")
    if forced in LANGUAGES and request.cookies.get(LANG_COOKIE) != forced:
        response.set_cookie(
            LANG_COOKIE, forced, max_age=LANG_COOKIE_MAX_AGE, samesite="Lax", httponly=True
        )
    return response


def init_app(app: Flask) -> None:
    app.after_request(remember_forced_lang)


# Monday first, as Python's weekday() counts.
WEEKDAY_NAMES = (
    _l("Monday"),
    _l("Tuesday"),
    _l("Wednesday"),
    _l("Thursday"),
    _l("Friday"),
    _l("Saturday"),
    _l("Sunday"),
)
