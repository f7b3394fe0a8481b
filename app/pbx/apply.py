"""`hotline pbx reload` and `hotline pbx rollback`: a checked config applied to the running PBX,
the one before it kept to go back to. Calls in progress keep going: only the dialplan and
PJSIP's configuration are reloaded, no channel is touched; the agents' SIP accounts are written
from the database with every config, so a reload or rollback keeps what the ACD provisioned."""

from __future__ import annotations

import shutil
from pathlib import Path

from app.config import Settings
from app.pbx import sandbox
from app.pbx.check import check_dialplan

RELOADS = ("dialplan reload", "module reload res_pjsip.so")


def previous_dir(settings: Settings) -> Path:
    return settings.state_dir / "pbx-previous"


def _reload(settings: Settings) -> None:
    for command in RELOADS:
        sandbox.cli(settings, command)


def reload(settings: Settings, say: sandbox.Printer = sandbox._say) -> None:
    sandbox.require_root("reload")
    if not sandbox.is_running(settings):
        raise sandbox.SandboxError("the PBX is not running: `hotline pbx start` renders and "
                                   "starts it")
    result = check_dialplan(settings)
    if not result.ok:
        raise sandbox.SandboxError(
            f"{settings.dialplans_dir} not applied, the PBX keeps its config:\n"
            + "\n".join(result.problems))
    keep = previous_dir(settings)
    shutil.rmtree(keep, ignore_errors=True)
    shutil.copytree(settings.pbx_etc, keep, symlinks=True)
    names = sandbox.render_config(settings)
    _reload(settings)
    say(f"{result.summary()}; applied {len(names)} files (previous config kept for "
        "`hotline pbx rollback`)")


def rollback(settings: Settings, say: sandbox.Printer = sandbox._say) -> None:
    sandbox.require_root("rollback")
    keep = previous_dir(settings)
    if not keep.is_dir():
        raise sandbox.SandboxError("no previous config: `hotline pbx reload` keeps one when it "
                                   "applies a new config")
    if not sandbox.is_running(settings):
        raise sandbox.SandboxError("the PBX is not running")
    etc = settings.pbx_etc
    for old in etc.iterdir():
        old.unlink()
    for path in keep.iterdir():
        shutil.copy2(path, etc / path.name)
    # The agents' accounts as the database has them now, not as they were then.
    from app.acd.provisioning import render_agents_file

    render_agents_file(settings)
    sandbox.share_config(settings)
    _reload(settings)
    say(f"rolled back to the config kept in {keep}")
