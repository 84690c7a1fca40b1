"""Make the README's screenshots (``docs/img/``) from the current code, at a 1280x800 projector's size.

Usage::

    .venv/bin/python scripts/screenshots.py            # both images
    .venv/bin/python scripts/screenshots.py app        # only docs/img/app.png

* ``app.png``: ``run.py app`` served on a free port and driven by Playwright in Debian's chromium
  (``scripts/ci-chromium.sh``): the selection-or-treatment lesson with the class seed 0, run to
  2030, its text folded away, what a projector shows.
* ``report.png``: ``run.py run`` of the classroom scenario and of the budget-cut lesson with
  seeds 0-2 into a temporary folder, ``run.py report`` comparing them, the top of that report.

Exit status 0 when every image was written, 1 when one could not be made (its old file is kept).
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "img"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 800}
SERVER_START_S = 120.0
UI_TIMEOUT_MS = 60_000
LESSON = "Do clusters make firms grow"  # the start of the selection lesson's title
END_YEAR, RUN_YEARS = 2030, 5
REPORT_SEEDS = (0, 1, 2)
REPORT_A, REPORT_B = "scenarios/classroom.toml", "scenarios/lessons/4_budget_cut.toml"


def main(argv: list[str] | None = None) -> int:
    """Make the images asked for.

    Args:
        argv: ``app``, ``report`` or nothing for both.

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # No default list with choices: argparse checks a nargs="*" default as one value and refuses it.
    parser.add_argument("images", nargs="*", choices=["app", "report"], help="which images (default: both)")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"error: {CHROMIUM} is missing (install it: scripts/ci-chromium.sh)", file=sys.stderr)
        return 1
    makers = {"app": app_screenshot, "report": report_screenshot}
    failed = 0
    for name in dict.fromkeys(args.images or ["app", "report"]):
        try:
            path = makers[name]()
            print(f"wrote {path.relative_to(ROOT)}")
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            print(f"error: {name}.png not made: {exc}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def app_screenshot() -> Path:
    """The selection lesson run to the last year, the whole page."""
    from playwright.sync_api import sync_playwright

    with serve_app() as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport=VIEWPORT)
        page.set_default_timeout(UI_TIMEOUT_MS)
        page.goto(url)
        choose_lesson(page, LESSON)
        run_to(page, END_YEAR)
        page.get_by_text(f"Lesson: {LESSON}").click()  # fold the text away: the map and the charts show
        page.wait_for_timeout(1500)  # ECharts draws after the option arrives
        path = IMAGES / "app.png"
        page.screenshot(path=str(path), full_page=True)
        browser.close()
    return path


def choose_lesson(page, title_start: str) -> None:
    """Pick a lesson from the menu and wait for its text.

    Args:
        page: A Playwright page showing the app.
        title_start: The beginning of the lesson's title.
    """
    page.get_by_role("button", name="Step", exact=True).wait_for()
    page.get_by_label("Lesson").click(force=True)
    page.get_by_role("option").filter(has_text=title_start).click()
    page.get_by_text(f"Lesson: {title_start}").wait_for()


def run_to(page, year: int, first: int = 2000) -> None:
    """Press *Run 5 years* until the app shows ``year``, waiting for each click's last year.

    Args:
        page: A Playwright page showing the app before its first year.
        year: The year to stop at: the scenario's last, or ``first`` plus a multiple of five, less one.
        first: The scenario's first year.
    """
    shown = first - 1
    while shown < year:
        page.get_by_role("button", name=f"Run {RUN_YEARS} years").click()
        shown = min(shown + RUN_YEARS, year)
        page.get_by_text(f"Year {shown} (").wait_for()


@contextlib.contextmanager
def serve_app() -> Iterator[str]:
    """``run.py app`` on a free port; stopped by its process id afterwards.

    Yields:
        The app's address.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "app", "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"run.py app exited with {proc.returncode}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"run.py app did not listen within {SERVER_START_S:.0f} s")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def report_screenshot() -> Path:
    """The top of the report comparing the budget-cut lesson with the classroom scenario, three seeds."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="nic-screenshots-") as tmp:
        folders = []
        for scenario in (REPORT_A, REPORT_B):
            folder = Path(tmp) / Path(scenario).stem
            for seed in REPORT_SEEDS:
                _run_py("run", scenario, "--seed", str(seed), "--out", str(folder / f"seed{seed}"),
                        "--db", f"sqlite:///{tmp}/results.db", "--quiet")
            folders.append(folder)
        html = Path(tmp) / "report.html"
        _run_py("report", str(folders[0]), str(folders[1]), "--out", str(html))
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(html.as_uri())
            path = IMAGES / "report.png"
            page.screenshot(path=str(path))
            browser.close()
    return path


def _run_py(*args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    sys.exit(main())
