"""Command-line tools: `flask --app backend.app <command>`."""

from __future__ import annotations

import secrets

import click
from flask import Flask
from sqlalchemy import select

from backend.extensions import db
from backend.kiosks.operations import register_kiosk
from backend.models import Store, User
from backend.policy import Role
from backend.staff.auth import issue_api_token
from backend.stores.seed import Seeded, seed_demo


def print_seeded(seeded: Seeded | None, base_url: str = "") -> None:
    if seeded is None:
        click.echo("Demo store already present; its secrets were shown when it was created.")
        return
    if seeded.passwords:
        click.echo("Demo staff accounts (passwords are shown only this once):")
        for username, password in seeded.passwords.items():
            click.echo(f"  {username:10s} {password}")
    if seeded.kiosk_token:
        click.echo("Register a screen as the demo kiosk by opening once (shown only this once):")
        click.echo(f"  {base_url}/s/demo/kiosk/register/{seeded.kiosk_token}")


def register(app: Flask) -> None:
    @app.cli.command("seed-demo")
    def seed_demo_command() -> None:
        """Create the demo store if it does not exist."""
        print_seeded(seed_demo())

    @app.cli.command("create-user")
    @click.argument("username")
    @click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.CLERK.value)
    @click.option("--store", "store_code", help="Store code (not needed for admins).")
    @click.option("--password", help="Password; a random one is generated and printed if omitted.")
    @click.option("--name", "display_name", default="")
    def create_user(
        username: str, role: str, store_code: str | None, password: str | None, display_name: str
    ) -> None:
        """Create a staff user, or reset an existing user's password."""
        store = None
        if store_code:
            store = db.session.scalar(select(Store).where(Store.code == store_code))
            if store is None:
                raise click.ClickException(f"unknown store {store_code}")
        elif role != Role.ADMIN:
            raise click.ClickException("clerks and managers belong to a store: use --store")
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None:
            user = User(username=username, display_name=display_name or username)
            db.session.add(user)
        user.role = Role(role)
        user.store = store
        shown = password or secrets.token_urlsafe(9)
        user.set_password(shown)
        db.session.commit()
        click.echo(f"user {username} ({role}) saved" + ("" if password else f"; password: {shown}"))

    @app.cli.command("create-kiosk")
    @click.argument("store_code")
    @click.argument("name")
    @click.option("--no-print", is_flag=True, help="This kiosk has no receipt printer.")
    def create_kiosk(store_code: str, name: str, no_print: bool) -> None:
        """Register a kiosk and print the link that sets up its browser (shown once)."""
        token = register_kiosk(store_code, name, auto_print=not no_print)
        click.echo(f"Open once on the kiosk: /s/{store_code}/kiosk/register/{token}")

    @app.cli.command("create-token")
    @click.argument("username")
    @click.option("--name", default="", help="What the token is for.")
    def create_token(username: str, name: str) -> None:
        """Create an API bearer token for a user (printed once)."""
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None:
            raise click.ClickException(f"unknown user {username}")
        click.echo(issue_api_token(user, name))
