"""Render the engineers' dialplan files into the config dir of this PBX instance.

`@@NAME@@` is replaced by a setting. Lines between `; @@IF NAME@@` and `; @@END NAME@@` are kept
only when the switch NAME is on (e.g. DEV_LINES, the engineers' test numbers): a switched-off
block is not in the rendered file at all, so nothing of it can be reached on the PBX.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from app.config import Settings
from app.pbx.secrets import Credentials

PLACEHOLDER = re.compile(r"@@([A-Z_]+)@@")
BLOCK = re.compile(r"^\s*;\s*@@(IF|END) ([A-Z_]+)@@\s*$")


class RenderError(ValueError):
    pass


def placeholder_values(settings: Settings, creds: Credentials) -> dict[str, str]:
    return {
        "SIP_BIND": settings.sip_bind,
        "SIP_PORT": str(settings.sip_port),
        "RTP_START": str(settings.rtp_start),
        "RTP_END": str(settings.rtp_end),
        "RTP_TIMEOUT": str(settings.rtp_timeout),
        "RTP_TIMEOUT_HOLD": str(settings.rtp_timeout_hold),
        "ARI_PORT": str(settings.ari_port),
        "ARI_USER": settings.ari_user,
        "ARI_PASSWORD": creds.ari_password,
        "ARI_APP": settings.ari_app,
        "AMI_PORT": str(settings.ami_port),
        "AMI_USER": settings.ami_user,
        "AMI_SECRET": creds.ami_secret,
        "HOTLINE_NUMBER": settings.hotline_number,
        "PBX_DIR": str(settings.pbx_dir),
        "PASSENGER_PORT": str(settings.passenger_port),
        "AGI_HOST": settings.agi_host,
        "AGI_PORT": str(settings.agi_port),
        "SYSTEM_NAME": f"hotline-{settings.instance}",
        "MEDIA_ADDRESS": settings.media_address,
    }


def render_switches(settings: Settings) -> dict[str, bool]:
    return {"DEV_LINES": settings.dev_lines}


def select_blocks(name: str, text: str, switches: dict[str, bool],
                  keep_numbers: bool = False) -> str:
    """The text without the blocks whose switch is off (and without the block markers);
    `keep_numbers` leaves an empty line for each line taken out, so line N stays line N."""
    kept: list[str] = []
    block: tuple[str, int] | None = None  # (switch, line of its IF)
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        marker = BLOCK.match(line)
        if marker is None:
            if block is None or switches[block[0]]:
                kept.append(line)
            elif keep_numbers:
                kept.append("\n")
            continue
        if keep_numbers:
            kept.append("\n")
        word, switch = marker.groups()
        if switch not in switches:
            known = ", ".join(sorted(switches))
            raise RenderError(f"{name}:{number}: unknown switch {switch} (known: {known})")
        if word == "IF":
            if block is not None:
                raise RenderError(f"{name}:{number}: @@IF {switch}@@ inside the block of "
                                  f"@@IF {block[0]}@@ (line {block[1]}); blocks do not nest")
            block = (switch, number)
        elif block is None or block[0] != switch:
            raise RenderError(f"{name}:{number}: @@END {switch}@@ without its @@IF {switch}@@")
        else:
            block = None
    if block is not None:
        raise RenderError(f"{name}:{block[1]}: @@IF {block[0]}@@ is never closed "
                          f"(add `; @@END {block[0]}@@`)")
    return "".join(kept)


def render_text(name: str, text: str, values: dict[str, str],
                switches: dict[str, bool] | None = None, keep_numbers: bool = False) -> str:
    text = select_blocks(name, text, switches or {}, keep_numbers)

    def sub(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            line = text.count("\n", 0, match.start()) + 1
            known = ", ".join(sorted(values))
            raise RenderError(f"{name}:{line}: unknown placeholder @@{key}@@ (known: {known})")
        return values[key]

    return PLACEHOLDER.sub(sub, text)


def render_dialplans(source: Path, target: Path, values: dict[str, str],
                     switches: dict[str, bool] | None = None) -> list[str]:
    """Replace every config in target with the rendered files of source; returns the names."""
    files = sorted(p for p in source.iterdir() if p.is_file() and p.suffix == ".conf")
    if not files:
        raise RenderError(f"no .conf files in {source}")
    rendered = {p.name: render_text(p.name, p.read_text(), values, switches) for p in files}
    target.mkdir(parents=True, exist_ok=True)
    # Nothing but our own files: packaged samples do DNS look-ups and log errors.
    for old in target.iterdir():
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old)
        else:
            old.unlink()
    for name, text in rendered.items():
        dest = target / name
        dest.write_text(text)
        if name in ("ari.conf", "manager.conf"):
            dest.chmod(0o640)  # root and the PBX's group (sandbox.share_config)
    return list(rendered)
