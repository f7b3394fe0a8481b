"""`hotline cluster run`: a local cluster in the foreground (Ctrl-C stops all of it)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from app.config import get_settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cluster = sub.add_parser(
        "cluster", help="run a local cluster: SIP proxy (Kamailio), N media nodes, PostgreSQL",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "One Kamailio on this instance's SIP port (HOTLINE_SIP_PORT) spreads calls over N\n"
            "media nodes (Asterisk + `hotline serve` each, every port 10*k higher for node k)\n"
            "and registers agents' phones; every node and the proxy share one PostgreSQL\n"
            "database (HOTLINE_DATABASE_URL, or --local-postgres)."),
    )
    actions = cluster.add_subparsers(dest="cluster_action", required=True, metavar="ACTION")
    run = actions.add_parser("run", help="start everything and stay in the foreground")
    run.add_argument("--nodes", type=int, default=2, help="media nodes (1-4, default 2)")
    run.add_argument("--local-postgres", action="store_true",
                     help="start a PostgreSQL server for the cluster, its data kept in the "
                          "state dir (cluster/postgres), instead of HOTLINE_DATABASE_URL")
    run.add_argument("--demo-data", action="store_true",
                     help="seed the demo stations, trains and orders on first start")
    run.set_defaults(func=_run)


@contextmanager
def _database(local: bool, given: str | None, folder_name: str) -> Iterator[str]:
    if not local:
        if not given:
            raise SystemExit("hotline: error: the cluster needs PostgreSQL: set "
                             "HOTLINE_DATABASE_URL=postgresql://... or pass --local-postgres")
        yield given
        return
    from app.db.pgserver import postgres_server

    with postgres_server(get_settings().state_dir / folder_name, port=None) as url:
        yield url


def _run(args: argparse.Namespace) -> int:
    from app.cluster.proxy import ProxyError
    from app.cluster.run import Cluster, ClusterError

    settings = get_settings()
    folder = settings.state_dir / "cluster"
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(_database(args.local_postgres, settings.database_url,
                                            "cluster/postgres"))
        try:
            cluster = Cluster(settings, args.nodes, url, folder)
            cluster.start(demo_data=args.demo_data)
        except (ClusterError, ProxyError) as exc:
            print(f"hotline: error: {exc}", file=sys.stderr)
            return 2
        return cluster.run_until_stopped()
    return 0
