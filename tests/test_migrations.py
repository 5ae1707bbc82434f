"""Production databases are built by migrations: they must match the models exactly."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from backend.app import MIGRATIONS_DIR, create_app
from backend.extensions import db
from backend.stores.seed import seed_demo


def test_upgrade_builds_the_schema_of_the_models(tmp_path: Path) -> None:
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'migrated.db'}",
            "INSTANCE_PATH": str(tmp_path),
            "SECRET_KEY": "x",
        }
    )
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR)
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
        assert diff == []
        seeded = seed_demo()
        assert seeded is not None and set(seeded.passwords) == {"clerk1", "clerk2", "manager"}
        assert seeded.kiosk_token
        assert seed_demo() is None  # idempotent: a second run changes nothing
        journal = db.session.execute(db.text("PRAGMA journal_mode")).scalar()
        assert journal == "wal"
        db.session.remove()
        db.engine.dispose()
