"""The words for the cases' codes in the user's language (one list each, for every screen)."""

from __future__ import annotations

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from backend.policy.cases import CaseCategory, CaseStatus

STATUS_NAMES: dict[str, LazyString] = {
    CaseStatus.OPEN: _l("Not started"),
    CaseStatus.IN_PROGRESS: _l("In progress"),
    CaseStatus.RESOLVED: _l("Resolved"),
    CaseStatus.FOLLOWED_UP: _l("Followed up"),
    CaseStatus.CLOSED: _l("Closed, no follow-up"),
}
CATEGORY_NAMES: dict[str, LazyString] = {
    CaseCategory.BILLING: _l("Billing"),
    CaseCategory.NETWORK: _l("Network"),
    CaseCategory.SERVICE_ATTITUDE: _l("Service attitude"),
    CaseCategory.PLAN_CONTRACT: _l("Plan or contract"),
    CaseCategory.DEVICE: _l("Device"),
    CaseCategory.OTHER: _l("Other"),
}
SOURCE_NAMES: dict[str, LazyString] = {
    "counter": _l("At the counter"),
    "rating": _l("From a rating"),
    "console": _l("By hand"),
}
# The verb on the button that moves a case to each status.
MOVE_NAMES: dict[str, LazyString] = {
    CaseStatus.IN_PROGRESS: _l("Start working on it"),
    CaseStatus.RESOLVED: _l("Mark resolved"),
    CaseStatus.CLOSED: _l("Close without follow-up"),
}


def status_name(code: str) -> str:
    return str(STATUS_NAMES.get(code, code))


def category_name(code: str) -> str:
    return str(CATEGORY_NAMES.get(code, code))
