"""The console's staff and devices pages through HTTP, as a browser sends their forms: a valid
change takes effect (the new clerk logs in and signs in at a counter, a reset password ends the old
session, a deactivated account's cookie and token stop, a revoked kiosk cannot print) and is in the
change log; invalid input shows the field's error and changes nothing; a clerk gets 403 and a
manager of another store 404; no password or token is ever shown twice or logged."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from backend.audit.models import AuditEntry
from backend.core.clock import ManualClock
from backend.extensions import db
from backend.kiosks.models import Kiosk
from backend.policy import Role
from backend.staff.models import ApiToken, StaffSession, User
from backend.stores.models import Counter, Store
from tests.factories import PASSWORD, Factory, bearer, kiosk_headers
from tests.test_api_tickets import extract_csrf
from tests.test_manager import audit_count, field_error, form_of, login, submit

NEW_PASSWORD = "a new password 42"
STAFF = "/s/demo/manage/staff"
DEVICES = "/s/demo/manage/devices"

# --- helpers -------------------------------------------------------------------------------------


def login_as(client: FlaskClient, username: str, password: str) -> Any:
    csrf = extract_csrf(client.get("/login").get_data(as_text=True))
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": csrf}
    )


def user_id(app: Flask, username: str) -> int:
    with app.app_context():
        found = db.session.scalar(select(User.id).where(User.username == username))
        assert found is not None, username
        return found


def user_row(app: Flask, username: str) -> dict[str, Any]:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        assert user is not None, username
        row = {c.name: getattr(user, c.name) for c in User.__table__.columns}
        row["store"] = user.store.code if user.store else None
        return row


def users_named(app: Flask, username: str) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count()).select_from(User).where(User.username == username)
        )


def entries(app: Flask, store: str = "demo") -> list[AuditEntry]:
    with app.app_context():
        store_id = db.session.scalar(select(Store.id).where(Store.code == store))
        rows = db.session.scalars(
            select(AuditEntry).where(AuditEntry.store_id == store_id).order_by(AuditEntry.id)
        )
        found = list(rows)
        db.session.expunge_all()
        return found


def audit_text(app: Flask) -> str:
    """Every audit entry of every store, as stored (to look for secrets in it)."""
    with app.app_context():
        rows = db.session.scalars(select(AuditEntry))
        return json.dumps(
            [[e.action, e.target, e.before, e.after] for e in rows], ensure_ascii=False
        )


def csrf_of(client: FlaskClient, url: str) -> str:
    return extract_csrf(client.get(url).get_data(as_text=True))


def post_button(client: FlaskClient, page: str, action: str) -> Any:
    """Press a button whose form has only the CSRF token (unlock, deactivate, revoke …)."""
    return client.post(action, data={"csrf_token": csrf_of(client, page)})


def shown_password(html: str) -> str:
    match = re.search(r'<code id="secret"[^>]*>([^<]+)</code>', html)
    assert match is not None, "no password on the page"
    return match[1]


def shown_link(html: str) -> str:
    match = re.search(r'<code id="setup-link"[^>]*>([^<]+)</code>', html)
    assert match is not None, "no set-up link on the page"
    return match[1]


def create(client: FlaskClient, lang: str = "zh", **fields: Any) -> Any:
    return submit(client, f"{STAFF}/new?lang={lang}", **fields)


def session_csrf(client: FlaskClient) -> dict[str, str]:
    """The header a logged-in page sends with its API calls."""
    return {"X-CSRFToken": csrf_of(client, "/s/demo/counter")}


def counter_clerk(client: FlaskClient, number: int) -> str | None:
    counters = client.get("/api/v1/stores/demo/snapshot").json["counters"]
    return next(c.get("clerk") for c in counters if c["number"] == number)


def clerk_of(app: Flask, number: int) -> int | None:
    with app.app_context():
        store_id = db.session.scalar(select(Store.id).where(Store.code == "demo"))
        return db.session.scalar(
            select(Counter.clerk_id).where(Counter.store_id == store_id, Counter.number == number)
        )


@pytest.fixture
def manager(app: Flask, client: FlaskClient, make: Factory) -> FlaskClient:
    """The demo store's manager `boss`, logged in on `client`."""
    make.user("boss", "demo", Role.MANAGER)
    assert login(client, "boss").status_code == 302
    return client


@pytest.fixture
def admin(app: Flask, make: Factory) -> FlaskClient:
    make.user("root", None, Role.ADMIN)
    client = app.test_client()
    assert login(client, "root").status_code == 302
    return client


# --- the list ----------------------------------------------------------------------------------


def test_the_staff_page_lists_the_stores_accounts(
    app: Flask, manager: FlaskClient, make: Factory, clock: ManualClock
) -> None:
    make.user("desk", "demo")
    make.user("late", "demo")
    make.user("stranger", "other")
    for _ in range(5):
        login_as(app.test_client(), "late", "wrong")
    seen = app.test_client()
    clock.advance(minutes=5)
    assert login(seen, "desk").status_code == 302
    page = manager.get(f"{STAFF}?lang=en").get_data(as_text=True)
    rows = {
        name: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row))
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", page, re.S)
        for name in re.findall(r"<code>([^<]+)</code>", row)
    }
    assert set(rows) == {"boss", "desk", "late"}  # not the other store's
    assert "Manager" in rows["boss"] and "you" in rows["boss"]
    assert "Clerk" in rows["desk"] and "Active" in rows["desk"]
    assert "2026-11-26 01:05" in rows["desk"]  # last seen: the login (UTC in the raw page)
    assert "Locked until" in rows["late"] and "never" in rows["late"]
    assert "示范营业厅" in manager.get(f"{STAFF}?lang=zh").get_data(as_text=True)


# --- creating an account -----------------------------------------------------------------------


def test_a_new_clerk_logs_in_and_signs_in_at_a_counter(app: Flask, manager: FlaskClient) -> None:
    response = create(
        manager, username="neo", display_name="李明", role="clerk", password=NEW_PASSWORD
    )
    assert response.status_code == 302
    new_id = user_id(app, "neo")
    assert response.headers["Location"] == f"{STAFF}/{new_id}"
    assert "账号 neo 已创建" in manager.get(response.headers["Location"]).get_data(as_text=True)
    row = user_row(app, "neo")
    assert (row["role"], row["store"], row["display_name"], row["active"]) == (
        Role.CLERK,
        "demo",
        "李明",
        True,
    )

    clerk = app.test_client()
    landed = login_as(clerk, "neo", NEW_PASSWORD)
    assert landed.status_code == 302 and landed.headers["Location"] == "/s/demo/counter"
    signed = clerk.post(
        "/api/v1/stores/demo/counters/1/sign-in", json={}, headers=session_csrf(clerk)
    )
    assert signed.status_code == 200, signed.json
    assert counter_clerk(clerk, 1) == "李明"

    [entry] = entries(app)
    assert (entry.action, entry.target, entry.actor_name) == ("staff_created", "neo", "boss")
    assert entry.before is None and entry.after == {"display_name": "李明", "role": "clerk"}
    assert NEW_PASSWORD not in audit_text(app)
    log = manager.get("/s/demo/manage/audit").get_data(as_text=True)
    assert "账号已创建" in log and "neo" in log and NEW_PASSWORD not in log


def test_a_generated_password_is_shown_once_and_works(app: Flask, manager: FlaskClient) -> None:
    response = create(manager, username="gen", role="clerk", password="")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    password = shown_password(response.get_data(as_text=True))
    assert len(password) >= 12
    assert login_as(app.test_client(), "gen", password).status_code == 302
    account = f"{STAFF}/{user_id(app, 'gen')}"
    for url in (STAFF, account, "/s/demo/manage/audit", "/s/demo/manage"):
        assert password not in manager.get(url).get_data(as_text=True), url
    assert password not in audit_text(app)
    assert user_row(app, "gen")["display_name"] == "gen"  # empty: the username


def test_a_second_click_on_create_makes_one_account(app: Flask, manager: FlaskClient) -> None:
    data = form_of(manager.get(f"{STAFF}/new").get_data(as_text=True))
    data |= {"username": "twice", "role": "clerk", "password": NEW_PASSWORD}
    first = manager.post(f"{STAFF}/new", data=data)
    again = manager.post(f"{STAFF}/new?lang=en", data=data)
    assert first.status_code == 302
    assert again.status_code == 422
    assert field_error(again.get_data(as_text=True), "username") == "This username is taken."
    assert users_named(app, "twice") == 1
    assert [e.action for e in entries(app)] == ["staff_created"]


@pytest.mark.parametrize(
    ("changes", "field", "zh", "en"),
    [
        ({"username": "x"}, "username", "2 到 64 个", "2 to 64 letters"),
        ({"username": "two words"}, "username", "2 到 64 个", "2 to 64 letters"),
        ({"username": "u" * 65}, "username", "2 到 64 个", "2 to 64 letters"),
        ({"username": ""}, "username", "请填写", "Please fill this in"),
        ({"password": "short"}, "password", "至少 8 个", "At least 8"),
        ({"password": "p" * 129}, "password", "至多 128 个", "at most 128"),
        ({"display_name": "名" * 81}, "display_name", "80", "80"),
        ({"role": "admin"}, "role", "不是有效的选择", "Not a valid choice"),
        ({"role": "root"}, "role", "不是有效的选择", "Not a valid choice"),
        ({"username": "boss"}, "username", "已被使用", "This username is taken."),
    ],
)
def test_invalid_account_input_changes_nothing(
    app: Flask, manager: FlaskClient, changes: dict[str, Any], field: str, zh: str, en: str
) -> None:
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(User))
    for lang, text in (("zh", zh), ("en", en)):
        typed = {"username": "fresh", "display_name": "不该保存", "password": NEW_PASSWORD}
        response = create(manager, lang, **(typed | changes))
        assert response.status_code == 422, lang
        html = response.get_data(as_text=True)
        assert text in field_error(html, field), lang
        if field != "display_name":
            assert 'value="不该保存"' in html  # the other fields come back as typed
        assert NEW_PASSWORD not in html  # a password is never sent back
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == before
    assert audit_count(app) == 0


# --- editing -----------------------------------------------------------------------------------


def test_a_clerk_made_manager_opens_the_console(
    app: Flask, manager: FlaskClient, make: Factory
) -> None:
    make.user("desk", "demo")
    clerk = app.test_client()
    login(clerk, "desk")
    assert clerk.get("/s/demo/manage").status_code == 403
    url = f"{STAFF}/{user_id(app, 'desk')}"
    response = submit(manager, url, display_name="  王芳 ", role="manager")
    assert response.status_code == 302 and response.headers["Location"] == url
    assert clerk.get("/s/demo/manage").status_code == 200  # at once, same session
    row = user_row(app, "desk")
    assert (row["display_name"], row["role"]) == ("王芳", Role.MANAGER)
    [entry] = entries(app)
    assert entry.action == "staff_updated" and entry.target == "desk"
    assert entry.before == {"display_name": "desk", "role": "clerk"}
    assert entry.after == {"display_name": "王芳", "role": "manager"}
    log = manager.get("/s/demo/manage/audit").get_data(as_text=True)
    assert "账号已修改" in log and "角色" in log and "柜员" in log and "店长" in log


def test_a_stale_account_form_saves_nothing(
    app: Flask, manager: FlaskClient, make: Factory
) -> None:
    make.user("desk", "demo")
    make.user("deputy", "demo", Role.MANAGER)
    deputy = app.test_client()
    login(deputy, "deputy")
    url = f"{STAFF}/{user_id(app, 'desk')}"
    opened = form_of(manager.get(url).get_data(as_text=True))
    assert submit(deputy, url, display_name="Deputy's").status_code == 302
    response = manager.post(url, data=opened | {"role": "manager"})
    assert response.status_code == 302
    assert "其他人刚刚保存了这些设置" in manager.get(url).get_data(as_text=True)
    row = user_row(app, "desk")
    assert (row["display_name"], row["role"]) == ("Deputy's", Role.CLERK)
    assert len(entries(app)) == 1


def test_nobody_demotes_deactivates_or_resets_themselves(app: Flask, manager: FlaskClient) -> None:
    me = f"{STAFF}/{user_id(app, 'boss')}"
    page = manager.get(me).get_data(as_text=True)
    assert f'action="{me}/deactivate"' not in page and f'action="{me}/password"' not in page
    demoted = submit(manager, f"{me}?lang=en", role="clerk")
    assert demoted.status_code == 422
    assert "Not a valid choice" in field_error(demoted.get_data(as_text=True), "role")
    # The forms a page does not offer, sent anyway.
    post_button(manager, me, f"{me}/deactivate")
    assert "不能停用自己的账号" in manager.get(f"{me}?lang=zh").get_data(as_text=True)
    token = csrf_of(manager, me)
    manager.post(f"{me}/password", data={"csrf_token": token, "password": NEW_PASSWORD})
    assert "不能在这里重置自己的密码" in manager.get(me).get_data(as_text=True)
    row = user_row(app, "boss")
    assert row["active"] is True and row["role"] == Role.MANAGER
    assert login_as(app.test_client(), "boss", PASSWORD).status_code == 302
    assert audit_count(app) == 0


def test_a_manager_cannot_touch_an_admin_account(
    app: Flask, manager: FlaskClient, make: Factory
) -> None:
    make.user("chief", "demo", Role.ADMIN)
    url = f"{STAFF}/{user_id(app, 'chief')}"
    page = manager.get(url).get_data(as_text=True)
    assert "管理员账号只有管理员可以修改" in page and 'name="display_name"' not in page
    before = user_row(app, "chief")
    token = csrf_of(manager, url)
    tries = {
        url: {"display_name": "hijacked", "role": "clerk"},
        f"{url}/password": {"password": NEW_PASSWORD},
        f"{url}/deactivate": {},
        f"{url}/unlock": {},
    }
    for action, data in tries.items():
        assert manager.post(action, data={"csrf_token": token, **data}).status_code == 403, action
    assert user_row(app, "chief") == before
    assert audit_count(app) == 0


def test_an_admin_gives_the_admin_role_and_moves_an_account(
    app: Flask, admin: FlaskClient, make: Factory
) -> None:
    options = admin.get(f"{STAFF}/new").get_data(as_text=True)
    assert 'value="admin"' in options
    assert create(admin, username="deputy", role="admin", password=NEW_PASSWORD).status_code == 302
    assert user_row(app, "deputy")["role"] == Role.ADMIN

    headers = make.staff("desk")
    make.counter(headers, 2)
    url = f"{STAFF}/{user_id(app, 'desk')}"
    response = submit(admin, url, store="other")
    assert response.status_code == 302 and response.headers["Location"] == STAFF
    assert user_row(app, "desk")["store"] == "other"
    assert clerk_of(app, 2) is None  # no longer signed in at demo's counter
    assert admin.get(url).status_code == 404  # not demo's account any more
    assert admin.get(f"/s/other/manage/staff/{user_id(app, 'desk')}").status_code == 200
    moved = [e for e in entries(app) if e.action == "staff_updated"]
    arrived = entries(app, "other")
    assert [e.after for e in moved] == [{"store": "other"}]
    assert [e.before for e in arrived] == [{"store": "demo"}]
    # The token now works in the other store only.
    assert (
        app.test_client().get("/api/v1/stores/other/counters/1", headers=headers).status_code == 200
    )


def test_a_manager_cannot_move_an_account(app: Flask, manager: FlaskClient, make: Factory) -> None:
    make.user("desk", "demo")
    url = f"{STAFF}/{user_id(app, 'desk')}"
    data = form_of(manager.get(url).get_data(as_text=True))
    assert "store" not in data
    assert manager.post(url, data=data | {"store": "other"}).status_code == 302  # ignored
    assert user_row(app, "desk")["store"] == "demo"
    assert audit_count(app) == 0


# --- password, lockout, deactivation -----------------------------------------------------------


def test_a_password_reset_ends_the_old_sessions(
    app: Flask, manager: FlaskClient, make: Factory
) -> None:
    make.user("desk", "demo")
    clerk = app.test_client()
    login(clerk, "desk")
    assert clerk.get("/s/demo/counter").status_code == 200
    url = f"{STAFF}/{user_id(app, 'desk')}"
    token = csrf_of(manager, url)
    response = manager.post(f"{url}/password", data={"csrf_token": token, "password": ""})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    password = shown_password(response.get_data(as_text=True))

    gone = clerk.get("/s/demo/counter")
    assert gone.status_code == 302 and "/login" in gone.headers["Location"]
    assert clerk.get("/api/v1/stores/demo/counters/1").status_code == 401
    assert login_as(app.test_client(), "desk", PASSWORD).status_code == 401
    assert login_as(app.test_client(), "desk", password).status_code == 302
    [entry] = entries(app)
    assert entry.action == "staff_password_reset" and entry.after == {"sessions_ended": 1}
    assert password not in audit_text(app)
    assert password not in manager.get(url).get_data(as_text=True)


def test_a_typed_password_must_be_long_enough(
    app: Flask, manager: FlaskClient, make: Factory
) -> None:
    make.user("desk", "demo")
    url = f"{STAFF}/{user_id(app, 'desk')}"
    token = csrf_of(manager, url)
    response = manager.post(
        f"{url}/password?lang=en", data={"csrf_token": token, "password": "1234567"}
    )
    assert response.status_code == 422
    assert "At least 8" in field_error(response.get_data(as_text=True), "password")
    assert login_as(app.test_client(), "desk", PASSWORD).status_code == 302
    typed = manager.post(f"{url}/password", data={"csrf_token": token, "password": NEW_PASSWORD})
    assert typed.status_code == 302
    assert NEW_PASSWORD not in manager.get(url).get_data(as_text=True)
    assert login_as(app.test_client(), "desk", NEW_PASSWORD).status_code == 302
    assert [e.action for e in entries(app)] == ["staff_password_reset"]


def test_a_locked_account_is_unlocked(app: Flask, manager: FlaskClient, make: Factory) -> None:
    make.user("desk", "demo")
    url = f"{STAFF}/{user_id(app, 'desk')}"
    assert post_button(manager, url, f"{url}/unlock").status_code == 302
    assert "这个账号没有被锁定" in manager.get(url).get_data(as_text=True)
    for _ in range(5):
        login_as(app.test_client(), "desk", "wrong")
    assert login_as(app.test_client(), "desk", PASSWORD).status_code == 429
    assert "因密码错误锁定至" in manager.get(url).get_data(as_text=True)
    assert post_button(manager, url, f"{url}/unlock").status_code == 302
    assert login_as(app.test_client(), "desk", PASSWORD).status_code == 302
    [entry] = entries(app)
    assert entry.action == "staff_unlocked"
    assert (entry.before, entry.after) == ({"locked": True}, {"locked": False})


def test_a_deactivated_account_stops_at_once_everywhere(
    app: Flask, manager: FlaskClient, make: Factory
) -> None:
    headers = make.staff("desk")
    make.counter(headers, 2)
    page = app.test_client()
    login(page, "desk")
    assert page.get("/s/demo/counter").status_code == 200
    panel = "/api/v1/stores/demo/counters/2"
    assert page.get(panel).status_code == 200
    assert counter_clerk(page, 2) == "desk"

    url = f"{STAFF}/{user_id(app, 'desk')}"
    assert post_button(manager, url, f"{url}/deactivate").status_code == 302
    call = page.post(f"{panel}/call-next", headers=headers)
    assert call.status_code == 401 and call.json["error"] == "bad_token"
    assert page.get(panel).status_code == 401
    assert page.get("/s/demo/counter").status_code == 302
    assert login_as(app.test_client(), "desk", PASSWORD).status_code == 401
    assert clerk_of(app, 2) is None and counter_clerk(page, 2) is None
    listed = manager.get(STAFF).get_data(as_text=True)
    assert "已停用" in listed
    [entry] = entries(app)
    assert entry.action == "staff_deactivated"
    assert entry.after == {"account_active": False, "sessions_ended": 1}
    with app.app_context():
        sessions = select(func.count()).select_from(StaffSession)
        assert db.session.scalar(sessions.where(StaffSession.user_id == user_id(app, "desk"))) == 0

    assert post_button(manager, url, f"{url}/reactivate").status_code == 302
    assert page.get(panel, headers=headers).status_code == 200  # its token works again
    assert page.get("/s/demo/counter").status_code == 302  # the old session stays ended
    assert login_as(app.test_client(), "desk", PASSWORD).status_code == 302
    assert [e.action for e in entries(app)] == ["staff_deactivated", "staff_reactivated"]


# --- API tokens --------------------------------------------------------------------------------


def test_tokens_are_listed_and_revoked_one_by_one(
    app: Flask, manager: FlaskClient, make: Factory, clock: ManualClock
) -> None:
    headers = make.staff("desk")  # a token named "test"
    other = bearer(make.token("desk"))
    panel = "/api/v1/stores/demo/counters/1"
    clock.advance(minutes=3)
    assert manager.get(panel, headers=headers).status_code == 200
    url = f"{STAFF}/{user_id(app, 'desk')}"
    page = manager.get(url).get_data(as_text=True)
    assert "2026-11-26 01:03" in page  # last used
    assert page.count('/revoke"') == 2
    for value in (headers["Authorization"][7:], other["Authorization"][7:]):
        assert value not in page
    with app.app_context():
        first = db.session.scalar(select(ApiToken.id).order_by(ApiToken.id))

    assert post_button(manager, url, f"{url}/tokens/{first}/revoke").status_code == 302
    refused = manager.get(panel, headers=headers)
    assert refused.status_code == 401 and refused.json["error"] == "bad_token"
    assert manager.get(panel, headers=other).status_code == 200
    assert manager.get(url).get_data(as_text=True).count('/revoke"') == 1
    again = post_button(manager, url, f"{url}/tokens/{first}/revoke")
    assert again.status_code == 302
    [entry] = entries(app)
    assert entry.action == "staff_token_revoked" and entry.before == {
        "api_token": f"test (#{first})"
    }
    assert headers["Authorization"][7:] not in audit_text(app)


def test_unknown_or_foreign_ids_are_404(app: Flask, manager: FlaskClient, make: Factory) -> None:
    make.staff("desk")
    make.staff("stranger", "other")
    desk, stranger = user_id(app, "desk"), user_id(app, "stranger")
    with app.app_context():
        foreign_token = db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == stranger))
    token = csrf_of(manager, STAFF)
    for url in (
        f"{STAFF}/{stranger}",
        f"{STAFF}/999999",
        f"{STAFF}/99999999999999999999",
        f"{STAFF}/{desk}/tokens/{foreign_token}/revoke",
        f"{STAFF}/{desk}/tokens/424242/revoke",
        f"{STAFF}/{stranger}/deactivate",
    ):
        assert manager.post(url, data={"csrf_token": token}).status_code == 404, url
    assert manager.get(f"{STAFF}/{stranger}").status_code == 404
    assert user_row(app, "stranger")["active"] is True
    assert audit_count(app) == 0 and audit_count(app, "other") == 0


# --- who may -----------------------------------------------------------------------------------


def test_a_clerk_gets_403_on_the_staff_and_devices_pages(
    app: Flask, client: FlaskClient, make: Factory
) -> None:
    make.user("desk", "demo")
    make.user("mate", "demo")
    login(client, "desk")
    mate = user_id(app, "mate")
    kiosks = kiosk_count(app)
    for url in (STAFF, f"{STAFF}/new", f"{STAFF}/{mate}", DEVICES):
        assert client.get(url).status_code == 403, url
    token = csrf_of(client, "/s/demo/counter")
    for url, data in (
        (f"{STAFF}/new", {"username": "sneaky", "role": "manager", "password": NEW_PASSWORD}),
        (f"{STAFF}/{mate}", {"display_name": "x", "role": "manager"}),
        (f"{STAFF}/{mate}/deactivate", {}),
        (f"{STAFF}/{mate}/password", {"password": NEW_PASSWORD}),
        (f"{DEVICES}/kiosks/new", {"name": "rogue"}),
    ):
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 403, url
    assert users_named(app, "sneaky") == 0 and user_row(app, "mate")["active"] is True
    assert kiosk_count(app) == kiosks
    assert audit_count(app) == 0


def test_a_manager_of_demo_cannot_see_or_change_others_staff_or_devices(
    app: Flask, manager: FlaskClient, make: Factory
) -> None:
    make.user("stranger", "other")
    with app.app_context():
        kiosk = db.session.scalar(select(Kiosk.id).join(Store).where(Store.code == "other"))
    for url in ("/s/other/manage/staff", "/s/other/manage/staff/new", "/s/other/manage/devices"):
        response = manager.get(url)
        assert response.status_code == 404 and "stranger" not in response.get_data(as_text=True)
    token = csrf_of(manager, STAFF)
    stranger = user_id(app, "stranger")
    for url, data in (
        (
            "/s/other/manage/staff/new",
            {"username": "spy", "role": "clerk", "password": NEW_PASSWORD},
        ),
        (f"/s/other/manage/staff/{stranger}/deactivate", {}),
        ("/s/other/manage/devices/kiosks/new", {"name": "spy"}),
        (f"/s/other/manage/devices/kiosks/{kiosk}/revoke", {}),
        (f"{DEVICES}/kiosks/{kiosk}/revoke", {}),  # other's kiosk through demo's address
        (f"{DEVICES}/kiosks/{kiosk}", {"name": "spy"}),
    ):
        assert manager.post(url, data={"csrf_token": token, **data}).status_code == 404, url
    assert users_named(app, "spy") == 0 and user_row(app, "stranger")["active"] is True
    other = app.test_client().post(
        "/api/v1/stores/other/tickets", json={"service": "A"}, headers=kiosk_headers(app, "other")
    )
    assert other.status_code == 201  # other's kiosk still prints
    assert audit_count(app, "other") == 0


# --- devices: kiosks ---------------------------------------------------------------------------


def kiosk_id(app: Flask, name: str) -> int:
    with app.app_context():
        found = db.session.scalar(select(Kiosk.id).where(Kiosk.name == name))
        assert found is not None, name
        return found


def kiosk_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Kiosk))


def kiosks_named(app: Flask, name: str) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Kiosk).where(Kiosk.name == name))


def add_kiosk(client: FlaskClient, lang: str = "zh", **fields: Any) -> Any:
    data = form_of(client.get(DEVICES).get_data(as_text=True))
    for name, value in fields.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = str(value)
    return client.post(f"{DEVICES}/kiosks/new?lang={lang}", data=data)


def test_a_new_kiosk_shows_its_link_once_and_prints(app: Flask, manager: FlaskClient) -> None:
    response = add_kiosk(manager, name="大厅 2 号机")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    link = shown_link(html)
    assert "<svg" in html  # its QR code
    path = link.removeprefix("http://localhost")
    assert path.startswith("/s/demo/kiosk/register/")
    secret = path.rsplit("/", 1)[1]

    kiosk = app.test_client()
    assert kiosk.get(path).status_code == 302
    assert 'id="not-registered"' not in kiosk.get("/s/demo/kiosk").get_data(as_text=True)
    printed = kiosk.post("/api/v1/stores/demo/tickets", json={"service": "A"})
    assert printed.status_code == 201, printed.json

    page = manager.get(DEVICES).get_data(as_text=True)
    assert "大厅 2 号机" in page and secret not in page
    assert secret not in audit_text(app)
    [entry] = entries(app)
    assert entry.action == "kiosk_created" and entry.target == "大厅 2 号机"
    assert entry.after == {"name": "大厅 2 号机", "auto_print": True}


def test_a_second_click_on_add_kiosk_makes_one(app: Flask, manager: FlaskClient) -> None:
    assert add_kiosk(manager, name="Tablet", auto_print=None).status_code == 200
    again = add_kiosk(manager, "en", name="Tablet", auto_print=None)
    assert again.status_code == 422
    error = field_error(again.get_data(as_text=True), "name")
    assert error == "Another kiosk of this store has this name."
    assert kiosks_named(app, "Tablet") == 1
    with app.app_context():
        assert db.session.scalar(select(Kiosk.auto_print).where(Kiosk.name == "Tablet")) is False
    assert len(entries(app)) == 1


@pytest.mark.parametrize(
    ("name", "zh", "en"),
    [
        ("", "请填写", "Please fill this in"),
        ("   ", "请填写", "Please fill this in"),
        ("k" * 81, "80", "80"),
    ],
)
def test_invalid_kiosk_input_changes_nothing(
    app: Flask, manager: FlaskClient, name: str, zh: str, en: str
) -> None:
    before = kiosk_count(app)
    for lang, text in (("zh", zh), ("en", en)):
        response = add_kiosk(manager, lang, name=name)
        assert response.status_code == 422
        assert text in field_error(response.get_data(as_text=True), "name")
    assert kiosk_count(app) == before
    assert audit_count(app) == 0


def test_a_kiosk_is_renamed(app: Flask, manager: FlaskClient) -> None:
    url = f"{DEVICES}/kiosks/{kiosk_id(app, 'test kiosk demo')}"
    response = submit(manager, url, name="门口 1 号机", auto_print=None)
    assert response.status_code == 302
    with app.app_context():
        kiosk = db.session.get(Kiosk, kiosk_id(app, "门口 1 号机"))
        assert kiosk is not None and kiosk.auto_print is False
    assert issue_with_test_kiosk(manager).status_code == 201  # still the same kiosk
    [entry] = entries(app)
    assert entry.action == "kiosk_updated" and entry.target == "test kiosk demo"
    assert entry.before == {"name": "test kiosk demo", "auto_print": True}
    assert entry.after == {"name": "门口 1 号机", "auto_print": False}
    assert add_kiosk(manager, name="门口 1 号机").status_code == 422  # taken now


def issue_with_test_kiosk(client: FlaskClient, lang: str = "zh") -> Any:
    return client.post(
        f"/api/v1/stores/demo/tickets?lang={lang}",
        json={"service": "A"},
        headers=kiosk_headers(client.application),
    )


def test_a_revoked_kiosk_cannot_print_and_says_so(
    app: Flask, manager: FlaskClient, make: Factory
) -> None:
    kiosk = app.test_client()
    secret = app.config["TEST_KIOSKS"]["demo"]
    assert kiosk.get(f"/s/demo/kiosk/register/{secret}").status_code == 302
    assert kiosk.post("/api/v1/stores/demo/tickets", json={"service": "A"}).status_code == 201
    booking = make.appointment("2026-11-26T02:00:00Z")

    url = f"{DEVICES}/kiosks/{kiosk_id(app, 'test kiosk demo')}"
    assert post_button(manager, DEVICES, f"{url}/revoke").status_code == 302
    refused = kiosk.post("/api/v1/stores/demo/tickets", json={"service": "A"})
    assert refused.status_code == 403
    assert refused.json["error"] == "kiosk_revoked"
    assert refused.json["message"] == "本取号机已停用，请联系工作人员。"
    english = issue_with_test_kiosk(app.test_client(), "en")
    assert english.status_code == 403
    assert english.json["message"] == "This kiosk is no longer registered. Please ask our staff."
    check_in = kiosk.post("/api/v1/stores/demo/check-in", json={"code": booking["code"]})
    assert check_in.status_code == 403 and check_in.json["error"] == "kiosk_revoked"
    home = kiosk.get("/s/demo/kiosk").get_data(as_text=True)
    assert "本取号机已停用。" in home and 'id="not-registered"' in home
    assert "本取号机已停用。" in kiosk.get("/s/demo/kiosk/check-in").get_data(as_text=True)
    # A forged token is still "not registered", not "revoked".
    forged = app.test_client().post(
        "/api/v1/stores/demo/tickets", json={"service": "A"}, headers={"X-Kiosk-Token": "nope"}
    )
    assert forged.json["error"] == "kiosk_not_registered"

    assert manager.get(url).status_code == 404  # a revoked kiosk is not edited
    page = manager.get(DEVICES).get_data(as_text=True)
    assert "已停用" in page and f'action="{url}/revoke"' not in page
    assert post_button(manager, DEVICES, f"{url}/revoke").status_code == 302  # again: nothing
    [entry] = entries(app)
    assert entry.action == "kiosk_revoked" and entry.after == {"revoked": True}
    log = manager.get("/s/demo/manage/audit").get_data(as_text=True)
    assert "取号机已停用" in log


def test_the_devices_page_shows_each_kiosks_last_ticket(
    app: Flask, manager: FlaskClient, make: Factory, clock: ManualClock
) -> None:
    assert add_kiosk(manager, name="idle").status_code == 200
    clock.advance(minutes=7)
    make.ticket("A")
    page = manager.get(f"{DEVICES}?lang=en").get_data(as_text=True)
    rows = {
        re.search(r"<strong>([^<]+)</strong>", row)[1]: row  # type: ignore[index]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", page, re.S)
        if "<strong>" in row
    }
    assert "2026-11-26 01:07" in rows["test kiosk demo"]
    assert "never" in rows["idle"]


def test_the_devices_page_links_each_display_with_its_qr(app: Flask, manager: FlaskClient) -> None:
    page = manager.get(f"{DEVICES}?lang=en").get_data(as_text=True)
    section = page[page.index('id="displays-title"') :]
    links = re.findall(r'<a href="([^"]+)" class="m-url"', section)
    assert links[0] == "http://localhost/s/demo/display"
    assert "http://localhost/s/demo/display?lanes=fast" in links
    assert section.count("<svg") == len(links)
    assert "The whole hall" in section and "Fast lane only" in section
