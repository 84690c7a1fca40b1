"""Shared fixtures: small scenarios that run in a second or two."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from sim.scenario.schema import Scenario
from sim.scenario.validation import validate

ROOT = Path(__file__).resolve().parent.parent

SMALL_CLUSTERS = [
    {"name": "GCE Blue Maritime", "region": "more_og_romsdal", "sector": "maritime",
     "levels": [[2002, "arena"], [2006, "nce"], [2014, "gce"]]},
    {"name": "NCE Raufoss", "region": "innlandet", "sector": "manufacturing", "levels": [[2006, "nce"]],
     "end_year": 2016},
    {"name": "NCE Finance Innovation", "region": "vestland", "sector": "ict_fintech",
     "levels": [[2005, "arena"], [2010, "nce"]]},
    {"name": "Arena Biotech North", "region": "troms_og_finnmark", "sector": "health_medtech",
     "levels": [[2004, "arena"]], "end_year": 2008},
]


def small(scale: float = 0.01, end_year: int = 2012, **sections) -> Scenario:
    """A small scenario with four clusters of different levels and life cycles."""
    data = {
        "scenario": {"name": "small", "start_year": 2000, "end_year": end_year},
        "population": {"scale": scale},
        "clusters": SMALL_CLUSTERS,
        "shocks": [{"sector": "oil_gas_supply", "year": 2005, "years": 2, "demand_change": -0.1}],
    }
    for key, value in sections.items():
        if isinstance(value, dict):
            data.setdefault(key, {}).update(value)
        else:
            data[key] = value
    return validate(data, "<test>")


@pytest.fixture
def small_scenario() -> Scenario:
    return small()


def _default_interrupt() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def cli(*args: str, wait: bool = True, cwd: Path = ROOT, **kwargs):
    """``run.py`` in a fresh process (a finished process, or a running one with ``wait=False``)."""
    command = [sys.executable, str(ROOT / "run.py"), *args]
    if not wait:
        # A shell started in the background (nohup make test &) ignores Ctrl-C, and its children inherit that:
        # give the process back the default, so a test's SIGINT interrupts it as a terminal's would.
        kwargs.setdefault("preexec_fn", _default_interrupt)
        return subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300, **kwargs)


# A scratch PostgreSQL database for the tests that need one (``eval "$(scripts/ci-postgres.sh)"`` starts one
# on loopback, as .ci/run does); without it they skip, which CI turns into a failure (below).
POSTGRES_URL = os.environ.get("NIC_SIM_TEST_POSTGRES_URL")


@pytest.fixture(scope="module")
def pg() -> str:
    """The scratch PostgreSQL database's URL, once it answers; a skip that says why otherwise."""
    if POSTGRES_URL is None:
        pytest.skip("no PostgreSQL: set NIC_SIM_TEST_POSTGRES_URL to a scratch database")
    url = POSTGRES_URL
    if url.startswith("postgresql://"):
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # any failure to connect means: skip, and say why
        pytest.skip(f"PostgreSQL at NIC_SIM_TEST_POSTGRES_URL not reachable: {' '.join(str(exc).split())[:200]}")
    return POSTGRES_URL


# In CI (.ci/run sets NIC_SIM_CI=1) a test may not skip for want of a server or browser that CI
# installs: such a skip fails instead, so a broken install cannot pass silently.
CI_REQUIRED = ("chromium", "PostgreSQL", "solara", "playwright")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("NIC_SIM_CI") == "1":
        reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if any(word in reason for word in CI_REQUIRED):
            report.outcome = "failed"
            report.longrepr = f"CI must run this test, but it skipped: {reason}"
