"""`hotline call`: run SIPp with a generated scenario and summarise the call(s) as JSON."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from app.callgen.dtmf_pcap import PACKET_MS, PRESS_MS
from app.callgen.ports import free_media_port, free_udp_port
from app.callgen.scenario import KEY_GAP_MS, Media, build_scenario
from app.callgen.script import Key, ScriptError, Speech, Step, keys_of, parse_dtmf, wav_info
from app.config import Settings


class _Ordered(argparse.Action):
    """Keep --dtmf and --speech in the order given, so a caller can interleave them."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        items = list(getattr(namespace, "script", None) or [])
        items.append((self.dest, values))
        namespace.script = items


def add_call_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--to", default=None, help="number to call (default: the hotline number)")
    parser.add_argument("--from", dest="caller", default="13800138000",
                        help="caller number (default 13800138000)")
    parser.add_argument("--dtmf", action=_Ordered, metavar="KEYS",
                        help="keys to press, e.g. '1,2,E123#' (repeatable)")
    parser.add_argument("--speech", action=_Ordered, metavar="FILE.wav",
                        help="speak a WAV file (8 kHz mu-law, or converted with sox; repeatable)")
    parser.add_argument("--hold", type=float, default=1.0, metavar="SECONDS",
                        help="stay on the line this long after the script unless the hotline "
                        "hangs up first (default 1)")
    parser.add_argument("--settle", type=int, default=500, metavar="MS",
                        help="wait after answer before the script starts (default 500 ms)")
    parser.add_argument("--key-tone", type=int, default=PRESS_MS, metavar="MS",
                        help=f"how long each key is held, {MIN_TONE_MS}-{MAX_TONE_MS} ms in "
                        f"steps of {PACKET_MS} (default {PRESS_MS})")
    parser.add_argument("--key-gap", type=int, default=KEY_GAP_MS, metavar="MS",
                        help="from the end of one key to the start of the next, at least "
                        f"{MIN_GAP_MS} ms (default {KEY_GAP_MS})")
    parser.add_argument("--no-media", action="store_true",
                        help="send no audio but the keys and speech of the script: a caller "
                        "whose media has died (by default the call sends silence all along, "
                        "as a phone does)")
    parser.add_argument("--calls", type=int, default=1, help="place N identical calls at once")
    parser.add_argument("--rate", type=float, default=20, help="new calls per second (default 20)")
    parser.add_argument("--pbx", default=None, metavar="HOST:PORT",
                        help="SIP address of the PBX (default 127.0.0.1:HOTLINE_SIP_PORT)")
    parser.add_argument("--api", default=None, metavar="URL",
                        help="hotline API to look up call ids (default from settings; "
                        "'none' skips)")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="give up on the call(s) after this long "
                        "(default: script length + 30)")
    parser.add_argument("--keep", action="store_true", help="keep SIPp's files and print where")


MIN_TONE_MS, MAX_TONE_MS = 40, 2000  # a key shorter than 40 ms is not a key (ITU-T Q.24)
MIN_GAP_MS = 20  # a key's file must have been played before the next key's starts


def key_media(tone_ms: int, gap_ms: int, silence: bool = True) -> Media:
    """The caller's key timing, checked: a clear error instead of a key the PBX cannot take."""
    if not MIN_TONE_MS <= tone_ms <= MAX_TONE_MS or tone_ms % PACKET_MS:
        raise ScriptError(f"--key-tone must be {MIN_TONE_MS}-{MAX_TONE_MS} ms in steps of "
                          f"{PACKET_MS} (RTP packets are {PACKET_MS} ms), not {tone_ms}")
    if gap_ms < MIN_GAP_MS:
        raise ScriptError(f"--key-gap must be at least {MIN_GAP_MS} ms, not {gap_ms}")
    return Media(tone_ms=tone_ms, gap_ms=gap_ms, silence=silence)


@dataclass
class CallResult:
    sip_call_id: str
    final_response: int | None = None
    invite_tick: int | None = None
    answered_tick: int | None = None
    ended_tick: int | None = None
    hung_up_by: str | None = None
    hotline_call_id: str | None = None

    @property
    def answered(self) -> bool:
        return self.final_response == 200

    @property
    def duration(self) -> float | None:
        if self.answered_tick is None or self.ended_tick is None:
            return None
        return round((self.ended_tick - self.answered_tick) / 1000, 3)

    @property
    def ok(self) -> bool:
        return self.answered and self.ended_tick is not None

    @property
    def setup_ms(self) -> int | None:
        """INVITE sent -> 200 OK received."""
        if self.invite_tick is None or self.answered_tick is None:
            return None
        return self.answered_tick - self.invite_tick


@dataclass
class CallPlan:
    to: str
    caller: str
    steps: list[Step]
    hold_ms: int
    settle_ms: int = 500
    calls: int = 1
    rate: float = 20
    pbx: str = "127.0.0.1:5060"
    timeout_s: float | None = None
    keep: bool = False
    work: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="hotline-call-")))
    media: Media = field(default_factory=Media)

    @property
    def script_ms(self) -> int:
        total = self.settle_ms + self.hold_ms
        for step in self.steps:
            if isinstance(step, Key):
                total += self.media.tone_ms + self.media.gap_ms
            else:
                total += step.ms
        return total


def prepare_speech(path: Path, work: Path) -> Speech:
    info = wav_info(path)
    if not info.is_ulaw_8k:
        if shutil.which("sox") is None:
            raise ScriptError("sox is needed to convert speech files (apt-get install sox)")
        out = work / f"speech-{len(list(work.glob('speech-*')))}.wav"
        proc = subprocess.run(
            ["sox", str(path), "-r", "8000", "-c", "1", "-e", "u-law", "-b", "8", str(out)],
            capture_output=True, text=True,
        )
        if proc.returncode != 0:
            raise ScriptError(f"sox could not convert {path}: {proc.stderr.strip()}")
        path, info = out, wav_info(out)
    return Speech(path=path.resolve(), ms=info.duration_ms)


def build_steps(script: list[tuple[str, str]], work: Path) -> list[Step]:
    steps: list[Step] = []
    for kind, value in script:
        if kind == "dtmf":
            steps.extend(parse_dtmf(value))
        else:
            steps.append(prepare_speech(Path(value), work))
    return steps


def parse_log(text: str) -> dict[str, CallResult]:
    """Our scenario logs 'EVENT CALL-ID TICK' lines; collect them per call."""
    results: dict[str, CallResult] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 3 or not parts[-1].isdigit():
            continue
        tick, call_id = int(parts[-1]), parts[-2]
        res = results.setdefault(call_id, CallResult(sip_call_id=call_id))
        if parts[0] == "invite" and len(parts) == 3:
            res.invite_tick = tick
        elif parts[0] == "final" and len(parts) == 4 and parts[1].isdigit():
            res.final_response = int(parts[1])
            if res.final_response == 200:
                res.answered_tick = tick
            else:
                res.ended_tick = tick
        elif parts[0] in ("remote_bye", "local_bye"):
            res.ended_tick = tick
            res.hung_up_by = "hotline" if parts[0] == "remote_bye" else "caller"
    return results


def run_call(plan: CallPlan) -> dict[str, Any]:
    if shutil.which("sipp") is None:
        raise ScriptError("sipp is missing: apt-get install sip-tester (make run does this)")
    scenario = plan.work / "scenario.xml"
    scenario.write_text(
        build_scenario(plan.steps, plan.hold_ms, plan.caller, plan.work, plan.settle_ms,
                       plan.media)
    )
    log_file, err_file = plan.work / "calls.log", plan.work / "errors.log"
    timeout = plan.timeout_s or (plan.script_ms / 1000 + plan.calls / plan.rate + 30)
    cid = f"hotline-{uuid.uuid4().hex[:12]}-%u"
    cmd = [
        "sipp", plan.pbx, "-sf", str(scenario), "-s", plan.to, "-i", "127.0.0.1",
        "-p", str(free_udp_port()), "-mp", str(free_media_port()),
        "-m", str(plan.calls), "-l", str(plan.calls), "-r", str(plan.rate),
        "-cid_str", cid, "-trace_logs", "-log_file", str(log_file),
        "-trace_err", "-error_file", str(err_file),
        "-timeout", f"{int(timeout)}s", "-timeout_error", "-nostdin",
    ]
    started = time.monotonic()
    with open(plan.work / "sipp.out", "wb") as out:
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout + 30)
    elapsed = time.monotonic() - started
    results = parse_log(log_file.read_text(errors="replace") if log_file.exists() else "")
    summary: dict[str, Any] = {
        "to": plan.to,
        "digits_sent": keys_of(plan.steps),
        "speech_files": [str(s.path) for s in plan.steps if isinstance(s, Speech)],
        "media": "silence" if plan.media.silence else "none",
        "sipp_exit": proc.returncode,
        "elapsed": round(elapsed, 3),
    }
    calls = list(results.values())
    if plan.calls == 1:
        one = calls[0] if calls else CallResult(sip_call_id="")
        summary.update(
            sip_call_id=one.sip_call_id, final_response=one.final_response,
            answered=one.answered, setup_ms=one.setup_ms, duration=one.duration,
            hung_up_by=one.hung_up_by,
            ok=one.ok and proc.returncode == 0,
        )
    else:
        summary.update(
            calls=plan.calls, answered=sum(c.answered for c in calls),
            completed=sum(c.ok for c in calls),
            sip_call_ids=[c.sip_call_id for c in calls],
            setup_ms=[c.setup_ms for c in calls if c.setup_ms is not None],
            ok=sum(c.ok for c in calls) == plan.calls and proc.returncode == 0,
        )
    if not summary["ok"]:
        summary["errors"] = _tail(err_file, 5) or _tail(plan.work / "sipp.out", 5)
    if plan.keep:
        summary["files"] = str(plan.work)
    else:
        shutil.rmtree(plan.work, ignore_errors=True)
    return summary


def _tail(path: Path, lines: int) -> list[str]:
    if not path.exists():
        return []
    return [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()][-lines:]


def api_token(settings: Settings) -> str | None:
    """HOTLINE_API_TOKEN, else the local engineer's token that `hotline serve` keeps."""
    token = os.environ.get("HOTLINE_API_TOKEN")
    if token:
        return token
    try:
        return settings.local_token_file.read_text().strip() or None
    except OSError:
        return None


def lookup_call_ids(api: str, sip_call_ids: list[str], token: str | None,
                    wait: float = 5,
                    transport: httpx.BaseTransport | None = None) -> dict[str, str]:
    """The platform's call ids for these SIP calls: live calls first, then the stored
    history (a call that ended while the platform restarted is only there). Retries for
    `wait` seconds while the platform answers but does not know a call yet; no platform
    listening, no wait."""
    found: dict[str, str] = {}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    deadline = time.monotonic() + wait
    with httpx.Client(base_url=api, timeout=3, headers=headers,
                      transport=transport) as client:
        while True:
            for sip_id in sip_call_ids:
                if sip_id not in found:
                    try:
                        call_id = _one_call_id(client, sip_id)
                    except httpx.ConnectError:
                        return found
                    if call_id:
                        found[sip_id] = call_id
            if len(found) == len(sip_call_ids) or time.monotonic() > deadline:
                return found
            time.sleep(0.5)


def _one_call_id(client: httpx.Client, sip_id: str) -> str | None:
    try:
        resp = client.get("/api/v1/calls/recent", params={"sip_call_id": sip_id})
        if resp.status_code == 200 and resp.json():
            return str(resp.json()[0]["call_id"])
        resp = client.get("/api/v1/calls", params={"sip_call_id": sip_id})
        if resp.status_code == 200 and resp.json().get("items"):
            return str(resp.json()["items"][0]["id"])
    except httpx.ConnectError:
        raise
    except httpx.HTTPError:
        pass
    return None


def place_calls(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """Place the calls `hotline call` was asked for and return their summary (with the
    platform's call id for a single call); bad arguments raise ScriptError."""
    work = Path(tempfile.mkdtemp(prefix="hotline-call-"))
    try:
        if args.calls < 1 or args.rate <= 0 or args.hold < 0:
            raise ScriptError("--calls must be >= 1, --rate > 0 and --hold >= 0")
        media = key_media(args.key_tone, args.key_gap, silence=not args.no_media)
        steps = build_steps(getattr(args, "script", None) or [], work)
    except ScriptError:
        shutil.rmtree(work, ignore_errors=True)
        raise
    plan = CallPlan(
        to=args.to or settings.hotline_number, caller=args.caller, steps=steps,
        hold_ms=int(args.hold * 1000), settle_ms=args.settle, calls=args.calls, rate=args.rate,
        pbx=args.pbx or f"127.0.0.1:{settings.sip_port}", timeout_s=args.timeout,
        keep=args.keep, work=work, media=media,
    )
    summary = run_call(plan)
    api = args.api or f"http://{settings.api_host}:{settings.api_port}"
    if api != "none" and plan.calls == 1 and summary.get("sip_call_id"):
        ids = lookup_call_ids(api, [summary["sip_call_id"]], api_token(settings))
        summary["call_id"] = ids.get(summary["sip_call_id"])
    return summary


def run_from_args(args: argparse.Namespace, settings: Settings) -> int:
    try:
        summary = place_calls(args, settings)
    except ScriptError as exc:
        print(f"hotline call: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary, ensure_ascii=False), flush=True)
    return 0 if summary["ok"] else 1
