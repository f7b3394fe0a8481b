"""`hotline`: the command line of the hotline platform."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from app.config import get_settings
from app.db.session import DatabaseLocationError
from app.pbx import sandbox
from app.pbx.render import RenderError
from app.pbx.secrets import SecretsError


def _pbx(args: argparse.Namespace) -> int:
    settings = get_settings()
    action: str = args.pbx_action
    if action == "install":
        sandbox.install(settings, force=args.force)
    elif action == "start":
        sandbox.start(settings)
    elif action == "stop":
        sandbox.stop(settings)
    elif action == "restart":
        sandbox.stop(settings)
        sandbox.start(settings)
    elif action == "status":
        ok, text = sandbox.status(settings)
        print(text)
        return 0 if ok else 1
    elif action == "cli":
        sys.stdout.write(sandbox.cli(settings, " ".join(args.command)))
    elif action == "logs":
        sandbox.logs(settings, lines=args.lines, follow=args.follow)
    elif action in ("reload", "rollback"):
        from app.pbx import apply

        (apply.reload if action == "reload" else apply.rollback)(settings)
    elif action == "top":
        from app.pbx.top import run

        return run(args, settings)
    elif action == "render":
        names = sandbox.render_config(settings)
        print(f"rendered {', '.join(names)} into {settings.pbx_etc}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from app.server import serve

    return serve(get_settings(), start_pbx=args.with_pbx, demo_data=args.demo_data)


def _api(args: argparse.Namespace) -> int:
    from app.server import serve_api

    settings = get_settings()
    if args.workers is not None:
        settings = settings.model_copy(update={"api_workers": args.workers})
    return serve_api(settings)


def _call(args: argparse.Namespace) -> int:
    from app.callgen.runner import run_from_args

    return run_from_args(args, get_settings())


def _softphone(args: argparse.Namespace) -> int:
    from app.callgen.softphone import run_from_args

    return run_from_args(args, get_settings())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hotline",
        description="Railway hotline voice platform: PBX sandbox, services and test calls.",
        epilog="Settings come from HOTLINE_* environment variables (see README).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    pbx = sub.add_parser("pbx", help="manage the local Asterisk sandbox (needs root); watch it",
                         description="Manage the local Asterisk 22 sandbox (needs root); "
                         "`pbx top` watches the running PBX through the API (no root).")
    pbx_sub = pbx.add_subparsers(dest="pbx_action", required=True, metavar="ACTION")
    inst = pbx_sub.add_parser("install", help="build or reuse the Debian sid root with Asterisk 22")
    inst.add_argument("--force", action="store_true", help="rebuild even if a root exists")
    pbx_sub.add_parser("start", help="render dialplans/ into the root and start Asterisk")
    pbx_sub.add_parser("stop", help="stop Asterisk; no process or mount is left behind")
    pbx_sub.add_parser("restart", help="stop, then start")
    pbx_sub.add_parser("status", help="exit 0 when Asterisk runs and answers, 1 otherwise")
    cli = pbx_sub.add_parser("cli", help='run an Asterisk CLI command, e.g. "core show channels"')
    cli.add_argument("command", nargs="+", help="the CLI command")
    logs = pbx_sub.add_parser("logs", help="show Asterisk's messages log")
    logs.add_argument("-n", "--lines", type=int, default=50, help="lines to show (default 50)")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    pbx_sub.add_parser("render", help="render dialplans/ into the root without starting")
    pbx_sub.add_parser("reload", help="check dialplans/, then apply it to the running PBX "
                       "(calls in progress go on; the previous config is kept)")
    pbx_sub.add_parser("rollback", help="go back to the config before the last reload")
    from app.pbx.top import HELP as TOP_HELP
    from app.pbx.top import add_top_arguments

    top = pbx_sub.add_parser(
        "top", help="live view of the running PBX: channels, bridges, queue waits (no root)",
        description=TOP_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_top_arguments(top)
    pbx.set_defaults(func=_pbx)

    serve = sub.add_parser(
        "serve", help="run the Stasis app, AMI link and HTTP API in one process",
        description="Run the hotline Stasis app, the AMI link and the HTTP API (FastAPI) in one "
        "asyncio process. Ctrl-C stops it cleanly.",
    )
    serve.add_argument("--with-pbx", action="store_true",
                       help="start the sandbox PBX first and stop it on exit")
    serve.add_argument("--demo-data", action="store_true",
                       help="load the demo data set into an empty database")
    serve.set_defaults(func=_serve)

    api = sub.add_parser("api", help="run the HTTP API alone, without telephony",
                         description="Run the data API (FastAPI) without the Stasis app: an "
                         "API-only node. Migrates the database first.")
    api.add_argument("--workers", type=int, metavar="N", choices=range(1, 33),
                     help="processes serving the API (default HOTLINE_API_WORKERS, 1); more "
                     "than one needs PostgreSQL")
    api.set_defaults(func=_api)

    from app.callgen.runner import add_call_arguments

    call = sub.add_parser(
        "call", help="place a real SIP call into the platform with SIPp",
        description="Place a real SIP call with SIPp and print a one-line JSON summary.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "DTMF syntax: keys 0-9 * #; letters are typed as on a phone keypad\n"
            "(ABC=2 DEF=3 GHI=4 JKL=5 MNO=6 PQRS=7 TUV=8 WXYZ=9); ',' pauses 1 s.\n"
            "Example: hotline call --dtmf '1,,E123456789#' --hold 2"
        ),
    )
    add_call_arguments(call)
    call.set_defaults(func=_call)

    from app.callgen.softphone import add_softphone_arguments

    phone = sub.add_parser(
        "softphone", help="register a real SIP phone as an agent and take calls (SIPp)",
        description="Register with the PBX as agent NO (SIP user agent-NO, digest auth user NO, "
        "realm hotline), take incoming calls - ring, answer or reject with 486, talk speech or "
        "RTP silence, hang up - then unregister and print a one-line JSON summary. Exit 0 when "
        "it registered and took --calls calls within --timeout, 1 otherwise.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "Example: hotline softphone --agent 1001 --password secret --answer-after 2 \\\n"
            "             --hold 5 --calls 2\n"
            "Each call reports: answered, from (the caller's number as the phone received it,\n"
            "masked), call_id (the X-Hotline-Call-Id header of the INVITE) and talk_seconds."
        ),
    )
    add_softphone_arguments(phone)
    phone.set_defaults(func=_softphone)

    from app.acd.cli import register as register_acd
    from app.acd.cli_routing import register as register_routing
    from app.acd.cli_shifts import register as register_shifts
    from app.admin.cli import register as register_db
    from app.agi.cli import register as register_agi
    from app.asr.cli import register as register_asr
    from app.cluster.cli import register as register_cluster
    from app.ivr.cli import register as register_flows
    from app.pbx.cli_dialplan import register as register_dialplan
    from app.qa.cli import register as register_qa
    from app.recordings.cli import register as register_recordings
    from app.stats.cli import register as register_stats
    from app.tts.cli import register as register_prompts

    register_db(sub)
    register_acd(sub)
    register_flows(sub)
    register_asr(sub)
    register_prompts(sub)
    register_routing(sub)
    register_shifts(sub)
    register_recordings(sub)
    register_qa(sub)
    register_agi(sub)
    register_dialplan(sub)
    register_stats(sub)
    register_cluster(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except (sandbox.SandboxError, SecretsError, RenderError, DatabaseLocationError) as exc:
        print(f"hotline: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
