"""Unbound extensions, created once and bound to an app in create_app()."""

from typing import TYPE_CHECKING

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


# Objects keep their committed state after COMMIT: the answer to a command is built from the
# state the command just wrote, without reloading it. Every write transaction starts with a
# rollback (database.write_transaction), which expires anything older.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
# The models' base class: Flask-SQLAlchemy's db.Model at run time, the typed Base for mypy.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model
migrate = Migrate()
socketio = SocketIO()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
# Limits for cheap abuse (logins per client). Storage: memory, or RATELIMIT_STORAGE_URI (Redis).
limiter = Limiter(key_func=get_remote_address)
