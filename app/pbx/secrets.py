"""Credentials for ARI and AMI: generated once per machine, kept outside git."""

from __future__ import annotations

import json
import os
import secrets as pysecrets
from dataclasses import dataclass

from app.config import Settings


class SecretsError(RuntimeError):
    pass


@dataclass(frozen=True)
class Credentials:
    ari_password: str
    ami_secret: str


def load_credentials(settings: Settings, *, create: bool = False) -> Credentials:
    """Credentials from settings if given, else from the secrets file (created when asked)."""
    stored: dict[str, str] = {}
    path = settings.secrets_file
    if path.exists():
        try:
            stored = json.loads(path.read_text())
        except PermissionError as exc:
            raise SecretsError(
                f"cannot read {path}: run as root or set HOTLINE_ARI_PASSWORD/HOTLINE_AMI_SECRET"
            ) from exc
        except json.JSONDecodeError as exc:
            raise SecretsError(
                f"{path} is not valid JSON; delete it to generate new secrets"
            ) from exc
    changed = False
    for key in ("ari_password", "ami_secret"):
        # One given in the settings (the environment) is never generated nor stored.
        if not stored.get(key) and not getattr(settings, key):
            if not create:
                raise SecretsError(
                    f"no {key} yet: run `hotline pbx start` once (it generates {path})"
                )
            stored[key] = pysecrets.token_urlsafe(24)
            changed = True
    if changed and create:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(stored, fh)
        os.replace(tmp, path)
    return Credentials(
        ari_password=settings.ari_password or stored["ari_password"],
        ami_secret=settings.ami_secret or stored["ami_secret"],
    )
