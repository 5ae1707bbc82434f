"""Web Push (the W3C Push API with VAPID, RFC 8292; payloads encrypted with RFC 8291 aes128gcm)
through pywebpush: the server's VAPID key pair, the lock-screen text of each message, the sender.

The VAPID key is generated once and kept in the instance folder (`vapid_private.pem`, owner-only,
like the secret key), or comes from the environment (`VAPID_PRIVATE_KEY`, a PEM or the raw key in
base64url) when several processes of a chain must sign with one key. `VAPID_SUBJECT` is the
contact the push services may write to (`mailto:` or `https:`); by default PUBLIC_BASE_URL.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask

log = logging.getLogger("hallqueue.push")
VAPID_KEY_FILE = "vapid_private.pem"
TIMEOUT_S = 10
DEFAULT_SUBJECT = "mailto:hallqueue@localhost"
KEYS_KEY = "hallqueue.vapid"
PROVIDER_KEY = "hallqueue.push_provider"
# How long a push service keeps a message for a phone that is offline (seconds): a call or an
# "almost" is stale after a quarter of an hour; a booking's reminder holds until its slot.
TTL_S = {"called": 900, "recalled": 900, "almost": 900, "reminder": 3600}
# Delivery statuses that say the subscription no longer exists (RFC 8030 §7.3; 404 from some).
GONE = (404, 410)


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """base64url with or without padding; ValueError when it is not."""
    if not text or any(c not in B64URL_ALPHABET for c in text.rstrip("=")):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


B64URL_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True)
class VapidKeys:
    private_key: ec.EllipticCurvePrivateKey
    subject: str

    @property
    def public_key(self) -> str:
        """The applicationServerKey a page subscribes with: the uncompressed P-256 point."""
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(point)

    @property
    def private_pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()


def _load_key(text: str) -> ec.EllipticCurvePrivateKey:
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
    else:  # the raw 32-byte private value, base64url (what `vapid --gen` tools print)
        key = ec.derive_private_key(int.from_bytes(b64url_decode(text), "big"), ec.SECP256R1())
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise RuntimeError("VAPID_PRIVATE_KEY must be a P-256 (prime256v1) private key")
    return key


def _instance_key(instance_path: Path) -> ec.EllipticCurvePrivateKey:
    key_file = instance_path / VAPID_KEY_FILE
    if key_file.exists():
        return _load_key(key_file.read_text())
    instance_path.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = VapidKeys(key, "").private_pem
    try:
        # Owner-only, created once: a second process starting at the same time reads the first's.
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _load_key(key_file.read_text())
    with os.fdopen(fd, "w") as fh:
        fh.write(pem)
    return key


def vapid_keys(app: Flask) -> VapidKeys:
    """The app's VAPID key pair (read or made on first use, then kept for the process)."""
    keys = app.extensions.get(KEYS_KEY)
    if keys is None:
        configured = app.config.get("VAPID_PRIVATE_KEY") or ""
        key = _load_key(configured) if configured else _instance_key(Path(app.instance_path))
        subject = app.config.get("VAPID_SUBJECT") or app.config.get("PUBLIC_BASE_URL") or ""
        if not subject.startswith(("mailto:", "https:")):
            subject = DEFAULT_SUBJECT
        keys = app.extensions.setdefault(KEYS_KEY, VapidKeys(key, subject))
    return keys  # type: ignore[no-any-return]


# --- validating what a page sends ----------------------------------------------------------

P256DH_BYTES = 65  # an uncompressed P-256 point
AUTH_BYTES = 16
MAX_ENDPOINT = 1024


def check_endpoint(endpoint: str, allow_http: bool = False) -> bool:
    """An absolute https URL with a host (http only where the app allows it: tests, a lab)."""
    if len(endpoint) > MAX_ENDPOINT or any(c.isspace() for c in endpoint):
        return False
    parts = urlsplit(endpoint)
    schemes = ("https", "http") if allow_http else ("https",)
    return parts.scheme in schemes and bool(parts.hostname) and not parts.username


def check_keys(p256dh: str, auth: str) -> bool:
    """The browser's keys: a point on P-256 and a 16-byte secret, base64url."""
    try:
        point, secret = b64url_decode(p256dh), b64url_decode(auth)
        if len(point) != P256DH_BYTES or len(secret) != AUTH_BYTES:
            return False
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        return False
    return True


# --- sending -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PushTarget:
    endpoint: str
    p256dh: str
    auth: str


@dataclass(frozen=True)
class PushOutcome:
    """`status`: the push service's HTTP status (0: not reached); `gone`: the subscription is
    no longer valid and is deleted; otherwise a failure is retried with the outbox's backoff."""

    status: int
    error: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def gone(self) -> bool:
        return self.status in GONE


class PushProvider(Protocol):
    def send(self, target: PushTarget, payload: Mapping[str, Any], ttl: int) -> PushOutcome: ...


class WebPushProvider:
    """Posts to the subscription's push service with pywebpush (VAPID signed, aes128gcm)."""

    def __init__(self, keys: VapidKeys) -> None:
        from py_vapid import Vapid02

        self.keys = keys
        self.vapid = Vapid02.from_pem(keys.private_pem.encode())

    def send(self, target: PushTarget, payload: Mapping[str, Any], ttl: int) -> PushOutcome:
        from pywebpush import WebPushException, webpush

        info = {"endpoint": target.endpoint, "keys": {"p256dh": target.p256dh, "auth": target.auth}}
        data = json.dumps(dict(payload), ensure_ascii=False)
        try:
            response = webpush(
                info,
                data,
                vapid_private_key=self.vapid,
                # A new dict each time: pywebpush fills in `aud` (this endpoint's origin) and
                # `exp` on the dict it is given.
                vapid_claims={"sub": self.keys.subject},
                ttl=ttl,
                timeout=TIMEOUT_S,
                headers={"Urgency": "high"},
            )
        except WebPushException as exc:
            status = exc.response.status_code if exc.response is not None else 0
            return PushOutcome(int(status or 0), f"push service answered {status}")
        except Exception as exc:  # unreachable, a timeout: retried
            return PushOutcome(0, f"push service unreachable: {type(exc).__name__}")
        return PushOutcome(int(response.status_code))  # type: ignore[union-attr]


def app_provider(app: Flask) -> PushProvider:
    provider = app.extensions.get(PROVIDER_KEY)
    if provider is None:
        provider = app.extensions.setdefault(PROVIDER_KEY, WebPushProvider(vapid_keys(app)))
    return provider  # type: ignore[no-any-return]
