"""``run.py app [--port P] [--host H]``: serve the classroom app (``sim/app/page.py``) with Solara."""

from __future__ import annotations

import argparse
import importlib.util
import os
import socket
import sys

from sim.scenario.errors import ScenarioError

ORDER = 90
DEFAULT_HOST = "127.0.0.1"  # only this machine: a classroom opts in to sharing with --host 0.0.0.0
DEFAULT_PORT = 8765
MAX_PORT = 65535
EXIT_MISSING = 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``app`` sub-command.

    Args:
        sub: The sub-parsers of ``run.py``.
    """
    p = sub.add_parser("app", help="open the interactive classroom app in a browser")
    p.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"port to listen on (default {DEFAULT_PORT})")
    p.add_argument("--host", default=DEFAULT_HOST,
                   help=f"address to listen on (default {DEFAULT_HOST}; 0.0.0.0 lets other machines connect)")
    p.set_defaults(func=cmd_app)


def cmd_app(args: argparse.Namespace) -> int:
    """Check the port and the app's dependencies, then hand the process over to Solara's server.

    Args:
        args: The parsed command line.

    Returns:
        The exit status.
    """
    if importlib.util.find_spec("solara") is None:
        print("error: the app needs Solara: pip install -e '.[app]'", file=sys.stderr)
        return EXIT_MISSING
    _check_free(args.host, args.port)
    _check_lessons()
    print(f"classroom app: http://{args.host}:{args.port}/  (Ctrl-C stops it)", flush=True)
    # Solara's telemetry would try to reach the internet from a classroom or CI machine.
    env = {**os.environ, "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False"}
    argv = [sys.executable, "-m", "solara", "run", "sim.app.page", "--host", args.host, "--port", str(args.port),
            "--production", "--no-open", "--no-check-version", "--log-level", "warning"]
    # exec, not a child process: the server keeps this process id, so stopping it stops the server.
    os.execve(sys.executable, argv, env)
    return 0  # not reached


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number 1-{MAX_PORT}, got '{text}'") from None
    if not 1 <= port <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"must be 1-{MAX_PORT}, got {port}")
    return port


def _check_free(host: str, port: int) -> None:
    """Fail with one line now rather than with the server's traceback later."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise ScenarioError("--host", "", f"unknown address '{host}'") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise ScenarioError("--port", "", f"{port} on {host} is not free ({exc.strerror})") from None


def _check_lessons() -> None:
    """Validate the classroom scenario and the lessons before serving them."""
    from sim.app.lessons import load_lessons

    load_lessons()
