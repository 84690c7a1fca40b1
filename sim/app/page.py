"""The classroom app: watch clusters form, collaborate, innovate and grow (``python run.py app``).

Mesa's usual shape (``agents.py``, ``model.py``, ``app.py``) with a Solara page of our own rather
than ``SolaraViz``: SolaraViz rebuilds a model from its keyword arguments, while this model is
built from a validated scenario, lessons swap the scenario and the controls together, sliders act
on a running model from the next year, and every year steps three worlds in lockstep (see
:mod:`sim.app.session`). The layout follows SolaraViz: controls in the sidebar, views beside.

Views: a map of Norway and the collaboration network of a chosen cluster (matplotlib PNG, in
tabs, so that only the one in view is drawn), five live charts (ECharts, drawn by the browser),
the lesson's explanation and an Info tab. Solara imports this module, so it stays importable
without a display; it imports nothing heavy that the model does not already need.

Laid out for classroom projectors from 1280x800 to 1920x1080: a narrow controls column instead
of Solara's sidebar (at least 400 px wide), chart titles and legends written by the page so that
they wrap rather than being cut off, the class seed in the app bar so that the whole class can
check it runs the same world, and nothing in the browser console or the server's terminal for a
teacher to worry about (see :func:`_quiet_server`).
"""

from __future__ import annotations

import html
import math
import time
import warnings
from collections.abc import Callable

import solara
import solara.lab
import solara.server.settings
from markdown_it import MarkdownIt

from sim.app.charts import LegendEntry, growth_chart, header, levels_chart, selection_chart, series_chart
from sim.app.controls import Control, groups
from sim.app.drawing import png
from sim.app.info import INFO
from sim.app.lessons import posterior_note
from sim.app.map import NorwayMap
from sim.app.network import cluster_choices, network_figure
from sim.app.session import Session
from sim.scenario.errors import ScenarioError

RUN_YEARS = 5  # the "Run" button simulates this many years at once
PLAY_PAUSE_S = 0.3  # pause between years while playing, so that a class can follow
CHART_STYLE = {"style": "height: 240px; width: 100%;"}
TITLE = "Norwegian Innovation Clusters: a classroom model"
# Fixed, so that a long lesson title cannot push the controls over the views; it scrolls on its own.
CONTROLS_STYLE = ("flex: 0 0 300px; width: 300px; position: sticky; top: 0; max-height: calc(100vh - 88px); "
                  "overflow-y: auto; padding-right: 8px")
VIEWS_STYLE = "flex: 1 1 600px; min-width: 0"  # min-width 0: wide content shrinks instead of scrolling the page
MAP_STYLE = "max-width: 460px; width: 100%"  # the map's natural width; narrower columns scale it down
COMPARED = ("members", "clusters")  # headline figures shown beside the shipped scenario's
SEED_STYLE = "font-size: 1.6em; font-weight: 700; letter-spacing: 0.02em"
SWATCH = {  # legend marks: a line, a dashed line, a shaded band
    "line": "display:inline-block; width:22px; height:0; border-top:3px solid {c}; vertical-align:middle",
    "dashed": "display:inline-block; width:22px; height:0; border-top:2px dashed {c}; vertical-align:middle",
    "band": "display:inline-block; width:22px; height:10px; background:{c}; opacity:0.3; vertical-align:middle",
}


def _quiet_server() -> None:
    """Configure Solara for a classroom: nothing in the terminal or over the charts but the app.

    Solara gives its session cookie ``SameSite=None`` so that an app can live in another site's
    iframe; browsers take that only over https, so over plain http to any host but ``localhost``
    (a class connecting to the teacher's address) Solara falls back to ``SameSite=Lax`` and warns
    on every page load (``solara/server/starlette.py``; widgetti/solara#806). The classroom app is
    opened directly, never embedded, so Lax is what it needs, and Solara has no setting to ask for
    it: this one warning is filtered. The "runs on Solara" banner would sit over the last chart.
    """
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https", category=UserWarning)
    solara.server.settings.theme.show_banner = False


_quiet_server()


@solara.component
def Page():
    """The whole app; Solara serves this component (``solara run sim.app.page``), one session per tab."""
    solara.Title(TITLE)
    session, problem = solara.use_memo(_new_session, [])
    if session is None:
        solara.Error(f"The lessons could not be loaded: {problem}")
    else:
        App(session)


@solara.component
def App(session: Session):
    """The app around one session: controls in the sidebar, the classroom and Info tabs beside.

    Args:
        session: The session (tests and the benchmark pass their own).
    """
    version = solara.use_reactive(session.version)
    message = solara.use_reactive("")

    def refresh() -> None:
        version.set(session.version)

    with solara.AppBar():
        solara.AppBarTitle(TITLE)
        ClassSeed(session.seed)
    with solara.Row(gap="16px", style="align-items: flex-start; flex-wrap: wrap"):
        with solara.Column(style=CONTROLS_STYLE):
            Controls(session, version.value, refresh, message)
        with solara.Column(style=VIEWS_STYLE), solara.lab.Tabs(lazy=True):
            with solara.lab.Tab("Classroom"):
                Classroom(session, version.value)
            with solara.lab.Tab("Info"):
                Prose(INFO)


@solara.component
def ClassSeed(seed: int):
    """The class seed, large in the app bar: every student whose bar shows it runs the same world."""
    solara.Text(f"Class seed {seed}", style=SEED_STYLE, classes=["nic-class-seed"])


def _new_session() -> tuple[Session | None, str]:
    try:
        return Session(), ""
    except (ScenarioError, KeyError) as exc:  # a broken lesson file: say so instead of crashing
        return None, str(exc)


@solara.component
def Controls(session: Session, version: int, refresh: Callable[[], None], message: solara.Reactive[str]):
    """Lesson, seed, step/run/play/reset and the sliders and switches.

    Args:
        session: The session.
        version: The session's version when rendered (re-renders the controls after changes).
        refresh: Tells the page that the session changed.
        message: An error to show (empty when there is none).
    """
    playing = solara.use_reactive(False)
    seed_problem = solara.use_reactive("")  # stays until a good seed is entered, whatever else is pressed

    def choose_seed(seed: int) -> None:
        try:
            session.set_seed(seed)
            seed_problem.set("")
        except ScenarioError as exc:
            seed_problem.set(f"{exc} (the run keeps seed {session.seed})")
        refresh()

    def act(action: Callable[[], object]) -> None:
        try:
            action()
            message.set("")
        except ScenarioError as exc:
            message.set(str(exc))
        refresh()

    def play() -> None:
        while playing.value and session.step(1):
            refresh()
            time.sleep(PLAY_PAUSE_S)
        playing.set(False)

    solara.lab.use_task(play, dependencies=[playing.value], prefer_threaded=True)
    titles = {lesson.title: lesson.key for lesson in session.lessons}
    solara.Select("Lesson", values=list(titles), value=session.lesson.title,
                  on_value=lambda title: act(lambda: session.choose_lesson(titles[title])))
    solara.InputInt("Seed", value=session.seed, on_value=choose_seed)
    if seed_problem.value:
        solara.Error(seed_problem.value)
    with solara.Row(gap="6px"):
        busy = playing.value or not session.running
        solara.Button("Step", on_click=lambda: act(lambda: session.step(1)), disabled=busy)
        solara.Button(f"Run {RUN_YEARS} years", on_click=lambda: act(lambda: session.step(RUN_YEARS)), disabled=busy)
    with solara.Row(gap="6px"):
        solara.Button("Pause" if playing.value else "Play", on_click=lambda: playing.set(not playing.value),
                      disabled=not session.running)
        solara.Button("Reset", on_click=lambda: act(session.reset), disabled=playing.value)
    first, last = session.scenario.scenario.start_year, session.scenario.scenario.end_year
    solara.Text(f"Year {session.year if session.year is not None else '-'} ({first}-{last})")
    if message.value:
        solara.Error(message.value)
    for group, controls in groups().items():
        with solara.Card(group, margin=0, style="margin-top: 8px"):
            for control in controls:
                # Value and availability as props: a control redraws when they change, not every year.
                ControlWidget(control, session.control_value(control.name),
                              bool(control.read(session.lesson_scenario)),
                              lambda name, value: act(lambda: session.set_control(name, value)))


@solara.component
def ControlWidget(control: Control, value: object, available: bool, on_value: Callable[[str, object], None]):
    """One slider or switch.

    Args:
        control: The control.
        value: Its value in the session.
        available: False for a switch whose feature the lesson lacks (it cannot be switched on).
        on_value: Called with the control's name and new value.
    """
    if control.kind == "switch":
        solara.Switch(label=control.label, value=bool(value), on_value=lambda v: on_value(control.name, v),
                      disabled=not available)
    else:
        # The label sits above the slider: beside it, it would leave the slider too short to use.
        solara.Text(f"{control.label}: {float(value):.4g}", style="font-size: 0.9em")
        solara.SliderFloat("", value=float(value), min=control.lo, max=control.hi, step=control.step,
                           on_value=lambda v: _slid(control, float(value), v, on_value), thumb_label=False)
    solara.Text(control.help, style="font-size: 0.75em; color: #666; display: block; margin-bottom: 6px")


def _slid(control: Control, value: float, new: float, on_value: Callable[[str, object], None]) -> None:
    """Pass a slider's new value on, unless the slider only moved the value onto its steps or range.

    The browser's slider does that by itself when it shows a value between its steps or outside its
    range, and reports it like a user's move (:meth:`sim.app.controls.Control.shown`).
    """
    if not math.isclose(new, control.shown(value), rel_tol=0.0, abs_tol=control.step * 1e-6):
        on_value(control.name, new)


@solara.component
def Classroom(session: Session, version: int):
    """Headline figures, the lesson, the map and network tabs and the charts.

    Args:
        session: The session.
        version: The session's version (redraws every view when it changes).
    """
    Headline(session, version)
    LessonText(session.lesson.title, session.lesson.text)
    # Map beside the charts: a third of the width on 1920 px screens (charts two abreast), five
    # twelfths on 1280-1900 px (charts one above the other), the full width below that.
    with solara.ColumnsResponsive(12, large=[5, 7], xlarge=[4, 8]):
        with solara.Column(style=MAP_STYLE), solara.lab.Tabs(lazy=True):
            with solara.lab.Tab("Map"):
                MapView(session, version)
            with solara.lab.Tab("Network"):
                NetworkView(session, version)
        Charts(session, version)


@solara.component
def LessonText(title: str, text: str):
    """The lesson's explanation; redrawn only when the lesson changes."""
    with solara.Details(summary=f"Lesson: {title}", expand=True):
        Prose(text)


@solara.component
def Prose(text: str):
    """Markdown rendered to HTML here rather than by ``solara.Markdown``.

    ``solara.Markdown`` loads KaTeX (for formulas) from Solara's CDN proxy when it is shown;
    ``solara-assets`` does not bundle KaTeX, so without internet the browser logs two 404 errors
    (widgetti/solara#147, #151). The lessons have no formulas, so plain HTML is all they need.

    Args:
        text: Markdown from the repository's own files (rendered unescaped, so never user input).
    """
    rendered = solara.use_memo(lambda: MarkdownIt().render(text), [text])
    solara.HTML(tag="div", unsafe_innerHTML=rendered, classes=["nic-prose"])


@solara.component
def Headline(session: Session, version: int):
    """The main world's figures at the end of the last simulated year (full-scale units).

    Also the median size of the firms that joined (in the year before they joined) beside that of
    the firms outside, measured in this run (the selection lesson asks the class to read it). Once
    the run differs from the classroom scenario as shipped, members and clusters show the shipped
    figures beside their own (the same seed: the difference is the lesson's or the controls').
    """
    yearly = session.yearly()
    if len(yearly) == 0:
        solara.Text("Nothing simulated yet: press Step or Run.")
        return
    row = yearly.iloc[-1]
    shipped = session.yearly("reference").iloc[-1] if session.reference_differs() else None

    def figure(column: str) -> str:
        text = f"{row[column]:,.0f}"
        return f"{text} (as shipped {shipped[column]:,.0f})" if shipped is not None and column in COMPARED else text

    figures = [("Year", f"{int(row['year'])}")] + [
        (label, figure(column)) for label, column in (
            ("Firms", "firms"), ("Members", "members"), ("Clusters", "clusters"), ("Collaboration ties", "ties"),
            ("Innovations", "innovations"), ("Employment", "employment"))]
    sizes = session.sizes()
    if sizes.joined:
        figures.append(("Median size, man-years", f"joiners {sizes.joiners:.1f}, others {sizes.others:.1f}"))
    with solara.Row(gap="24px", style="flex-wrap: wrap; row-gap: 8px", classes=["nic-headline"]):
        for label, text in figures:
            with solara.Column(gap="0px", style="text-align: center"):
                solara.Text(label, style="font-weight: 600")
                solara.Text(text)


@solara.component
def MapView(session: Session, version: int):
    """Norway with firms by county, ties between counties and clusters by level."""
    drawing = solara.use_memo(lambda: NorwayMap(session.worlds["main"]), [])
    solara.Image(solara.use_memo(lambda: drawing.png(session.worlds["main"]), [version]), width="100%")


@solara.component
def NetworkView(session: Session, version: int):
    """The collaboration network around one cluster, chosen from a menu."""
    model = session.worlds["main"]
    labels = {label: k for k, label in cluster_choices(model)}
    chosen = solara.use_reactive(next(iter(labels.values()), -1))
    positions = solara.use_ref({})
    k = chosen.value if chosen.value in labels.values() else next(iter(labels.values()), -1)

    def draw() -> bytes | None:
        if k < 0:
            return None
        fig, positions.current[k] = network_figure(model, k, positions.current.get(k))
        return png(fig)

    image = solara.use_memo(draw, [version, k])
    if image is None:
        solara.Text("This scenario has no cluster organisations.")
        return
    current = next(label for label, index in labels.items() if index == k)
    solara.Select("Cluster", values=list(labels), value=current, on_value=lambda label: chosen.set(labels[label]))
    solara.Image(image, width="100%")


@solara.component
def Charts(session: Session, version: int):
    """Selection vs treatment, member vs non-member growth, clusters by level, employment, innovations."""
    options = solara.use_memo(lambda: chart_options(session), [version])
    note = posterior_note(session.lesson.key)  # beside Selection vs treatment, in the selection lesson
    with solara.ColumnsResponsive(12, xlarge=6):
        for i, option in enumerate(options):
            Chart(option, note if i == 0 else "")


@solara.component
def Chart(option: dict, note: str = ""):
    """One chart: its title, subtitle and legend as text above the canvas, where they wrap; a note below it."""
    title, subtitle, entries = header(option)
    with solara.Column(gap="2px", classes=["nic-chart"]):
        solara.Text(title, style="font-weight: 600; text-align: center; display: block", classes=["nic-chart-title"])
        if subtitle:
            solara.Text(subtitle, style="font-size: 0.8em; color: #555; text-align: center; display: block")
        with solara.Row(gap="0px", justify="center", style="flex-wrap: wrap; font-size: 0.8em"):
            for entry in entries:
                LegendMark(entry)
        solara.FigureEcharts(option=option, attributes=CHART_STYLE, responsive=True)
        if note:
            solara.Text(note, style="font-size: 0.8em; color: #555; display: block", classes=["nic-chart-note"])


@solara.component
def LegendMark(entry: LegendEntry):
    """A legend entry: the series' mark and name."""
    mark = SWATCH[entry.kind].format(c=html.escape(entry.colour))
    solara.HTML(tag="span", unsafe_innerHTML=f'<span style="{mark}"></span> {html.escape(entry.name)}',
                classes=["nic-legend-entry"], style="margin: 0 8px; white-space: nowrap")


def chart_options(session: Session) -> list[dict]:
    """The five live charts of a session's main world (and, dashed, the reference world).

    Args:
        session: The session.

    Returns:
        ECharts options, in display order.
    """
    meta = session.scenario.scenario
    years = range(meta.start_year, meta.end_year + 1)
    yearly, events = session.yearly(), session.events
    reference = session.yearly("reference") if session.reference_differs() else None
    return [
        selection_chart(session.effects_table(), years, events, session.spread_tables()),
        growth_chart(yearly, years, events),
        levels_chart(yearly, reference, years, events),
        series_chart("Employment (1000 man-years)", "employment", yearly, reference, years, events),
        series_chart("Innovating firms (1000 a year)", "innovations", yearly, reference, years, events),
    ]
