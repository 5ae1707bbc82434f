"""Command-line tools: `flask --app backend.app <command>`, and what `python -m backend` prints."""

from __future__ import annotations

import ipaddress
import secrets
import socket
from urllib.parse import urlsplit

import click
from flask import Flask, current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from backend.core.errors import DomainError
from backend.extensions import db
from backend.kiosks.operations import register_kiosk
from backend.models import User
from backend.policy import Role
from backend.staff.auth import issue_api_token
from backend.staff.operations import save_user, unlock_user
from backend.stores.chain import create_store
from backend.stores.seed import Seeded, seed_demo

CLI = ".venv/bin/flask --app backend.app"
LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


def new_kiosk_hint(store_code: str = "demo") -> str:
    return f'{CLI} create-kiosk {store_code} "Hall kiosk 2"'


def print_seeded(seeded: Seeded | None, base_url: str = "") -> None:
    if seeded is None:
        # Only the hashes of the kiosk link and the passwords are kept: they cannot be shown again.
        click.echo("Demo store already present; its passwords and kiosk link were shown only once.")
        click.echo(f"  a new kiosk link:   {new_kiosk_hint()}")
        click.echo(f"  a new password:     {CLI} create-user clerk1 --store demo")
        return
    if seeded.passwords:
        click.echo("Demo staff accounts (passwords are shown only this once):")
        for username, password in seeded.passwords.items():
            click.echo(f"  {username:10s} {password}")
    if seeded.kiosk_token:
        click.echo("Register a screen as the demo kiosk by opening once (shown only this once):")
        click.echo(f"  {base_url}/s/demo/kiosk/register/{seeded.kiosk_token}")


def is_loopback(host: str) -> bool:
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def lan_address() -> str | None:
    """This machine's address on the store network, if it has one (no packet is sent)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("10.255.255.255", 1))
        address = str(probe.getsockname()[0])
    except OSError:
        return None
    finally:
        probe.close()
    return None if is_loopback(address) or address == "0.0.0.0" else address


def loopback_warning(
    host: str, port: int, public_base_url: str | None, lan: str | None = None
) -> str | None:
    """The warning `python -m backend run` prints when the QR codes on tickets and posters would
    point at this machine's loopback address, which no phone in the hall can open; None when
    they would not. In Chinese and English: whoever reads the console may read either."""
    if public_base_url:
        target = urlsplit(public_base_url).hostname or ""
        if not is_loopback(target):
            return None
    elif not is_loopback(host):
        return None
    example = f"http://{lan or '<lan address>'}:{port}"
    lines = []
    for lang in ("zh", "en"):
        with force_locale(lang):
            lines.append(
                _(
                    "Warning: the QR codes on tickets and posters point at %(url)s. Phones in "
                    "the hall cannot open 127.0.0.1 or localhost: that is the phone itself.",
                    url=public_base_url or f"http://{host}:{port}",
                )
            )
            lines.append(
                _(
                    "To serve the store network, start with: HOST=0.0.0.0 "
                    "PUBLIC_BASE_URL=%(example)s make run (see docs/store-setup.md).",
                    example=example,
                )
            )
    return "\n".join(lines)


def _echo_error(exc: DomainError) -> click.ClickException:
    """The engine's message in Chinese and English (a lazy string renders in either)."""
    texts = []
    for lang in ("zh", "en"):
        with force_locale(lang):
            texts.append(str(exc.message))
    return click.ClickException(" / ".join(dict.fromkeys(texts)))


def register(app: Flask) -> None:
    _register_store_commands(app)
    _register_staff_commands(app)
    _register_message_commands(app)


def _register_message_commands(app: Flask) -> None:
    @app.cli.command("send-messages")
    def send_messages() -> None:
        """Send the customer messages that are due (SMS), for a cron beside the app's own."""
        from backend.messaging.sender import send_due

        result = send_due()
        click.echo(
            f"sent {result.sent}, failed {result.failed}, dead {result.dead}, "
            f"skipped {result.skipped}"
        )


def _register_store_commands(app: Flask) -> None:
    @app.cli.command("seed-demo")
    def seed_demo_command() -> None:
        """Create the demo store if it does not exist."""
        print_seeded(seed_demo(), (current_app.config.get("PUBLIC_BASE_URL") or "").rstrip("/"))

    @app.cli.command("create-kiosk")
    @click.argument("store_code")
    @click.argument("name")
    @click.option("--no-print", is_flag=True, help="This kiosk has no receipt printer.")
    def create_kiosk(store_code: str, name: str, no_print: bool) -> None:
        """Register a kiosk and print the link that sets up its browser (shown once)."""
        try:
            token = register_kiosk(store_code, name, auto_print=not no_print)
        except DomainError as exc:
            raise _echo_error(exc) from None
        base = (current_app.config.get("PUBLIC_BASE_URL") or "").rstrip("/")
        click.echo(f"Open once on the kiosk: {base}/s/{store_code}/kiosk/register/{token}")

    @app.cli.command("create-store")
    @click.argument("code")
    @click.option("--name-zh", required=True, help="The store's name in Chinese.")
    @click.option("--name-en", required=True, help="The store's name in English.")
    @click.option("--timezone", default="Asia/Shanghai", show_default=True)
    @click.option(
        "--from",
        "template",
        help="Copy the rules, services and counters of this store (not its names or staff).",
    )
    def create_store_command(
        code: str, name_zh: str, name_en: str, timezone: str, template: str | None
    ) -> None:
        """Create a store, empty or from a template store (recorded in its change log)."""
        try:
            made = create_store(None, code, name_zh, name_en, timezone, template)
        except DomainError as exc:
            raise _echo_error(exc) from None
        copied = (
            f" from {made.template} ({made.services} services, {made.counters} counters)"
            if made.template
            else " (no services or counters yet: add them in the manager console)"
        )
        click.echo(f"store {made.code} created{copied}")
        click.echo(f"  its manager:  {CLI} create-user NAME --role manager --store {made.code}")
        click.echo(f"  a kiosk:      {new_kiosk_hint(made.code)}")


def _register_staff_commands(app: Flask) -> None:
    @app.cli.command("create-user")
    @click.argument("username")
    @click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.CLERK.value)
    @click.option("--store", "store_code", help="Store code (not needed for admins).")
    @click.option("--password", help="Password; a random one is generated and printed if omitted.")
    @click.option("--name", "display_name", default="")
    def create_user(
        username: str, role: str, store_code: str | None, password: str | None, display_name: str
    ) -> None:
        """Create a staff user, or reset an existing user's password (which also unlocks it)."""
        shown = password or secrets.token_urlsafe(9)
        try:
            created = save_user(username, Role(role), store_code, shown, display_name)
        except DomainError as exc:
            raise _echo_error(exc) from None
        verb = "created" if created else "updated"
        click.echo(
            f"user {username} ({role}) {verb}" + ("" if password else f"; password: {shown}")
        )

    @app.cli.command("unlock-user")
    @click.argument("username")
    def unlock_user_command(username: str) -> None:
        """Let a staff account locked by wrong passwords log in again now (password unchanged)."""
        try:
            result = unlock_user(username)
        except DomainError as exc:
            raise _echo_error(exc) from None
        if result.was_locked_until is None:
            click.echo(f"user {username} was not locked; its wrong-password count is reset")
        else:
            click.echo(f"user {username} unlocked; it can log in again now")

    @app.cli.command("create-token")
    @click.argument("username")
    @click.option("--name", default="", help="What the token is for.")
    def create_token(username: str, name: str) -> None:
        """Create an API bearer token for a user (printed once)."""
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None:
            raise click.ClickException(f"unknown user {username}")
        click.echo(issue_api_token(user, name))
