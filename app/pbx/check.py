"""`hotline dialplan check`: Asterisk itself loads the rendered config in a throwaway instance.

The instance has its own config, run and log dirs in the PBX root and no listeners (no SIP
transport, HTTP or AMI), so it never touches the live ports. What it reports, as FILE:LINE:
- unknown placeholders and bad switch blocks (rendering),
- what Asterisk's config loader rejected (its warnings and errors naming a line),
- applications the dialplan uses that this Asterisk does not have (`core show applications`
  of the same modules the live PBX loads).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from app.config import Settings
from app.pbx import sandbox
from app.pbx.render import RenderError, render_switches, render_text
from app.pbx.secrets import load_credentials

# Asterisk's loader names the line in several ways: "line 12 of /x/extensions.conf",
# "at line 12 of extensions.conf", "extensions.conf:12".
LINE_OF = re.compile(r"line (\d+) of (?:[^\s]*/)?([\w.-]+\.conf)")
FILE_LINE = re.compile(r"([\w.-]+\.conf):(\d+)")
LOG_LEVEL = re.compile(r"\] (WARNING|ERROR)\[[^\]]*\] ([\w.]+): (.*)$")
# What `dialplan show` prints per priority: 'EXTEN' => 1. App(data)  [file:line] or
#   [label] n. App(data)
PRIORITY = re.compile(r"^\s+(?:'[^']*' =>\s+)?(?:\[[^\]]*\]\s+)?(?:\d+|hint)\.\s+(\w+)\(")
BOOT_TIMEOUT = 60.0


@dataclass
class CheckResult:
    problems: list[str] = field(default_factory=list)
    files: int = 0
    contexts: int = 0
    extensions: int = 0
    applications: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        return (f"dialplan ok: {self.files} files, {self.contexts} contexts, "
                f"{self.extensions} extensions, {len(self.applications)} applications used")


def without_listeners(name: str, text: str) -> str:
    """The rendered file with every network listener switched off."""
    if name in ("http.conf", "manager.conf"):
        return re.sub(r"(?m)^\s*enabled\s*=.*$", "enabled = no", text)
    if name == "pjsip.conf":
        # Drop the transport sections: no SIP socket at all.
        out, skip = [], False
        for line in text.splitlines(keepends=True):
            header = re.match(r"\s*\[([^\]]+)\]", line)
            if header:
                skip = header.group(1).startswith("transport")
            if not skip:
                out.append(line)
        return "".join(out)
    return text


def render_for_check(settings: Settings, check: Settings, source: Path,
                     result: CheckResult) -> None:
    """Render with the live instance's values, except the check instance's own dirs."""
    from app.pbx.render import placeholder_values

    target = check.pbx_etc
    values = placeholder_values(check, load_credentials(settings, create=True))
    switches = render_switches(settings)
    files = sorted(p for p in source.iterdir() if p.is_file() and p.suffix == ".conf")
    if not files:
        result.problems.append(f"{source}: no .conf files")
        return
    target.mkdir(parents=True, exist_ok=True)
    for path in files:
        result.files += 1
        text = path.read_text()
        problems = []
        # Every unknown placeholder, not only the first: render once per fixed problem.
        while True:
            try:
                rendered = render_text(path.name, text, values, switches, keep_numbers=True)
                break
            except RenderError as exc:
                problems.append(str(exc).split(" (known:")[0])
                match = re.search(r"@@([A-Z_]+)@@", str(exc))
                if "unknown placeholder" not in str(exc) or match is None:
                    rendered = None
                    break
                values = {**values, match.group(1): "PLACEHOLDER"}
        result.problems.extend(problems)
        if rendered is not None:
            (target / path.name).write_text(without_listeners(path.name, rendered))


def check_dialplan(settings: Settings, source: Path | None = None) -> CheckResult:
    """Render `source` (default: the dialplans dir) and have a throwaway Asterisk load it."""
    sandbox.require_root("dialplan check")
    if not sandbox.asterisk_version(settings.root):
        raise sandbox.SandboxError(f"no PBX root at {settings.root}: run `hotline pbx install`")
    source = source or settings.dialplans_dir
    if not source.is_dir():
        raise sandbox.SandboxError(f"{source} is not a directory of .conf files")
    result = CheckResult()
    check = settings.model_copy(update={
        "instance": f"check-{os.getpid()}",
        "state_dir": settings.state_dir / "checks" / str(os.getpid()),
        "pbx_root": settings.root,
    })
    instance = check.in_root(check.pbx_dir)
    shutil.rmtree(instance, ignore_errors=True)
    try:
        render_for_check(settings, check, source, result)
        (check.pbx_etc / "pjsip_agents.conf").write_text("")  # the platform writes the real one
        if not (check.pbx_etc / "asterisk.conf").exists():
            return result  # nothing Asterisk could start with; the problems say why
        sandbox.share_config(check)
        sandbox.hand_over(check)
        _load_in_asterisk(check, result)
    finally:
        shutil.rmtree(instance, ignore_errors=True)
        shutil.rmtree(check.state_dir, ignore_errors=True)
    return result


def _load_in_asterisk(check: Settings, result: CheckResult) -> None:
    script = ('set -e; mount --make-rprivate / ; '
              'mount -t proc proc "$1/proc"; mount --rbind /dev "$1/dev"; shift; exec "$@"')
    cmd = sandbox.asterisk_cmd(check, "-f", "-n", "-U", sandbox.PBX_USER, "-G", sandbox.PBX_USER)
    proc = subprocess.Popen(["unshare", "--mount", "--", "/bin/sh", "-c", script, "sh",
                             str(check.root), *cmd],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + BOOT_TIMEOUT
        while not _run(check, "core waitfullybooted").endswith("fully booted."):
            if proc.poll() is not None or time.monotonic() > deadline:
                result.problems.append("asterisk.conf:0: the check instance did not start; "
                                       + _log(check)[-500:])
                return
            time.sleep(0.2)
        dialplan = _run(check, "dialplan show")
        available = {line.split(":")[0].strip().lower()
                     for line in _run(check, "core show applications").splitlines()
                     if ":" in line and not line.startswith(" -=")}
        _run(check, "core stop now")
        proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    problems = _loader_problems(_log(check))
    if not problems and not dialplan.strip().endswith("contexts. =-"):
        problems.append("extensions.conf:0: Asterisk did not load the dialplan (no message "
                        "naming a line; see `hotline pbx logs`)")
    result.problems.extend(problems)
    where: dict[str, str] = {}
    for line in dialplan.splitlines():
        if line.startswith("[ Context"):
            result.contexts += 1
        elif "=>" in line and line.lstrip().startswith("'"):
            result.extensions += 1
        match = PRIORITY.match(line)
        if match:
            app = match.group(1)
            result.applications.add(app)
            origin = re.search(r"\[([\w.-]+\.conf):(\d+)\]", line)
            where.setdefault(app, f"{origin.group(1)}:{origin.group(2)}" if origin else
                             "extensions.conf:0")
    for app in sorted(result.applications):
        if app.lower() not in available:
            result.problems.append(f"{where[app]}: unknown application {app} (this Asterisk "
                                   "does not have it; load its module in modules.conf?)")


def _run(check: Settings, command: str) -> str:
    try:
        out = subprocess.run(sandbox.asterisk_cmd(check, "-rx", command), capture_output=True,
                             text=True, timeout=15)
    except subprocess.TimeoutExpired:
        return ""
    return out.stdout.strip()


def _log(check: Settings) -> str:
    path = sandbox.messages_log(check)
    return path.read_text(errors="replace") if path.exists() else ""


def _loader_problems(log: str) -> list[str]:
    """FILE:LINE: message for each warning or error of the loader that names a config line."""
    found = []
    for line in log.splitlines():
        level = LOG_LEVEL.search(line)
        if level is None:
            continue
        message = level.group(3).strip()
        located = LINE_OF.search(message)
        if located:
            message = LINE_OF.sub(lambda m: f"line {m.group(1)} of {m.group(2)}", message)
            found.append(f"{located.group(2)}:{located.group(1)}: {message}")
            continue
        located = FILE_LINE.search(message)
        if located:
            found.append(f"{located.group(1)}:{located.group(2)}: {message}")
    return found
