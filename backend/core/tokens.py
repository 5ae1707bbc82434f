"""Random public tokens (status links, booking links, kiosks) and their stored hashes."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 18  # 144 bits: public status links and booking links cannot be guessed


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
