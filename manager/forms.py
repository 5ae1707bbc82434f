"""The console's forms (WTForms through Flask-WTF): each field's bounds and its error message in
the user's language. A form that does not validate changes nothing."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    FloatField,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields import FieldList
from wtforms.fields.core import UnboundField
from wtforms.validators import (
    AnyOf,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from backend.core.forms import DATE_INPUT
from backend.core.i18n import WEEKDAY_NAMES
from backend.policy import PAUSE_MINUTES_CHOICES, Lane, Ordering, Outcome, PauseReason
from backend.queue.serializers import CATEGORY_NAMES
from backend.stores.chain import BAD_CODE, STORE_CODE
from backend.stores.days import (
    MAX_MESSAGE,
    MAX_RANGE_DAYS,
    BookingPlan,
    DayChange,
    DayKind,
    Decision,
)

# Fields of the form, not of the thing it edits.
NOT_VALUES = ("csrf_token", "loaded")
REQUIRED = _l("Please fill this in.")
CAPITALS = _l("One to four capital letters.")
# The spoken announcement's languages, in the order they are spoken.
ANNOUNCE_LANGS = (
    ("zh,en", _l("Chinese, then English")),
    ("zh", _l("Chinese only")),
    ("en,zh", _l("English, then Chinese")),
    ("en", _l("English only")),
)
WEEKDAYS = WEEKDAY_NAMES
# The call orders a store may choose (the simulator's "shortest" is for comparison only).
ORDERINGS = (
    (Ordering.SCORE.value, _l("Balanced")),
    (Ordering.DEADLINE.value, _l("Balanced, with deadlines")),
    (Ordering.PROFILE.value, _l("By the counter's lanes")),
    (Ordering.FIFO.value, _l("First come, first served")),
)
ORDERING_HINT = _l(
    "Balanced: short business goes first while it costs others little, and every wait counts "
    "more the longer it gets. By the counter's lanes: the first lane with anyone waiting, oldest "
    "first. First come, first served: the oldest ticket the counter may serve. Balanced, with "
    "deadlines: balanced, but a counter takes whoever would otherwise wait longer than the "
    "plain queue's longest wait of the day (times the factor below, at most the maximum wait), "
    "from any lane it can serve. On a day when a plain queue would make people wait longer than "
    "the maximum (counting those who give up, as on the store's earlier days), that longest "
    "wait is the limit instead."
)
LANE_CHOICES = (
    (Lane.FAST.value, _l("Fast lane")),
    (Lane.STANDARD.value, _l("Standard")),
    (Lane.VIP.value, _l("VIP")),
    (Lane.APPOINTMENT.value, _l("Appointment")),
)


def _choices(pairs: tuple[tuple[str, Any], ...]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


OPTIONAL_LANES = (("", _l("(none)")), *LANE_CHOICES)
# A counter's profile: up to one entry per lane, in the order it serves them.
PROFILE_SLOTS = len(LANE_CHOICES)
# The lanes of the last calls the store keeps (queue.commands.RECENT_LANES_KEPT): the VIP
# share's window cannot be longer.
MAX_VIP_WINDOW = 10


def _between(low: float, high: float) -> NumberRange:
    return NumberRange(low, high, _l("Between %(min)s and %(max)s.", min=low, max=high))


def _finite(form: Any, field: Any) -> None:
    """ "nan" and "inf" parse as numbers and slip past a range (nothing compares to NaN)."""
    if field.data is not None and not math.isfinite(field.data):
        raise ValidationError(_l("Enter a number."))


def _decimal(label: Any, low: float, high: float, step: float) -> FloatField:
    return FloatField(
        label,
        [InputRequired(REQUIRED), _finite, _between(low, high)],
        render_kw={"min": low, "max": high, "step": step, "inputmode": "decimal"},
    )


def _whole(label: Any, low: int, high: int, **kw: Any) -> IntegerField:
    return IntegerField(
        label,
        [InputRequired(REQUIRED), _between(low, high)],
        render_kw={"min": low, "max": high, "inputmode": "numeric"},
        **kw,
    )


CLOCK_INPUT = {
    "type": "text",
    "inputmode": "numeric",
    "placeholder": "--:--",
    "maxlength": 5,
    "autocomplete": "off",
}


class DayHours(Form):
    """One weekday: open or not, and from when to when (one interval)."""

    open = BooleanField(_l("Open that day"))
    # Text, not type=time: the browser would show 12-hour clocks in some locales.
    start = TimeField(_l("Opens at"), [Optional()], render_kw=CLOCK_INPUT)
    end = TimeField(_l("Closes at"), [Optional()], render_kw=CLOCK_INPUT)

    def validate(self, extra_validators: Any = None) -> bool:
        # Here, not in validate_end: Optional() ends an empty field's checks before those.
        valid = super().validate(extra_validators)
        return _check_span(self.start, self.end) and valid if self.open.data else valid


def _check_span(start: TimeField, end: TimeField) -> bool:
    """Opening and closing given, closing after opening; else the error next to the closing."""
    if end.errors:
        return False
    if start.data is None or end.data is None:
        end.errors = [*end.errors, _l("Give the opening and the closing time.")]
        return False
    if end.data <= start.data:
        end.errors = [*end.errors, _l("Closing must be after opening.")]
        return False
    return True


# Every IANA zone this machine knows, the usual one first (names only: not the system's aliases).
NOT_ZONES = {"localtime", "posixrules", "Factory"}
DEFAULT_ZONE = "Asia/Shanghai"
ZONES = (DEFAULT_ZONE, *sorted(available_timezones() - NOT_ZONES - {DEFAULT_ZONE}))


def _zone_choices(moment: datetime) -> list[SelectChoice]:
    """Each zone with its offset from UTC at `moment` (as the hall's clock shows it now)."""
    choices = []
    for name in ZONES:
        offset = moment.astimezone(ZoneInfo(name)).strftime("%z")
        choices.append(SelectChoice(name, f"{name} (UTC{offset[:3]}:{offset[3:]})"))
    return choices


class StoreForm(FlaskForm):
    loaded = HiddenField()
    name_zh = StringField(_l("Name (Chinese)"), [InputRequired(REQUIRED), Length(1, 120)])
    name_en = StringField(_l("Name (English)"), [InputRequired(REQUIRED), Length(1, 120)])
    address_zh = StringField(_l("Address (Chinese)"), [Length(0, 200)])
    address_en = StringField(_l("Address (English)"), [Length(0, 200)])
    timezone = SelectField(_l("Time zone"), choices=[SelectChoice(z, z) for z in ZONES])
    hours = FieldList(FormField(DayHours), min_entries=7, max_entries=7)
    ordering = SelectField(_l("Call order"), choices=_choices(ORDERINGS))
    work_conserving = BooleanField(_l("Idle counters help other lanes"))
    max_wait_minutes = _whole(_l("Maximum wait before a ticket goes first (min, 0: off)"), 0, 240)
    ratio_power = _decimal(
        _l("Weight on short business (1: classic ratio, 2: stronger)"), 1, 3, 0.1
    )
    fair_factor = _decimal(
        _l("Deadline order: longest wait allowed (× a plain queue's longest today)"),
        1,
        3,
        0.1,
    )
    fair_floor_minutes = _whole(_l("Deadline order: a wait this short is never late (min)"), 0, 60)
    wait_target_minutes = _whole(
        _l("Target: every customer called within (min, 0: no warning on the floor)"), 0, 240
    )
    vip_first = _whole(_l("VIP tickets go first in at most (calls)"), 0, MAX_VIP_WINDOW)
    vip_window = _whole(_l("… out of every (calls)"), 1, MAX_VIP_WINDOW)
    priority_care = BooleanField(
        _l("Priority-care customers (issued by staff) go first at the counters of their lane")
    )
    rejoin_minutes = _whole(_l("A missed ticket may rejoin within (min)"), 0, 240)
    rejoin_places = _whole(_l("… this many places behind the head"), 0, 50)
    let_ahead_places = _whole(
        _l("A waiting customer may let this many people go ahead, once (0: off)"), 0, 20
    )
    recall_limit = _whole(_l("Recalls before suggesting a no-show"), 1, 10)
    remote_join = BooleanField(_l("Customers may join the queue from their phone"))
    remote_max_open = _whole(_l("Phone tickets open at once, at most (0: no cap)"), 0, 1000)
    remote_cutoff_minutes = _whole(_l("Phone joining stops before closing (min)"), 0, 240)
    remote_requires_arrival = BooleanField(_l("Phone tickets must confirm arrival before a call"))
    kiosk_cutoff_minutes = _whole(_l("The kiosk stops issuing before closing (min)"), 0, 240)
    kiosk_rate_per_minute = _whole(
        _l("Tickets one kiosk may print per minute (0: no limit)"), 0, 600
    )
    kiosk_idle_seconds = _whole(_l("The kiosk returns to its start screen after (s)"), 10, 600)
    public_vip = BooleanField(_l("VIP services are offered at the kiosk"))
    notices_zh = TextAreaField(
        _l("Display notices (Chinese), one per line"), [Length(0, 1000)], render_kw={"rows": 3}
    )
    notices_en = TextAreaField(
        _l("Display notices (English), one per line"), [Length(0, 1000)], render_kw={"rows": 3}
    )
    announce_langs = SelectField(_l("Spoken announcements"), choices=_choices(ANNOUNCE_LANGS))
    checkin_early_minutes = _whole(_l("Check-in opens before the slot (min)"), 0, 120)
    checkin_late_minutes = _whole(_l("Check-in closes after the slot starts (min)"), 0, 120)
    appointment_prefix = StringField(
        _l("Ticket prefix of appointments"),
        [InputRequired(REQUIRED), Regexp(r"^[A-Z]{1,4}$", message=CAPITALS)],
        render_kw={"autocapitalize": "characters", "maxlength": 4},
    )
    booking_horizon_days = _whole(_l("Bookable days ahead"), 1, 90)
    booking_lead_minutes = _whole(_l("Booking closes before the slot (min)"), 0, 1440)
    bookings_per_phone_per_day = _whole(_l("Bookings per phone number and day"), 1, 10)
    retention_days = _whole(
        _l("Customers' names and phone numbers are erased after (days)"), 1, 365
    )
    almost_ahead = _whole(
        _l('"Almost your turn" when this many people or fewer are ahead (0: never)'), 0, 20
    )
    reminder_minutes = _whole(_l("A booking's reminder, before its time (min, 0: none)"), 0, 2880)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timezone.choices = _zone_choices(datetime.now(UTC))

    def validate_vip_first(self, field: IntegerField) -> None:
        if field.data is not None and self.vip_window.data and field.data > self.vip_window.data:
            raise ValidationError(_l("Cannot be more than the number of calls it counts."))

    def load(self, values: dict[str, Any]) -> None:
        """Fill a fresh form (GET) from the store's values."""
        for name, field in self._fields.items():
            if name in values and name != "hours":
                field.data = values[name]
        hours = values.get("hours") or {}
        for day, entry in enumerate(self.hours.entries):
            spans = hours.get(str(day)) or []
            entry.form.open.data = bool(spans)
            if spans:
                entry.form.start.data = _time(spans[0][0])
                entry.form.end.data = _time(spans[0][1])

    def values(self) -> dict[str, Any]:
        """The validated input, as the store row's values."""
        out = {n: f.data for n, f in self._fields.items() if n not in ("hours", *NOT_VALUES)}
        out["name_zh"], out["name_en"] = out["name_zh"].strip(), out["name_en"].strip()
        out["address_zh"] = (out["address_zh"] or "").strip()
        out["address_en"] = (out["address_en"] or "").strip()
        for name in ("notices_zh", "notices_en"):
            out[name] = "\n".join(line.strip() for line in (out[name] or "").splitlines()).strip()
        hours: dict[str, list[list[str]]] = {}
        for day, entry in enumerate(self.hours.entries):
            form = entry.form
            if form.open.data:
                hours[str(day)] = [
                    [form.start.data.strftime("%H:%M"), form.end.data.strftime("%H:%M")]
                ]
            else:
                hours[str(day)] = []
        out["hours"] = hours
        return out


def _time(text: str) -> time:
    hour, minute = text.split(":")[:2]
    return time(int(hour), int(minute))


class ServiceForm(FlaskForm):
    loaded = HiddenField()
    code = StringField(
        _l("Code"),
        [
            InputRequired(REQUIRED),
            Regexp(
                r"^[A-Za-z0-9_-]{1,32}$", message=_l("Letters, digits, - and _ only (at most 32).")
            ),
        ],
    )
    name_zh = StringField(_l("Name (Chinese)"), [InputRequired(REQUIRED), Length(1, 80)])
    name_en = StringField(_l("Name (English)"), [InputRequired(REQUIRED), Length(1, 80)])
    prefix = StringField(
        _l("Ticket prefix"),
        [
            InputRequired(REQUIRED),
            Regexp(r"^[A-Z]{1,4}$", message=CAPITALS),
        ],
        render_kw={"autocapitalize": "characters", "maxlength": 4},
    )
    lane = SelectField(_l("Lane"), choices=_choices(LANE_CHOICES))
    expected_minutes = _decimal(_l("Expected duration (min)"), 0.5, 240, 0.5)
    description_zh = StringField(_l("Description (Chinese)"), [Length(0, 200)])
    description_en = StringField(_l("Description (English)"), [Length(0, 200)])
    category = SelectField(
        _l("Group on the kiosk"),
        choices=[SelectChoice(code, name) for code, name in CATEGORY_NAMES.items()],
    )
    bookable = BooleanField(_l("Bookable"))
    slot_minutes = _whole(_l("Booking slot length (min)"), 5, 240, default=15)
    slot_capacity = _whole(_l("Bookings per slot"), 1, 50, default=1)
    active = BooleanField(_l("Offered (active)"), default=True)
    outcomes = TextAreaField(_l("Its own outcome codes"), [Length(0, 2000)], render_kw={"rows": 4})

    def load(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            if name in self._fields:
                self._fields[name].data = value
        self.outcomes.data = "\n".join(
            f"{o['code']}, {o['name_zh']}, {o['name_en']}" for o in values.get("outcomes") or ()
        )

    def validate_outcomes(self, field: TextAreaField) -> None:
        field.parsed = parse_outcomes(field.data or "")

    def values(self) -> dict[str, Any]:
        out = {n: f.data for n, f in self._fields.items() if n not in ("code", *NOT_VALUES)}
        out["name_zh"], out["name_en"] = out["name_zh"].strip(), out["name_en"].strip()
        out["lane"] = Lane(out["lane"])
        out["outcomes"] = parse_outcomes(self.outcomes.data or "")
        return out


# A service's own outcome codes: one a line, "code, 中文名, English name".
MAX_OWN_OUTCOMES = 12
OUTCOME_CODE = re.compile(r"^[a-z0-9_]{1,32}$")
OUTCOME_SEPARATOR = re.compile(r"\s*[,，|]\s*")


def parse_outcomes(text: str) -> list[dict[str, str]]:
    """The outcome lines as stored, or a ValidationError naming the first bad line."""
    out: list[dict[str, str]] = []
    seen = {o.value for o in Outcome}
    for number, line in enumerate((t.strip() for t in text.splitlines()), start=1):
        if not line:
            continue
        parts = OUTCOME_SEPARATOR.split(line, maxsplit=2)
        if len(parts) != 3 or not all(parts) or not OUTCOME_CODE.match(parts[0]):
            raise ValidationError(
                _l(
                    "Line %(n)s: write a code (small letters, digits, _), the Chinese name and the "
                    "English name, separated by commas.",
                    n=number,
                )
            )
        code, name_zh, name_en = parts
        if code in seen:
            raise ValidationError(
                _l("Line %(n)s: the code %(code)s is used already.", n=number, code=code)
            )
        if max(len(name_zh), len(name_en)) > MAX_OUTCOME_NAME:
            raise ValidationError(_l("Line %(n)s: a name has at most 40 characters.", n=number))
        seen.add(code)
        out.append({"code": code, "name_zh": name_zh, "name_en": name_en})
    if len(out) > MAX_OWN_OUTCOMES:
        raise ValidationError(_l("At most %(n)s codes of its own.", n=MAX_OWN_OUTCOMES))
    return out


MAX_OUTCOME_NAME = 40


class MultiCheckboxField(SelectMultipleField):
    """Several choices ticked in a list of checkboxes (none ticked: an empty list)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form: Any) -> None:
        """A value that is not among the choices, said in the user's language (WTForms' own
        message is English only)."""
        known = {str(choice[0]) for choice in self.choices or []}
        unknown = [value for value in self.data or [] if str(value) not in known]
        if unknown:
            raise ValidationError(_l("“%(value)s” is not one of the choices.", value=unknown[0]))


class ProfileForm(FlaskForm):
    """A counter's profile: its lanes in order (the live floor changes it alone)."""

    loaded = HiddenField()
    lane_1 = SelectField(_l("Serves first"), choices=_choices(LANE_CHOICES))
    lane_2 = SelectField(_l("Then"), choices=_choices(OPTIONAL_LANES), default="")
    lane_3 = SelectField(_l("Then"), choices=_choices(OPTIONAL_LANES), default="")
    lane_4 = SelectField(_l("Then"), choices=_choices(OPTIONAL_LANES), default="")

    def lane_fields(self) -> list[SelectField]:
        return [self.lane_1, self.lane_2, self.lane_3, self.lane_4]

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        seen: set[str] = set()
        for field in self.lane_fields():
            if field.data and field.data in seen:
                field.errors = [*field.errors, _l("This lane is listed already.")]
                valid = False
            seen.add(field.data)
        return valid

    def lanes(self) -> list[str]:
        return [f.data for f in self.lane_fields() if f.data]


class CounterForm(ProfileForm):
    number = _whole(_l("Number"), 1, 999)
    name_zh = StringField(_l("Name (Chinese)"), [Length(0, 40)])
    name_en = StringField(_l("Name (English)"), [Length(0, 40)])
    # Choices: the store's services (set by the view).
    services = MultiCheckboxField(_l("Only these services"), choices=[])
    reserved = BooleanField(_l("Held for appointments"))

    def load(self, values: dict[str, Any]) -> None:
        self.number.data = values["number"]
        lanes = list(values["lanes"])
        for field, lane in zip(self.lane_fields(), lanes + [""] * PROFILE_SLOTS, strict=False):
            field.data = lane
        self.name_zh.data, self.name_en.data = values["name_zh"], values["name_en"]
        self.services.data = list(values["services"])
        self.reserved.data = values["reserved"]

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        if self.reserved.data and Lane.APPOINTMENT.value not in self.lanes():
            self.reserved.errors = [
                *self.reserved.errors,
                _l("A counter held for appointments serves the appointment lane: add it above."),
            ]
            valid = False
        return valid

    def values(self) -> dict[str, Any]:
        return {
            "number": self.number.data,
            "lanes": self.lanes(),
            "name_zh": (self.name_zh.data or "").strip(),
            "name_en": (self.name_en.data or "").strip(),
            "services": sorted(self.services.data or []),
            "reserved": bool(self.reserved.data),
        }


# --- the live floor's actions (sent by its page, answered in JSON) ------------------------------

MAX_ID = 2**31 - 1
PAUSE_CHOICES = (
    (PauseReason.BREAK.value, _l("Break")),
    (PauseReason.TRAINING.value, _l("Training")),
    (PauseReason.OTHER.value, _l("Other")),
)


# How long the counter will be away, as the counter terminal asks it: the display, the counter
# and the estimate count it back at that time; "not sure" says no time.
PAUSE_LENGTH_CHOICES = (
    *((str(n), _l("%(n)s min", n=n)) for n in PAUSE_MINUTES_CHOICES),
    ("", _l("Not sure")),
)


class PauseForm(FlaskForm):
    reason = SelectField(_l("Reason"), choices=_choices(PAUSE_CHOICES))
    minutes = SelectField(
        _l("Back in how long?"), choices=_choices(PAUSE_LENGTH_CHOICES), default=""
    )

    @property
    def length(self) -> int | None:
        return int(self.minutes.data) if self.minutes.data else None


class CallForm(FlaskForm):
    ticket = _whole(_l("Ticket"), 1, MAX_ID)
    counter = _whole(_l("Counter"), 1, 999)


class IssueForm(FlaskForm):
    service = StringField(_l("Service"), [InputRequired(REQUIRED), Length(1, 32)])
    # One per form opened: a second click returns the ticket the first one issued.
    request_key = StringField(
        validators=[Optional(), Length(1, 64), Regexp(r"^[A-Za-z0-9_-]+$")],
    )


class NoticesForm(FlaskForm):
    loaded = HiddenField()
    notices_zh = TextAreaField(
        _l("Display notices (Chinese), one per line"), [Length(0, 1000)], render_kw={"rows": 3}
    )
    notices_en = TextAreaField(
        _l("Display notices (English), one per line"), [Length(0, 1000)], render_kw={"rows": 3}
    )

    def values(self) -> tuple[str, str]:
        return _lines(self.notices_zh.data), _lines(self.notices_en.data)


def _lines(text: str | None) -> str:
    return "\n".join(line.strip() for line in (text or "").splitlines()).strip()


# --- a new store (administrators) ----------------------------------------------------------------


class NewStoreForm(FlaskForm):
    code = StringField(
        _l("Code (in the store's web addresses, such as /s/beijing-1/kiosk)"),
        [InputRequired(REQUIRED), Regexp(STORE_CODE.pattern, message=BAD_CODE)],
        render_kw={"maxlength": 32, "autocapitalize": "none", "spellcheck": "false"},
    )
    name_zh = StringField(_l("Name (Chinese)"), [InputRequired(REQUIRED), Length(1, 120)])
    name_en = StringField(_l("Name (English)"), [InputRequired(REQUIRED), Length(1, 120)])
    timezone = StringField(
        _l("Time zone"),
        [InputRequired(REQUIRED), Length(1, 64)],
        default="Asia/Shanghai",
        render_kw={"list": "time-zones", "autocomplete": "off", "spellcheck": "false"},
    )
    template = SelectField(_l("Copy rules, services and counters from"), choices=[])

    def validate_timezone(self, field: StringField) -> None:
        if field.data and field.data.strip() not in available_timezones():
            raise ValidationError(_l("Unknown time zone: %(zone)s.", zone=field.data))


# --- holidays and special days ------------------------------------------------------------------


DAY_KINDS = (
    (DayKind.CLOSED.value, _l("Closed all day")),
    (DayKind.SPECIAL.value, _l("Open with special hours")),
    (DayKind.USUAL.value, _l("Usual hours")),
)
# What the store tells the customers whose bookings it cancels or moves (the manager edits it).
DEFAULT_MESSAGE_ZH = "很抱歉，门店在这一天调整了营业时间。如有疑问，请致电门店。"
DEFAULT_MESSAGE_EN = (
    "We are sorry: the store changed its opening hours on this day. Please call us with any "
    "question."
)


class DayForm(FlaskForm):
    """Close one day or a run of days, give them their own hours, or their usual ones back."""

    loaded = HiddenField()
    first = DateField(_l("Day"), [InputRequired(REQUIRED)], render_kw=DATE_INPUT)
    last = DateField(_l("Until (optional, inclusive)"), [Optional()], render_kw=DATE_INPUT)
    kind = RadioField(_l("That day"), choices=_choices(DAY_KINDS), default=DayKind.CLOSED.value)
    start = TimeField(_l("Opens at"), [Optional()], render_kw=CLOCK_INPUT)
    end = TimeField(_l("Closes at"), [Optional()], render_kw=CLOCK_INPUT)

    def validate_last(self, field: DateField) -> None:
        if field.data is None or self.first.data is None:
            return
        if field.data < self.first.data:
            raise ValidationError(_l("The last day cannot be before the first."))
        if (field.data - self.first.data).days >= MAX_RANGE_DAYS:
            raise ValidationError(_l("At most %(n)s days at once.", n=MAX_RANGE_DAYS))

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        if self.kind.data == DayKind.SPECIAL.value:
            return _check_span(self.start, self.end) and valid
        return valid

    def change(self) -> DayChange:
        first: date = self.first.data
        kind = DayKind(self.kind.data)
        spans: tuple[tuple[str, str], ...] = ()
        if kind == DayKind.SPECIAL:
            spans = ((self.start.data.strftime("%H:%M"), self.end.data.strftime("%H:%M")),)
        return DayChange(first, self.last.data or first, kind, spans)


class MoveEntry(Form):
    """One booking's new slot, as the manager picks it (store time)."""

    booking = HiddenField()
    day = DateField(_l("New day"), [Optional()], render_kw=DATE_INPUT)
    time = StringField(
        _l("New time"),
        [Optional(), Regexp(r"^([01]?\d|2[0-3]):[0-5]\d$", message=_l("A time like 14:30."))],
        render_kw=CLOCK_INPUT,
    )


class DecisionForm(Form):
    """What becomes of the bookings a change of days leaves outside the hours. Sent together with
    the DayForm (which carries the CSRF token): not a FlaskForm of its own."""

    decision = StringField(validators=[AnyOf([Decision.CANCEL.value, Decision.MOVE.value, "keep"])])
    seen = HiddenField()
    message_zh = TextAreaField(
        _l("Message to the customers (Chinese)"), [Length(0, MAX_MESSAGE)], render_kw={"rows": 2}
    )
    message_en = TextAreaField(
        _l("Message to the customers (English)"), [Length(0, MAX_MESSAGE)], render_kw={"rows": 2}
    )
    moves = FieldList(FormField(MoveEntry), max_entries=500)

    def validate_message_zh(self, field: TextAreaField) -> None:
        if self.decision.data != Decision.CANCEL.value:
            return
        if not (field.data or "").strip() and not (self.message_en.data or "").strip():
            raise ValidationError(_l("Please tell the customers why (in one language at least)."))

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        if self.decision.data == Decision.MOVE.value:
            for entry in self.moves.entries:
                form = entry.form
                if not str(form.booking.data or "").isdigit():
                    continue  # names no booking: nothing to move (plan() skips it too)
                if (form.day.data is None or not form.time.data) and not form.errors:
                    form.time.errors = [*form.time.errors, _l("Choose a new day and time.")]
                    self.form_errors.append(_l("Choose a new day and time."))
                    valid = False
        return valid

    def plan(self, zone: str) -> BookingPlan:
        moves: dict[int, datetime] = {}
        if self.decision.data == Decision.MOVE.value:
            for entry in self.moves.entries:
                form = entry.form
                if not str(form.booking.data or "").isdigit() or form.day.data is None:
                    continue
                ident = int(form.booking.data)
                local = datetime.combine(form.day.data, _time(form.time.data), ZoneInfo(zone))
                moves[ident] = local.astimezone(UTC)
        return BookingPlan(
            Decision(self.decision.data),
            self.seen.data or "",
            (self.message_zh.data or "").strip(),
            (self.message_en.data or "").strip(),
            moves,
        )


def field_labels() -> dict[str, Any]:
    """Every edited field's label, by its name (the change log names fields by these)."""
    labels: dict[str, Any] = {}
    for form in (StoreForm, ServiceForm, ProfileForm, CounterForm, NewStoreForm):
        for name, unbound in vars(form).items():
            if isinstance(unbound, UnboundField) and unbound.args:
                labels.setdefault(name, unbound.args[0])
    labels.update(
        hours=_l("Opening hours"),
        lanes=_l("Profile"),
        archived=_l("Archived"),
        code=_l("Code"),
        timezone=_l("Time zone"),
        template=_l("Copied from"),
        services=_l("Services"),
        counters=_l("Counters"),
        days=_l("Days"),
        cancelled=_l("Bookings cancelled"),
        moved=_l("Bookings moved"),
        message=_l("Message to the customers"),
        bookings_kept=_l("Bookings kept at their local time"),
    )
    return labels
