"""The device token: a random secret that every change on the device needs.

Anyone on the local network can watch the dashboard; changing settings,
calibrating, athletes, logged sets, deleting and exporting history need the
token (the web side checks it in constant time).  The device prints it at
start-up, ``dowel token`` prints it again (``--qr`` as a QR code of the
pairing link).  It is created on first use as ``token`` in the data
directory, readable by its owner only (mode 0600).
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

TOKEN_FILE = "token"
#: Shorter than this means a damaged file: a new token replaces it.
MIN_TOKEN_CHARS = 16


class TokenError(Exception):
    """The token cannot be read or created; ``str(err)`` names the path and why."""


def load_or_create_token(data_dir) -> str:
    """The token stored in ``data_dir``, created (0600) if there is none yet.
    :class:`TokenError` when it can be neither read nor created."""
    path = Path(data_dir) / TOKEN_FILE
    try:
        return _load_or_create(Path(data_dir), path)
    except (OSError, UnicodeDecodeError) as exc:
        why = "is a directory" if path.is_dir() else getattr(exc, "strerror", None) or str(exc)
        raise TokenError(f"{path}: cannot read or create the device token ({why})") from None


def _load_or_create(data_dir: Path, path: Path) -> str:
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        data_dir.mkdir(parents=True, exist_ok=True)
        token = ""
    if len(token) >= MIN_TOKEN_CHARS:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)            # tighten a file someone loosened
        return token
    token = secrets.token_urlsafe(18)        # 24 characters, 144 random bits
    tmp = path.with_name(f".{TOKEN_FILE}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, (token + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        # link() fails if another process created the token meanwhile: use theirs
        os.link(tmp, path) if not path.exists() else os.replace(tmp, path)
    except FileExistsError:
        token = path.read_text().strip()
    finally:
        if tmp.exists():
            tmp.unlink()
    return token


def pairing_url(host: str, port: int, token: str) -> str:
    """The link that pairs a phone: the page moves the token from the fragment
    into the phone's storage (the fragment never reaches the network)."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"                   # an IPv6 address
    return f"http://{host}:{int(port)}/#token={token}"


def token_matches(expected: str, given) -> bool:
    """Constant-time comparison (the answer's timing must not leak the token)."""
    if not expected or not isinstance(given, str) or not given:
        return False
    return secrets.compare_digest(expected.encode(), given.strip().encode())
