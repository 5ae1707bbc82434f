"""The documented commands, run as an operator runs them: `python -m backend prepare` on an empty
database, the `flask --app backend.app …` commands of the README (through Flask's CLI runner),
and what `python -m backend run` prints (the loopback warning, the banner of a later start)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from backend.app import create_app
from backend.extensions import db
from backend.models import AuditEntry, Kiosk, Store, User, hash_token
from backend.policy import Role

from .conftest import PASSWORD, make_user
from .test_api_tickets import extract_csrf

ROOT = Path(__file__).resolve().parent.parent
CHEAP_HASH = "pbkdf2:sha256:1000"


def invoke(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=list(args))


def login(client: FlaskClient, username: str, password: str) -> Any:
    csrf = extract_csrf(client.get("/login").get_data(as_text=True))
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": csrf}
    )


def prepare(database_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = os.environ | {
        "DATABASE_URL": database_url,
        "SECRET_KEY": "cli-test",
        "PASSWORD_HASH_METHOD": CHEAP_HASH,
    }
    environ.pop("PUBLIC_BASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "backend", "prepare"],
        cwd=ROOT,
        env=environ | env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def empty_app(tmp_path: Path) -> Iterator[Flask]:
    """An app on an empty database (the `app` fixture's already holds the demo store)."""
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'empty.db'}",
            "SECRET_KEY": "test-secret",
            "PASSWORD_HASH_METHOD": CHEAP_HASH,
        }
    )
    with app.app_context():
        db.create_all()
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


class TestPrepare:
    def test_prepare_migrates_and_seeds_once_then_says_it_exists(self, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path / 'store.db'}"
        first = prepare(url)
        assert first.returncode == 0, first.stderr
        assert "Traceback" not in first.stderr
        passwords = dict(re.findall(r"^  (clerk1|clerk2|manager)\s+(\S+)$", first.stdout, re.M))
        assert set(passwords) == {"clerk1", "clerk2", "manager"}, first.stdout
        link = re.search(r"http://127\.0\.0\.1:5000/s/demo/kiosk/register/(\S+)", first.stdout)
        assert link, first.stdout

        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "INSTANCE_PATH": str(tmp_path / "instance"),
                "SECRET_KEY": "cli-test",
            }
        )
        with app.app_context():
            assert db.session.scalar(select(Store.code)) == "demo"
            for username, password in passwords.items():
                user = db.session.scalar(select(User).where(User.username == username))
                assert user is not None and user.check_password(password)
            kiosk = db.session.scalar(select(Kiosk))
            assert kiosk is not None and kiosk.token_hash == hash_token(link.group(1))
            db.engine.dispose()

        second = prepare(url)
        assert second.returncode == 0, second.stderr
        assert "already present" in second.stdout
        assert "create-kiosk demo" in second.stdout  # how to get a new kiosk link
        assert not any(password in second.stdout for password in passwords.values())
        assert "/kiosk/register/" not in second.stdout

    def test_prepare_prints_links_on_the_public_address(self, tmp_path: Path) -> None:
        done = prepare(
            f"sqlite:///{tmp_path / 'store.db'}", PUBLIC_BASE_URL="http://192.168.1.20:5000/"
        )
        assert done.returncode == 0, done.stderr
        assert "http://192.168.1.20:5000/s/demo/kiosk/register/" in done.stdout


class TestKioskCommand:
    def test_create_kiosk_prints_a_link_that_sets_up_a_kiosk(
        self, app: Flask, client: FlaskClient
    ) -> None:
        result = invoke(app, "create-kiosk", "demo", "Hall kiosk 2")
        assert result.exit_code == 0, result.output
        printed = re.fullmatch(
            r"Open once on the kiosk: /s/demo/kiosk/register/(\S+)\n", result.output
        )
        assert printed, result.output
        token = printed.group(1)
        with app.app_context():
            kiosk = db.session.scalar(select(Kiosk).where(Kiosk.token_hash == hash_token(token)))
            assert kiosk is not None and kiosk.name == "Hall kiosk 2" and kiosk.auto_print
        assert client.get(f"/s/demo/kiosk/register/{token}").status_code == 302
        issued = client.post("/api/v1/stores/demo/tickets", json={"service": "A"})
        assert issued.status_code == 201 and issued.json["channel"] == "kiosk"

    def test_a_kiosk_without_a_printer(self, app: Flask) -> None:
        result = invoke(app, "create-kiosk", "demo", "Tablet", "--no-print")
        assert result.exit_code == 0, result.output
        with app.app_context():
            kiosk = db.session.scalar(select(Kiosk).where(Kiosk.name == "Tablet"))
            assert kiosk is not None and kiosk.auto_print is False

    def test_the_link_uses_the_public_address(self, app: Flask) -> None:
        app.config["PUBLIC_BASE_URL"] = "http://192.168.1.20:5000/"
        result = invoke(app, "create-kiosk", "demo", "Hall kiosk 3")
        assert "http://192.168.1.20:5000/s/demo/kiosk/register/" in result.output

    def test_an_unknown_store(self, app: Flask) -> None:
        result = invoke(app, "create-kiosk", "nowhere", "x")
        assert result.exit_code == 1 and "Unknown store" in result.output


class TestStoreCommand:
    def test_create_store_from_a_template_copies_its_setup(
        self, app: Flask, client: FlaskClient
    ) -> None:
        result = invoke(
            app,
            "create-store",
            "chengdu-2",
            "--name-zh",
            "成都二厅",
            "--name-en",
            "Chengdu Hall 2",
            "--timezone",
            "Asia/Chongqing",
            "--from",
            "demo",
        )
        assert result.exit_code == 0, result.output
        assert "store chengdu-2 created from demo (6 services, 4 counters)" in result.output
        assert "create-kiosk chengdu-2" in result.output
        with app.app_context():
            store = db.session.scalar(select(Store).where(Store.code == "chengdu-2"))
            assert store is not None
            assert (store.name_en, store.timezone) == ("Chengdu Hall 2", "Asia/Chongqing")
            assert [s.code for s in store.services] == ["A", "B", "C", "D", "E", "V"]
            assert [(c.number, c.lanes) for c in store.counters][:2] == [
                (1, ["fast"]),
                (2, ["fast", "standard"]),
            ]
            entry = db.session.scalar(select(AuditEntry).where(AuditEntry.store_id == store.id))
            assert entry is not None and entry.action == "store_created"
            assert (entry.actor_id, entry.after["template"]) == (None, "demo")
        # Its kiosk page serves at once.
        assert client.get("/s/chengdu-2/kiosk").status_code in (200, 302)

    def test_an_empty_store(self, app: Flask) -> None:
        args = ("create-store", "empty", "--name-zh", "空厅", "--name-en", "Empty hall")
        result = invoke(app, *args)
        assert result.exit_code == 0, result.output
        assert "no services or counters yet" in result.output
        with app.app_context():
            store = db.session.scalar(select(Store).where(Store.code == "empty"))
            assert store is not None and store.timezone == "Asia/Shanghai"
            assert store.services == [] and store.counters == []

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["demo"], "This code is taken."),
            (["Big Hall"], "lower-case letters"),
            (["new", "--timezone", "Mars/Olympus"], "Unknown time zone: Mars/Olympus."),
            (["new", "--from", "nowhere"], "Unknown store."),
        ],
    )
    def test_create_store_refuses(self, app: Flask, args: list[str], message: str) -> None:
        code, *rest = args
        result = invoke(app, "create-store", code, "--name-zh", "新", "--name-en", "New", *rest)
        assert result.exit_code == 1 and message in result.output, result.output
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(Store)) == 2


class TestStaffCommands:
    def test_create_user_prints_a_password_that_logs_in(
        self, app: Flask, client: FlaskClient
    ) -> None:
        result = invoke(app, "create-user", "alice", "--role", "clerk", "--store", "demo")
        assert result.exit_code == 0, result.output
        printed = re.fullmatch(r"user alice \(clerk\) created; password: (\S+)\n", result.output)
        assert printed, result.output
        with app.app_context():
            user = db.session.scalar(select(User).where(User.username == "alice"))
            assert user is not None and user.role == Role.CLERK
            assert user.store is not None and user.store.code == "demo"
        assert login(client, "alice", printed.group(1)).status_code == 302

    def test_create_user_again_resets_the_password_and_the_lock(
        self, app: Flask, client: FlaskClient
    ) -> None:
        make_user(app, "desk", "demo")
        for _ in range(5):
            login(client, "desk", "wrong")
        result = invoke(app, "create-user", "desk", "--store", "demo", "--password", "new pass 1")
        assert result.output == "user desk (clerk) updated\n"  # a given password is not echoed
        assert login(client, "desk", PASSWORD).status_code == 401
        assert login(client, "desk", "new pass 1").status_code == 302
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(User)) == 1

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["bob", "--role", "clerk"], "belong to a store"),
            (["bob", "--role", "manager", "--store", "nowhere"], "nowhere"),
        ],
    )
    def test_create_user_refuses(self, app: Flask, args: list[str], message: str) -> None:
        result = invoke(app, "create-user", *args)
        assert result.exit_code == 1 and message in result.output
        with app.app_context():
            assert db.session.scalar(select(User).where(User.username == "bob")) is None

    def test_an_admin_needs_no_store(self, app: Flask) -> None:
        result = invoke(app, "create-user", "root", "--role", "admin", "--password", "p w 123")
        assert result.exit_code == 0, result.output

    def test_create_token_prints_a_bearer_token(self, app: Flask, client: FlaskClient) -> None:
        make_user(app, "desk", "demo")
        result = invoke(app, "create-token", "desk", "--name", "integration")
        assert result.exit_code == 0, result.output
        token = result.output.strip()
        headers = {"Authorization": f"Bearer {token}"}
        response = client.post(
            "/api/v1/stores/demo/counters/1/sign-in", json={"takeover": True}, headers=headers
        )
        assert response.status_code == 200, response.json
        assert client.get("/api/v1/stores/demo/counters/1", headers=headers).status_code == 200

    def test_create_token_for_nobody(self, app: Flask) -> None:
        result = invoke(app, "create-token", "nobody")
        assert result.exit_code == 1 and "unknown user nobody" in result.output


class TestSeedDemo:
    def test_seed_demo_on_an_empty_database(self, empty_app: Flask) -> None:
        result = invoke(empty_app, "seed-demo")
        assert result.exit_code == 0, result.output
        assert "passwords are shown only this once" in result.output
        assert re.search(r"^  manager\s+\S+$", result.output, re.M)
        assert "/s/demo/kiosk/register/" in result.output
        with empty_app.app_context():
            assert db.session.scalar(select(func.count()).select_from(Store)) == 1
            assert db.session.scalar(select(func.count()).select_from(User)) == 3

    def test_seed_demo_again_says_what_can_be_done(self, app: Flask) -> None:
        result = invoke(app, "seed-demo")
        assert result.exit_code == 0
        assert "already present" in result.output and "create-kiosk demo" in result.output
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(Store)) == 2  # demo, other


def loopback_warning(
    host: str, port: int, public: str | None, lan: str | None = None
) -> str | None:
    from backend.cli import loopback_warning as build

    return build(host, port, public, lan)


class TestRunMessages:
    @pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.1.1"])
    def test_a_loopback_host_without_a_public_address_is_warned_about(
        self, app: Flask, host: str
    ) -> None:
        with app.app_context():
            warning = loopback_warning(host, 5000, None, lan="192.168.1.20")
        assert warning is not None
        assert "Phones in the hall cannot open 127.0.0.1" in warning
        assert "大厅里的手机无法打开 127.0.0.1" in warning
        assert "HOST=0.0.0.0 PUBLIC_BASE_URL=http://192.168.1.20:5000 make run" in warning
        assert "docs/store-setup.md" in warning

    def test_without_a_network_the_example_has_a_placeholder(self, app: Flask) -> None:
        with app.app_context():
            warning = loopback_warning("127.0.0.1", 8000, None, lan=None)
        assert warning is not None and "PUBLIC_BASE_URL=http://<lan address>:8000" in warning

    def test_a_loopback_public_address_is_warned_about(self, app: Flask) -> None:
        with app.app_context():
            warning = loopback_warning("0.0.0.0", 5000, "http://localhost:5000")
        assert warning is not None and "http://localhost:5000" in warning

    @pytest.mark.parametrize(
        ("host", "public"),
        [
            ("0.0.0.0", None),  # the QR codes use the address the kiosk opened
            ("192.168.1.20", None),
            ("127.0.0.1", "http://192.168.1.20:5000"),
            ("0.0.0.0", "https://hall.example.cn"),
        ],
    )
    def test_no_warning_when_phones_can_reach_the_links(
        self, app: Flask, host: str, public: str | None
    ) -> None:
        with app.app_context():
            assert loopback_warning(host, 5000, public, lan="192.168.1.20") is None

    def test_a_later_start_does_not_point_at_a_link_it_did_not_print(self) -> None:
        from backend.__main__ import running_banner

        later = running_banner("http://192.168.1.20:5000", kiosk_link_shown=False)
        assert "above" not in later
        assert 'flask --app backend.app create-kiosk demo "Hall kiosk 2"' in later
        assert "http://192.168.1.20:5000/s/demo/display" in later
        first = running_banner("http://192.168.1.20:5000", kiosk_link_shown=True)
        assert "registration link above" in first
