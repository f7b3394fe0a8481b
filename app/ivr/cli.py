"""`hotline flows check [FILE]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.ivr.actions import ACTIONS
from app.ivr.loader import FLOWS_DIR, FlowError, load_flow


def known_prompts() -> set[str] | None:
    try:
        from app.tts.catalog import load_catalog
    except ImportError:
        return None
    return set(load_catalog().prompts)


def _check(args: argparse.Namespace) -> int:
    files = [Path(f) for f in args.files] or sorted(FLOWS_DIR.glob("*.yaml"))
    if not files:
        print(f"no flow files in {FLOWS_DIR}", file=sys.stderr)
        return 2
    prompts = known_prompts()
    failed = False
    for path in files:
        try:
            flow = load_flow(path, prompts, set(ACTIONS))
        except FlowError as exc:
            failed = True
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            continue
        print(f"{path}: ok (flow {flow.name}, {len(flow.nodes)} nodes)")
    return 1 if failed else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    flows = sub.add_parser(
        "flows",
        help="check the IVR flow files",
        description="IVR flows are YAML files in app/ivr/flows/.",
    )
    flows_sub = flows.add_subparsers(dest="flows_action", required=True, metavar="ACTION")
    check = flows_sub.add_parser(
        "check",
        help="validate flow files; each problem is printed as FILE:LINE: message",
        description="Validate flow files (default: all in app/ivr/flows/): structure, step "
        "arguments, node references, prompt ids against the prompt catalog, action names.",
    )
    check.add_argument("files", nargs="*", help="flow files (default: all shipped flows)")
    check.set_defaults(func=_check)
    reload = flows_sub.add_parser(
        "reload", help="check the flows of the running platform and swap them in",
        description="Ask the running `hotline serve` to check every flow of its flows folder "
        "(HOTLINE_FLOWS_DIR) and swap them in: new calls run the new flows, calls in progress "
        "finish on theirs. A broken flow is refused with FILE:LINE: message (exit 1) and the "
        "running flows stay. Uses HOTLINE_API_TOKEN or the local engineer token.",
    )
    reload.add_argument("--api", help="the platform's URL (default: HOTLINE_API_HOST/PORT)")
    reload.set_defaults(func=_reload)


def _reload(args: argparse.Namespace) -> int:
    """Ask the running `hotline serve` to check its flows folder and swap the flows in."""
    import httpx

    from app.callgen.runner import api_token
    from app.config import get_settings

    settings = get_settings()
    api = args.api or f"http://{settings.api_host}:{settings.api_port}"
    token = api_token(settings)
    try:
        resp = httpx.post(f"{api}/api/v1/flows/reload", timeout=30,
                          headers={"Authorization": f"Bearer {token}"} if token else {})
    except httpx.HTTPError as exc:
        print(f"hotline flows reload: {api} does not answer ({exc}); is `hotline serve` "
              "running?", file=sys.stderr)
        return 2
    body = resp.json()
    if resp.status_code == 200:
        print(f"flows reloaded: {', '.join(body['flows'])} (calls in progress keep theirs)")
        return 0
    error = body.get("error", {})
    for problem in (error.get("details") or {}).get("problems", []):
        print(problem)
    print(f"hotline flows reload: {error.get('message', resp.text)}", file=sys.stderr)
    return 1
