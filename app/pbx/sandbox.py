"""Life cycle of the sandbox Asterisk: install (debootstrap), start, stop, status, CLI, logs.

Asterisk is started in a chroot inside a private mount namespace (`unshare -m`): the /proc
and /dev mounts it needs exist only there and vanish with the process. It drops root at once
(`-U asterisk -G asterisk`, the Debian package's system user inside the root): it owns only
its instance's run, log, spool, db and cache directories and reads its config through the
group of the etc directory. One root serves several
instances (settings.instance): each has its own config, control socket, logs, spool and astdb
under /srv/hotline/<instance> in the root, its own ports and its own state dir.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from app.config import Settings
from app.pbx.render import placeholder_values, render_dialplans, render_switches
from app.pbx.secrets import load_credentials

PACKAGES = (
    "asterisk", "asterisk-modules", "asterisk-core-sounds-en-gsm", "asterisk-moh-opsound-gsm",
)
MARKER = ".hotline-root"
ASTERISK = "/usr/sbin/asterisk"
# The system user the Debian package creates in the root; Asterisk runs as it.
PBX_USER = "asterisk"
# What Asterisk writes in its instance directory; everything else it only reads.
PBX_WRITES = ("run", "log", "spool", "db", "cache")

Printer = Callable[[str], None]


class SandboxError(RuntimeError):
    """A problem the user can act on; the message says what to do."""


def _say(msg: str) -> None:
    print(msg, flush=True)


def require_root(action: str) -> None:
    if os.geteuid() != 0:
        raise SandboxError(
            f"`hotline pbx {action}` needs root: the sandbox chroots into the PBX root and "
            "mounts /proc and /dev in a private namespace. Run it with sudo."
        )


def debian_mirror(settings: Settings) -> str:
    """The mirror this machine's own apt uses, so debootstrap reaches what apt reaches."""
    if settings.debian_mirror:
        return settings.debian_mirror
    candidates = sorted(Path("/etc/apt/sources.list.d").glob("*.sources"))
    for path in candidates:
        for line in path.read_text().splitlines():
            if line.startswith("URIs:") and "security" not in line:
                return line.split()[1]
    sources_list = Path("/etc/apt/sources.list")
    if sources_list.exists():
        for line in sources_list.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb" and "security" not in parts[1]:
                return parts[1]
    return "http://deb.debian.org/debian"


def asterisk_cmd(settings: Settings, *args: str) -> list[str]:
    """Asterisk in the root with this instance's asterisk.conf (and so its control socket)."""
    conf = str(settings.pbx_dir / "etc/asterisk.conf")
    return ["chroot", str(settings.root), ASTERISK, "-C", conf, *args]


def asterisk_version(root: Path) -> str | None:
    if not (root / MARKER).exists() or not (root / ASTERISK.lstrip("/")).exists():
        return None
    try:
        out = subprocess.run(
            ["chroot", str(root), ASTERISK, "-V"], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = out.stdout.strip()
    return version if out.returncode == 0 and version.startswith("Asterisk 22") else None


def install(settings: Settings, say: Printer = _say, *, force: bool = False) -> Path:
    """Build (or reuse) the Debian sid root with Asterisk 22."""
    require_root("install")
    root = settings.root
    start = time.monotonic()
    version = asterisk_version(root)
    if version and not force:
        say(f"PBX root {root}: {version}, already installed (reused).")
        return root
    if shutil.which("debootstrap") is None:
        raise SandboxError(
            "debootstrap is missing: apt-get install debootstrap (make run does this)"
        )
    if is_running(settings):
        raise SandboxError("the PBX is running: `hotline pbx stop` before reinstalling")
    mirror = debian_mirror(settings)
    tmp = root.with_name(root.name + ".tmp")
    if tmp.exists():
        say(f"removing an unfinished earlier install at {tmp}")
        shutil.rmtree(tmp)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    say(f"Building PBX root in {root} from Debian sid ({mirror}); about a minute and 500 MB.")
    cmd = [
        "debootstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES),
        "sid", str(tmp), mirror,
    ]
    _run_debootstrap(cmd, say, start)
    # The packaged sample configs are kept for reference only; ours replace them at start.
    samples = tmp / "etc/asterisk"
    shutil.move(samples, tmp / "etc/asterisk.dist")
    samples.mkdir()
    (tmp / MARKER).write_text(",".join(PACKAGES) + "\n")
    if root.exists():
        shutil.rmtree(root)
    tmp.rename(root)
    version = asterisk_version(root)
    if not version:
        raise SandboxError(f"the new root at {root} has no working Asterisk 22; see output above")
    say(f"PBX root ready: {version} ({time.monotonic() - start:.0f} s).")
    return root


def _run_debootstrap(cmd: list[str], say: Printer, start: float) -> None:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    counts: dict[str, int] = {}
    tail: list[str] = []
    for raw in proc.stdout:
        line = raw.rstrip()
        tail = [*tail[-30:], line]
        words = line.split()
        stage = words[1] if len(words) > 1 and words[0] == "I:" else ""
        if stage in ("Retrieving", "Validating", "Extracting", "Unpacking", "Configuring"):
            counts[stage] = counts.get(stage, 0) + 1
            if counts[stage] % 40 == 1:
                say(f"  [{time.monotonic() - start:4.0f}s] {stage} packages ... ({counts[stage]})")
        elif line:
            say(f"  [{time.monotonic() - start:4.0f}s] {line}")
    if proc.wait() != 0:
        raise SandboxError(
            "debootstrap failed (last lines below). Check that this machine reaches its Debian "
            "mirror (HOTLINE_DEBIAN_MIRROR overrides it).\n" + "\n".join(tail)
        )


def pid_file(settings: Settings) -> Path:
    return settings.state_dir / "asterisk.pid"


def console_log(settings: Settings) -> Path:
    return settings.state_dir / "logs" / "asterisk-console.log"


def _pid(settings: Settings) -> int | None:
    try:
        pid = int(pid_file(settings).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    # A reused pid would not be running our asterisk.
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return pid if b"asterisk" in cmdline else None


def is_running(settings: Settings) -> bool:
    return _pid(settings) is not None


def cli(settings: Settings, command: str, timeout: float = 15) -> str:
    """Run one Asterisk CLI command through the control socket of the running PBX."""
    require_root("cli")
    if not is_running(settings):
        raise SandboxError("the PBX is not running: start it with `hotline pbx start`")
    try:
        out = subprocess.run(
            asterisk_cmd(settings, "-rx", command), capture_output=True, text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise SandboxError(f"the PBX did not answer `{command}` within {timeout:.0f} s") from exc
    if out.returncode != 0:
        raise SandboxError(f"`{command}` failed: {out.stderr.strip() or out.stdout.strip()}")
    return out.stdout


def dev_lines_loaded(settings: Settings) -> bool:
    """Whether the running PBX has the engineers' test numbers (HOTLINE_DEV_LINES=1 at render)."""
    return "'12300' =>" in cli(settings, "dialplan show 12300@from-callers")


def ari_answers(settings: Settings, timeout: float = 2.0) -> bool:
    creds = load_credentials(settings)
    try:
        resp = httpx.get(
            f"{settings.ari_base_url}/asterisk/info",
            auth=(settings.ari_user, creds.ari_password), timeout=timeout,
        )
    except httpx.HTTPError:
        return False
    return resp.status_code == 200


def pbx_account(root: Path) -> tuple[int, int]:
    """(uid, gid) of the PBX user as the root's own passwd file has them (the host may give
    those numbers other names, or none)."""
    passwd = root / "etc/passwd"
    for line in passwd.read_text().splitlines() if passwd.exists() else []:
        fields = line.split(":")
        if len(fields) > 3 and fields[0] == PBX_USER:
            return int(fields[2]), int(fields[3])
    raise SandboxError(
        f"the PBX root {root} has no user {PBX_USER!r} (the asterisk package creates it): "
        "rebuild the root with `hotline pbx install --force`"
    )


def pbx_ids(settings: Settings) -> tuple[int, int]:
    """(uid, gid) of the PBX user: from the settings when the PBX runs elsewhere (a container
    whose config and sounds are a volume here), else from the root's passwd file."""
    uid, gid = settings.pbx_uid, settings.pbx_gid
    if uid is not None and gid is not None:
        return uid, gid
    if uid is not None or gid is not None:
        raise SandboxError("set both HOTLINE_PBX_UID and HOTLINE_PBX_GID (the PBX user's ids), "
                           "or neither to read them from the PBX root's /etc/passwd")
    return pbx_account(settings.root)


def share_config(settings: Settings) -> None:
    """Let the PBX user read the config: the etc dir is root's with the PBX group (setgid, so
    files written later, like the agents' accounts, get that group too); secrets are 0640."""
    _, gid = pbx_ids(settings)
    etc = settings.pbx_etc
    os.chown(etc, 0, gid)
    etc.chmod(0o2750)
    for path in etc.iterdir():
        os.lchown(path, 0, gid)


def hand_over(settings: Settings) -> None:
    """Give the PBX user what it writes (also files left by a run as root before)."""
    uid, gid = pbx_ids(settings)
    for sub in PBX_WRITES:
        top = settings.in_root(settings.pbx_dir / sub)
        top.mkdir(parents=True, exist_ok=True)
        for path in (top, *top.rglob("*")):
            os.lchown(path, uid, gid)


def render_config(settings: Settings) -> list[str]:
    creds = load_credentials(settings, create=True)
    values = placeholder_values(settings, creds)
    names = render_dialplans(settings.dialplans_dir, settings.pbx_etc, values,
                             render_switches(settings))
    # Rendering replaces the config dir: the agents' SIP accounts are written with it.
    from app.acd.provisioning import render_agents_file

    agents = render_agents_file(settings).name
    share_config(settings)
    return [*names, agents]


def start(settings: Settings, say: Printer = _say, timeout: float = 60) -> int:
    require_root("start")
    root = settings.root
    if not asterisk_version(root):
        raise SandboxError(f"no PBX root at {root}: run `hotline pbx install` first")
    running = _pid(settings)
    if running:
        say(f"PBX already running (pid {running}).")
        return running
    names = render_config(settings)
    say(f"Rendered {len(names)} config files from {settings.dialplans_dir} "
        f"into {settings.pbx_etc}")
    settings.in_root(settings.pbx_dir / "spool/recording").mkdir(parents=True, exist_ok=True)
    hand_over(settings)
    log_path = console_log(settings)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    script = (
        'set -e; mount --make-rprivate / ; '
        'mount -t proc proc "$1/proc"; mount --rbind /dev "$1/dev"; '
        'shift; exec "$@"'
    )
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            ["unshare", "--mount", "--", "/bin/sh", "-c", script, "sh", str(root),
             *asterisk_cmd(settings, "-f", "-n", "-g", "-U", PBX_USER, "-G", PBX_USER)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    pid_file(settings).write_text(str(proc.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SandboxError(
                f"Asterisk exited at start (code {proc.returncode}); last log lines:\n"
                + tail_text(log_path, 20)
            )
        if _fully_booted(settings) and ari_answers(settings):
            say(f"PBX {settings.instance} started (pid {proc.pid}): "
                f"SIP {settings.sip_bind}:{settings.sip_port}, "
                f"ARI 127.0.0.1:{settings.ari_port}, AMI 127.0.0.1:{settings.ami_port}")
            return proc.pid
        time.sleep(0.3)
    # Not left running half-started (e.g. with a port another program holds).
    proc.terminate()
    if not _wait_gone(proc.pid, 5):
        proc.kill()
        _wait_gone(proc.pid, 5)
    pid_file(settings).unlink(missing_ok=True)
    raise SandboxError(
        f"Asterisk did not become ready within {timeout:.0f} s and was stopped; last log "
        "lines:\n" + tail_text(messages_log(settings), 10)
    )


def _fully_booted(settings: Settings) -> bool:
    try:
        out = subprocess.run(
            asterisk_cmd(settings, "-rx", "core waitfullybooted"),
            capture_output=True, text=True, timeout=10,
        )
    except subprocess.TimeoutExpired:
        return False
    return out.returncode == 0 and "fully booted" in out.stdout


def stop(settings: Settings, say: Printer = _say, timeout: float = 15) -> None:
    require_root("stop")
    pid = _pid(settings)
    if pid is None:
        pid_file(settings).unlink(missing_ok=True)
        say("PBX is not running.")
        return
    subprocess.run(
        asterisk_cmd(settings, "-rx", "core stop now"),
        capture_output=True, timeout=timeout,
    )
    if not _wait_gone(pid, timeout):
        os.kill(pid, signal.SIGTERM)
        if not _wait_gone(pid, 5):
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, 5)
    pid_file(settings).unlink(missing_ok=True)
    say(f"PBX stopped (pid {pid}).")


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            # Reap it when it is our child (make run / tests start it from this process).
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            pass
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def status(settings: Settings) -> tuple[bool, str]:
    """(healthy, one-line description)."""
    pid = _pid(settings)
    if pid is None:
        return False, "PBX is not running"
    if os.geteuid() != 0:
        return False, f"PBX process {pid} exists; run as root to check that it answers"
    try:
        uptime = cli(settings, "core show uptime seconds", timeout=5).split()
        channels = cli(settings, "core show channels count", timeout=5)
    except SandboxError as exc:
        return False, f"PBX process {pid} does not answer: {exc}"
    active = next((ln.split()[0] for ln in channels.splitlines() if "active channel" in ln), "?")
    seconds = uptime[2] if len(uptime) > 2 else "?"
    if not ari_answers(settings):
        return False, f"PBX running (pid {pid}) but ARI on port {settings.ari_port} does not answer"
    return True, f"PBX running (pid {pid}), up {seconds} s, {active} active channels, ARI ok"


def messages_log(settings: Settings) -> Path:
    return settings.in_root(settings.pbx_dir / "log/messages.log")


def tail_text(path: Path, lines: int) -> str:
    if not path.exists():
        return f"(no log yet at {path})"
    with open(path, "rb") as fh:
        data = fh.read()[-200_000:]
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])


def logs(settings: Settings, lines: int = 50, follow: bool = False) -> None:
    path = messages_log(settings)
    print(tail_text(path, lines), flush=True)
    if not follow:
        return
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        try:
            while True:
                chunk = fh.readline()
                if chunk:
                    sys.stdout.write(chunk.decode(errors="replace"))
                    sys.stdout.flush()
                else:
                    time.sleep(0.3)
        except KeyboardInterrupt:
            return
