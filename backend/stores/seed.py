"""The demo store: six services in three lanes, four counters with different profiles, staff."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select

from backend.extensions import db
from backend.models import Counter, Kiosk, Service, Store, User
from backend.policy import Lane, Role


@dataclass(frozen=True)
class DemoService:
    code: str
    name_zh: str
    name_en: str
    lane: Lane
    minutes: float
    category: str
    icon: str
    description_zh: str
    description_en: str


# Outcome codes of the services' own, offered after the standard ones when a visit is completed.
DEMO_OUTCOMES = {
    "C": [
        {"code": "plan_changed", "name_zh": "已变更套餐", "name_en": "Plan changed"},
        {"code": "plan_kept", "name_zh": "咨询后未变更", "name_en": "Advised, plan kept"},
    ],
    "D": [
        {"code": "install_booked", "name_zh": "已预约装机", "name_en": "Installation booked"},
        {"code": "repair_sent", "name_zh": "已派修", "name_en": "Repair dispatched"},
    ],
}

DEMO_SERVICES = [
    DemoService(
        "A",
        "缴费充值",
        "Top-up & bill payment",
        Lane.FAST,
        3.0,
        "everyday",
        "wallet",
        "话费、宽带费缴纳与充值",
        "Pay bills and top up your balance",
    ),
    DemoService(
        "B",
        "补换卡",
        "SIM card replacement",
        Lane.FAST,
        5.0,
        "everyday",
        "sim",
        "补办、更换或领取 SIM 卡",
        "Replace or collect a SIM card",
    ),
    DemoService(
        "C",
        "业务办理",
        "Plan change",
        Lane.STANDARD,
        12.0,
        "account",
        "plan",
        "套餐变更，开通或取消业务",
        "Change your plan, add or cancel services",
    ),
    DemoService(
        "D",
        "宽带业务",
        "Broadband",
        Lane.STANDARD,
        15.0,
        "account",
        "broadband",
        "宽带新装、移机与报修",
        "New broadband, moving house, repairs",
    ),
    DemoService(
        "E",
        "投诉建议",
        "Complaints",
        Lane.STANDARD,
        18.0,
        "care",
        "complaint",
        "投诉、建议与疑难问题",
        "Complaints, suggestions and difficult cases",
    ),
    DemoService(
        "V",
        "金牌客户",
        "VIP service",
        Lane.VIP,
        10.0,
        "vip",
        "vip",
        "金牌客户专属窗口",
        "Dedicated service for VIP customers",
    ),
]
DEMO_NOTICES_ZH = "营业时间 每天 9:00–18:00\n缴费充值、补换卡请选“快速通道”，办理更快"
DEMO_NOTICES_EN = (
    "Open daily 9:00–18:00\nTop-ups and SIM cards: choose the Fast lane, it is quicker"
)
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


@dataclass
class Seeded:
    """Secrets created by the seed, printed once: staff passwords and the kiosk's token."""

    passwords: dict[str, str] = field(default_factory=dict)
    kiosk_token: str | None = None


def seed_demo(code: str = "demo", *, with_staff: bool = True) -> Seeded | None:
    """Create the demo store unless it exists."""
    if db.session.scalar(select(Store).where(Store.code == code)) is not None:
        return None
    store = Store(
        code=code,
        name_zh="示范营业厅",
        name_en="Demo Business Hall",
        timezone="Asia/Shanghai",
        notices_zh=DEMO_NOTICES_ZH,
        notices_en=DEMO_NOTICES_EN,
        address_zh="人民路 100 号",
        address_en="100 Renmin Road",
    )
    db.session.add(store)
    for order, svc in enumerate(DEMO_SERVICES):
        db.session.add(
            Service(
                store=store,
                code=svc.code,
                name_zh=svc.name_zh,
                name_en=svc.name_en,
                prefix=svc.code,
                lane=svc.lane,
                expected_minutes=svc.minutes,
                sort_order=order,
                category=svc.category,
                icon=svc.icon,
                description_zh=svc.description_zh,
                description_en=svc.description_en,
                # Longer business is worth booking; a top-up is not.
                bookable=svc.lane == Lane.STANDARD,
                slot_minutes=20 if svc.minutes > 12 else 15,
                outcomes=DEMO_OUTCOMES.get(svc.code, []),
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
    kiosk, kiosk_token = Kiosk.register(store, "大厅 1 号机 Hall kiosk 1", datetime.now(UTC))
    db.session.add(kiosk)
    db.session.commit()
    return Seeded(passwords, kiosk_token)
