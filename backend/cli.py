"""Command-line tools: `flask --app backend.app <command>`."""

from __future__ import annotations

import secrets

import click
from flask import Flask
from sqlalchemy import select

from .auth import issue_api_token
from .extensions import db
from .models import Store, User
from .policy import Role
from .seed import seed_demo


def _print_passwords(passwords: dict[str, str] | None) -> None:
    if not passwords:
        click.echo("Demo store already present; staff passwords were shown when it was created.")
        return
    click.echo("Demo staff accounts (passwords are shown only this once):")
    for username, password in passwords.items():
        click.echo(f"  {username:10s} {password}")


def register(app: Flask) -> None:
    @app.cli.command("seed-demo")
    def seed_demo_command() -> None:
        """Create the demo store if it does not exist."""
        _print_passwords(seed_demo())

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

    @app.cli.command("create-token")
    @click.argument("username")
    @click.option("--name", default="", help="What the token is for.")
    def create_token(username: str, name: str) -> None:
        """Create an API bearer token for a user (printed once)."""
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None:
            raise click.ClickException(f"unknown user {username}")
        click.echo(issue_api_token(user, name))
