"""``run.py app [--port P] [--host H]``: serve the classroom app (``sim/app/page.py``) with Solara.

Solara's server runs in this process (its ``solara run`` command, called in-process), so stopping
this process stops the server, and a thread prints the address to open once the server listens.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import socket
import sys
import threading
import time

from sim.scenario.errors import ScenarioError

ORDER = 90
DEFAULT_HOST = "127.0.0.1"  # only this machine: a classroom opts in to sharing with --host 0.0.0.0
DEFAULT_PORT = 8765
MAX_PORT = 65535
EXIT_MISSING = 1
WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1"}  # listening on every address -> reach it here
LOOPBACKS = {"127.0.0.1", "::1", "localhost"}
READY_POLL_S = 0.2
# Solara reads its settings from the environment when it is first imported (pydantic settings:
# ``solara/server/settings.py``, ``ThemeSettings`` with the prefix ``SOLARA_THEME_``).
SOLARA_ENV = {
    "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",  # no telemetry from a classroom or CI machine
    "SOLARA_THEME_SHOW_BANNER": "False",  # no "This website runs on Solara" over the last chart
}


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
    """Check the port and the app's dependencies, then serve the app until stopped.

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
    os.environ.update(SOLARA_ENV)  # before Solara is imported, which reads them
    from click.exceptions import Abort
    from solara.__main__ import cli as solara_cli

    threading.Thread(target=announce_when_listening, args=(args.host, args.port), daemon=True).start()
    try:
        solara_cli.main(["run", "sim.app.page", "--host", args.host, "--port", str(args.port), "--production",
                         "--no-open", "--no-check-version", "--log-level", "warning"],
                        prog_name="solara", standalone_mode=False)
    except Abort:  # click's word for Ctrl-C, once the server has shut down
        raise KeyboardInterrupt from None
    return 0


def ready_message(host: str, port: int) -> str:
    """What the terminal says once the server listens: the address to open, and the class's.

    ``localhost`` rather than ``127.0.0.1``: browsers accept Solara's session cookie there without
    https. Listening on every address (``--host 0.0.0.0``), the students' machines need this one's
    address on the local network, which is printed too when it can be found.

    Args:
        host: The address the server listens on.
        port: Its port.

    Returns:
        One or two lines.
    """
    here = "localhost" if host in WILDCARDS or host in LOOPBACKS else (f"[{host}]" if ":" in host else host)
    lines = [f"classroom app ready: open http://{here}:{port}/ in a browser (Ctrl-C stops it)"]
    if host in WILDCARDS:
        address = _network_address()
        where = f"http://{address}:{port}/" if address else f"http://<this machine's address>:{port}/"
        lines.append(f"students open {where}")
    return "\n".join(lines)


def announce_when_listening(host: str, port: int) -> None:
    """Print :func:`ready_message` once the server accepts connections (a daemon thread)."""
    target = WILDCARDS.get(host, host)
    while True:
        try:
            with socket.create_connection((target, port), timeout=1.0):
                break
        except OSError:
            time.sleep(READY_POLL_S)
    print(ready_message(host, port), flush=True)


def _network_address() -> str | None:
    """This machine's address on the local network, or None (no network)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1; connecting a UDP socket sends nothing
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


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
