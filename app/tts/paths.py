"""Where prompt audio lives, and the media URI the PBX plays it by.

Asterisk runs chrooted in the PBX root (default /var/lib/hotline/pbx-root, `HOTLINE_PBX_ROOT`
or `HOTLINE_STATE_DIR` move it), so the files are built inside that root, by default in

    <pbx root>/var/lib/asterisk/sounds/hotline/<lang>/<prompt id>.wav     8 kHz 16-bit mono
    <pbx root>/var/lib/asterisk/sounds/hotline/<lang>/<prompt id>.sln16   16 kHz raw s16le
    <pbx root>/var/lib/asterisk/sounds/hotline/dyn/<lang>/<hash>.{wav,sln16}  call-time text

and the IVR plays them by absolute in-PBX path without extension:

    sound:/var/lib/asterisk/sounds/hotline/zh/welcome

Asterisk then picks the file whose format suits the channel (.sln16 for wideband, .wav for
8 kHz). Absolute paths, because the project's asterisk.conf sets astdatadir to
/usr/share/asterisk: a relative `sound:hotline/zh/welcome` would be looked up under
/usr/share/asterisk/sounds/ (the packaged, dpkg-owned tree) and, first, under its per-language
subfolder. /var/lib keeps generated files out of package-managed paths.

`HOTLINE_SOUNDS_DIR` puts the files elsewhere. Inside the PBX root, the URI is the path
relative to that root; outside it, the path itself (for a PBX that is not chrooted and sees
the same filesystem, e.g. containers sharing a volume at the same mount point).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

IN_PBX_DIR = PurePosixPath("/var/lib/asterisk/sounds/hotline")
DYNAMIC = "dyn"  # call-time text, named by hash; catalog prompts are <lang>/<id>
FORMATS = (".wav", ".sln16")


def pbx_root() -> Path:
    """The PBX chroot on this machine (from the platform settings)."""
    from app.config import get_settings

    return get_settings().root


def sounds_dir() -> Path:
    """Where built audio goes on this machine: $HOTLINE_SOUNDS_DIR, or inside the PBX root."""
    configured = os.environ.get("HOTLINE_SOUNDS_DIR")
    if configured:
        return Path(configured).expanduser().absolute()
    return pbx_root() / IN_PBX_DIR.relative_to("/")


def pbx_path(path: Path, root: Path | None = None) -> PurePosixPath:
    """The path the PBX sees for a file on this machine: relative to the chroot when inside
    it, unchanged otherwise."""
    root = (pbx_root() if root is None else root).absolute()
    path = path.absolute()
    if path.is_relative_to(root):
        return PurePosixPath("/") / path.relative_to(root).as_posix()
    return PurePosixPath(path.as_posix())


def prompt_file(prompt_id: str, lang: str, base: Path | None = None) -> Path:
    """The catalog prompt's 8 kHz WAV on this machine (its .sln16 sits next to it)."""
    return (sounds_dir() if base is None else base) / lang / f"{prompt_id}.wav"


def media_uri_for_file(path: Path, root: Path | None = None) -> str:
    """`sound:` URI of a built file (any of its formats): the in-PBX path without extension."""
    in_pbx = pbx_path(path, root)
    if in_pbx.suffix in FORMATS:
        in_pbx = in_pbx.with_suffix("")
    return f"sound:{in_pbx}"


def media_uri(prompt_id: str, lang: str, base: Path | None = None, root: Path | None = None) -> str:
    """`sound:` URI of a catalog prompt, e.g. sound:/var/lib/asterisk/sounds/hotline/zh/welcome.

    Prompts with {slots} have no prebuilt file: fill them and use synthesize() instead.
    """
    return media_uri_for_file(prompt_file(prompt_id, lang, base), root)
