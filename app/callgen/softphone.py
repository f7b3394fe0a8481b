"""`hotline softphone`: a real SIP phone registered as an agent, with a JSON summary.

It plays an agent's desk phone for tests and demos: registers as `agent-NO` with digest auth
(auth user NO, realm hotline), takes the calls the PBX rings it with, talks (speech or RTP
silence) and hangs up, then unregisters and prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.callgen.ports import free_media_port, free_udp_port
from app.callgen.runner import prepare_speech
from app.callgen.script import ScriptError
from app.callgen.softphone_scenario import PhonePlan, build_answer_scenario, build_register_scenario
from app.config import Settings
from app.services.masking import mask_phone

AGENT_NO = "4 to 6 digits"
SILENCE_MS = 1000  # one second of mu-law silence, looped by SIPp


def add_softphone_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agent", required=True, metavar="NO",
                        help="the agent's 工号 (4-6 digits): SIP user agent-NO, auth user NO")
    parser.add_argument("--password", required=True, help="the agent's SIP password")
    parser.add_argument("--answer-after", type=float, default=1.0, metavar="SECONDS",
                        help="ring this long before answering (default 1)")
    parser.add_argument("--talk", metavar="FILE.wav", default=None,
                        help="speak this WAV once answered (8 kHz mu-law, or converted with "
                        "sox); RTP silence is sent otherwise")
    parser.add_argument("--hold", type=float, default=None, metavar="SECONDS",
                        help="hang up this long after answering (default: wait for the caller "
                        "to hang up)")
    parser.add_argument("--reject", action="store_true",
                        help="reject incoming calls with 486 Busy Here instead of answering")
    parser.add_argument("--calls", type=int, default=1, metavar="N",
                        help="take N calls, then unregister and exit (default 1)")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                        help="give up when N calls were not taken within this time (default 60)")
    parser.add_argument("--pbx", default=None, metavar="HOST:PORT",
                        help="SIP address of the PBX (default 127.0.0.1:HOTLINE_SIP_PORT)")
    parser.add_argument("--keep", action="store_true", help="keep SIPp's files and print where")


@dataclass
class IncomingCall:
    sip_call_id: str
    caller: str = ""
    call_id: str = ""
    result: str = "ringing"  # answered, rejected, cancelled
    answered_tick: int | None = None
    ended_tick: int | None = None
    hung_up_by: str | None = None

    def summary(self) -> dict[str, Any]:
        talk = None
        if self.answered_tick is not None and self.ended_tick is not None:
            talk = round((self.ended_tick - self.answered_tick) / 1000, 3)
        return {
            "answered": self.answered_tick is not None, "result": self.result,
            "from": mask_caller(self.caller), "call_id": self.call_id or None,
            "talk_seconds": talk, "hung_up_by": self.hung_up_by,
        }


@dataclass
class PhoneLog:
    registered: bool = False
    register_failed: int | None = None
    unregistered: bool = False
    timed_out: bool = False
    calls: dict[str, IncomingCall] | None = None


def mask_caller(number: str) -> str:
    """The caller's number as received; a full phone number is masked (138****8000)."""
    if number.isdigit() and len(number) >= 7:
        return mask_phone(number) or ""
    return number


def _fields(line: str) -> tuple[str, dict[str, str]] | None:
    parts = line.split()
    if not parts or not parts[-1].startswith("tick="):
        return None
    fields = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
    return parts[0], fields


def parse_phone_log(text: str) -> PhoneLog:
    log = PhoneLog(calls={})
    calls: dict[str, IncomingCall] = {}
    for line in text.splitlines():
        parsed = _fields(line)
        if parsed is None:
            continue
        event, f = parsed
        tick = int(f["tick"]) if f.get("tick", "").isdigit() else None
        if event == "registered":
            log.registered = True
        elif event == "register_failed":
            log.register_failed = int(f.get("code", "0") or 0)
        elif event == "unregistered":
            log.unregistered = True
        elif event == "timeout":
            log.timed_out = True
        elif "sip" in f:
            call = calls.setdefault(f["sip"], IncomingCall(sip_call_id=f["sip"]))
            if event == "invite":
                call.caller, call.call_id = f.get("caller", ""), f.get("xcid", "")
            elif event == "answered":
                call.result, call.answered_tick = "answered", tick
            elif event in ("rejected", "cancelled"):
                call.result = event
            elif event in ("remote_bye", "local_bye"):
                call.ended_tick = tick
                call.hung_up_by = "caller" if event == "remote_bye" else "agent"
    log.calls = calls
    return log


def write_silence_wav(path: Path, ms: int = SILENCE_MS) -> Path:
    """8 kHz mu-law silence (0xff) as a WAV file SIPp's rtp_stream can loop."""
    data = b"\xff" * (8 * ms)
    fmt = struct.pack("<HHIIHH", 7, 1, 8000, 8000, 1, 8)
    riff = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    riff += b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(riff)) + riff)
    return path


def sipp_command(plan: PhonePlan, pbx: str, work: Path, sip_port: int, media_port: int,
                 ) -> list[str]:
    # The main scenario is a single "call" (-m 1); incoming calls run in the out-of-call one.
    return [
        "sipp", pbx, "-sf", str(work / "register.xml"), "-oocsf", str(work / "answer.xml"),
        "-i", "127.0.0.1", "-p", str(sip_port), "-mp", str(media_port),
        "-m", "1", "-l", "1", "-cid_str", f"softphone-{uuid.uuid4().hex[:12]}-%u",
        "-trace_logs", "-log_file", str(work / "phone.log"),
        "-trace_err", "-error_file", str(work / "errors.log"),
        "-timeout", f"{int(plan.timeout_s) + 30}s", "-nostdin",
        # Three retransmissions (REGISTER 2 + 4 + 8 + 16 s, others from 0.5 s): an unreachable
        # PBX is reported after half a minute at most, not SIP's 32 s per transaction.
        "-max_retrans", "3",
    ]


def summarise(plan: PhonePlan, log: PhoneLog, sipp_exit: int | None, pbx: str = "the PBX",
              ) -> dict[str, Any]:
    calls = list((log.calls or {}).values())
    wanted = "rejected" if plan.reject else "answered"
    taken = [c for c in calls if c.result == wanted and (plan.reject or c.ended_tick)]
    summary: dict[str, Any] = {
        "agent": plan.agent, "registered": log.registered,
        "calls": [c.summary() for c in calls],
        "unregistered": log.unregistered,
        "ok": log.registered and len(taken) >= plan.calls,
    }
    if log.register_failed is not None:
        summary["error"] = (
            f"registration refused ({log.register_failed}): check --agent and --password, "
            "and that agent-" + plan.agent + " exists on the PBX"
        )
    elif not log.registered:
        summary["error"] = (
            f"no answer to REGISTER from {pbx} (SIPp exit {sipp_exit}): is the PBX up, is "
            "--pbx right?"
        )
    elif not summary["ok"]:
        summary["error"] = f"took {len(taken)} of {plan.calls} calls within {plan.timeout_s:g} s"
    return summary


def run_phone(plan: PhonePlan, pbx: str, work: Path) -> dict[str, Any]:
    if shutil.which("sipp") is None:
        raise ScriptError("sipp is missing: apt-get install sip-tester (make run does this)")
    (work / "register.xml").write_text(build_register_scenario(plan))
    (work / "answer.xml").write_text(build_answer_scenario(plan))
    cmd = sipp_command(plan, pbx, work, free_udp_port(), free_media_port())
    started = time.monotonic()
    with open(work / "sipp.out", "wb") as out:
        try:
            proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT,
                                  timeout=plan.timeout_s + 60)
            code: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            code = None
    log_file = work / "phone.log"
    log = parse_phone_log(log_file.read_text(errors="replace") if log_file.exists() else "")
    summary = summarise(plan, log, code, pbx)
    summary["elapsed"] = round(time.monotonic() - started, 3)
    return summary


def validate(args: argparse.Namespace) -> None:
    if not (args.agent.isdigit() and 4 <= len(args.agent) <= 6):
        raise ScriptError(f"--agent must be the agent's 工号, {AGENT_NO}; got {args.agent!r}")
    if not args.password or "]" in args.password or "\n" in args.password:
        raise ScriptError("--password must be non-empty and contain no ']' or line break")
    if args.calls < 1 or args.timeout <= 0 or args.answer_after < 0:
        raise ScriptError("--calls must be >= 1, --timeout > 0 and --answer-after >= 0")
    if args.hold is not None and args.hold <= 0:
        raise ScriptError("--hold must be > 0 seconds")


def build_plan(args: argparse.Namespace, work: Path) -> PhonePlan:
    validate(args)
    talk = prepare_speech(Path(args.talk), work) if args.talk else None
    return PhonePlan(
        agent=args.agent, password=args.password, calls=args.calls, timeout_s=args.timeout,
        answer_after_ms=int(args.answer_after * 1000), reject=args.reject,
        hold_ms=None if args.hold is None else int(args.hold * 1000),
        talk=talk.path if talk else None, talk_ms=talk.ms if talk else 0,
        silence=write_silence_wav(work / "silence.wav"),
    )


def run_from_args(args: argparse.Namespace, settings: Settings) -> int:
    work = Path(tempfile.mkdtemp(prefix="hotline-softphone-"))
    try:
        plan = build_plan(args, work)
    except ScriptError as exc:
        shutil.rmtree(work, ignore_errors=True)
        print(f"hotline softphone: error: {exc}", file=sys.stderr)
        return 2
    summary = run_phone(plan, args.pbx or f"127.0.0.1:{settings.sip_port}", work)
    if args.keep:
        summary["files"] = str(work)
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(summary, ensure_ascii=False), flush=True)
    return 0 if summary["ok"] else 1
