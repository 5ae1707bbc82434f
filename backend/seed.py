"""The demo store: six services in three lanes, four counters with different profiles, staff."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from .extensions import db
from .models import Counter, Service, Store, User
from .policy import Lane, Role

DEMO_SERVICES = [
    # code, zh, en, prefix, lane, expected minutes
    ("A", "缴费充值", "Top-up & bill payment", "A", Lane.FAST, 3.0),
    ("B", "补换卡", "SIM card replacement", "B", Lane.FAST, 5.0),
    ("C", "业务办理", "Plan change", "C", Lane.STANDARD, 12.0),
    ("D", "宽带业务", "Broadband", "D", Lane.STANDARD, 15.0),
    ("E", "投诉建议", "Complaints", "E", Lane.STANDARD, 18.0),
    ("V", "金牌客户", "VIP service", "V", Lane.VIP, 10.0),
]
DEMO_COUNTERS = [
    (1, [Lane.FAST]),
    (2, [Lane.FAST, Lane.STANDARD]),
    (3, [Lane.STANDARD, Lane.FAST]),
    (4, [Lane.VIP, Lane.STANDARD]),
]
DEMO_STAFF = [
    ("clerk1", "张晓", Role.CLERK),
    ("clerk2", "李明", Role.CLERK),
    ("manager", "王经理", Role.MANAGER),
]


def seed_demo(code: str = "demo", *, with_staff: bool = True) -> dict[str, str] | None:
    """Create the demo store unless it exists. Returns the new staff passwords (shown once)."""
    if db.session.scalar(select(Store).where(Store.code == code)) is not None:
        return None
    store = Store(
        code=code, name_zh="示范营业厅", name_en="Demo Business Hall", timezone="Asia/Shanghai"
    )
    db.session.add(store)
    for order, (svc, zh, en, prefix, lane, minutes) in enumerate(DEMO_SERVICES):
        db.session.add(
            Service(
                store=store,
                code=svc,
                name_zh=zh,
                name_en=en,
                prefix=prefix,
                lane=lane,
                expected_minutes=minutes,
                sort_order=order,
            )
        )
    for number, lanes in DEMO_COUNTERS:
        db.session.add(Counter(store=store, number=number, lanes=[lane.value for lane in lanes]))
    passwords: dict[str, str] = {}
    for base_name, name, role in DEMO_STAFF if with_staff else []:
        # Usernames are global; the demo store keeps the short ones.
        username = base_name if code == "demo" else f"{code}.{base_name}"
        password = secrets.token_urlsafe(9)
        user = User(username=username, display_name=name, role=role, store=store)
        user.set_password(password)
        db.session.add(user)
        passwords[username] = password
    db.session.commit()
    return passwords
