"""The classroom app without a browser: lessons, controls, the three worlds and the Solara views.

Views are rendered with Solara's test support (``solara.render`` into widgets, clicked and read
in Python), as the Solara documentation recommends for everything but front-end code.
"""

from __future__ import annotations

import socket

import ipyvuetify as v
import ipywidgets
import numpy as np
import pandas as pd
import pytest

solara = pytest.importorskip("solara", reason="the app extra is not installed: pip install -e '.[app]'")

from solara.components.echarts import EchartsWidget  # noqa: E402

from sim.app import page as app  # noqa: E402
from sim.app.charts import header, selection_chart, series_chart  # noqa: E402
from sim.app.controls import BY_NAME, overrides  # noqa: E402
from sim.app.lessons import load_lessons  # noqa: E402
from sim.app.session import SPREAD_SEEDS, Session  # noqa: E402
from sim.cli.main import main  # noqa: E402
from sim.scenario.errors import ScenarioError  # noqa: E402
from sim.scenario.params import LEVELS  # noqa: E402

SELECTION = "3_selection_or_treatment"
FACILITATION = "2_facilitation_and_money"


@pytest.fixture(scope="module")
def lessons():
    return load_lessons()


@pytest.fixture
def rendered(lessons):
    """The app around a fresh session, rendered into widgets; closed after the test."""
    session = Session(lessons=lessons)

    @solara.component
    def Root():
        with solara.AppLayout():
            app.App(session)

    _, rc = solara.render(Root(), handle_error=False)
    yield session, rc
    rc.close()


def _click(rc, label: str) -> None:
    rc.find(v.Btn, children=[label]).widget.click()


def _texts(rc) -> list[str]:
    """Every text in the rendered widget tree (text children, and Markdown rendered to HTML)."""
    found, stack = [], [rc.container]
    while stack:
        widget = stack.pop()
        for child in getattr(widget, "children", None) or []:
            (found if isinstance(child, str) else stack).append(child)
        found += [getattr(widget, "value", None)] if isinstance(getattr(widget, "value", None), str) else []
    return found


def _chart(rc, title_start: str) -> dict:
    options = [w.option for w in rc.find(EchartsWidget).widgets]
    return next(o for o in options if o["title"]["text"].startswith(title_start))


# --- lessons and controls -----------------------------------------------------------------------

def test_every_lesson_extends_the_classroom_and_explains_itself(lessons):
    assert [lesson.key for lesson in lessons][:1] == ["classroom"]
    assert len(lessons) >= 5
    for lesson in lessons[1:]:
        assert lesson.title.endswith("?"), lesson.title
        assert lesson.text.count("\n\n") >= 2, f"{lesson.key}: a few paragraphs"
        scenario = lesson.scenario()
        assert scenario.population.scale == 0.02 and len(scenario.clusters) == 12


def test_controls_show_the_lesson_values(lessons):
    assert Session(SELECTION, lessons=lessons).control_value("membership.potential_weight") == 60.0
    facilitation = Session(FACILITATION, lessons=lessons)
    assert facilitation.control_value("facilitation") == 0.0
    assert facilitation.control_value("cluster_size") == 200.0
    assert facilitation.control_value("oil_shock") is True


def test_level_control_scales_every_level_from_the_standard_values():
    values = overrides({"facilitation": 50.0})
    assert values == {"levels.arena.facilitation_ties": 0.5, "levels.arena_pro.facilitation_ties": 0.6,
                      "levels.nce.facilitation_ties": 0.75, "levels.gce.facilitation_ties": 1.0}


def test_switching_off_the_oil_shock_removes_it(lessons):
    assert BY_NAME["oil_shock"].write(False) == {"shocks": []}
    assert lessons[0].scenario(BY_NAME["oil_shock"].write(False)).shocks == []


# --- the session's three worlds -----------------------------------------------------------------

def test_a_moved_control_acts_on_the_running_worlds_from_the_next_year(lessons):
    session = Session(lessons=lessons)
    session.step(3)
    session.set_control("network.geo_scale_km", 25.0)
    main, twin, reference = (session.worlds[w] for w in ("main", "twin", "reference"))
    assert main.spec.network.geo_scale_km == 25.0
    assert reference.spec.network.geo_scale_km == 150.0
    assert session.events == [(2002, BY_NAME["network.geo_scale_km"].label)]
    assert main.year == 2003  # the next step simulates 2003 with the new reach
    session.step()
    assert twin.spec.network.geo_scale_km == 25.0  # the twin runs each year what its world ran


def test_twin_world_gives_members_none_of_the_services(lessons):
    session = Session(lessons=lessons)
    session.step()
    twin = session.worlds["twin"].spec
    for lv in LEVELS:
        assert twin.levels.get(lv).facilitation_ties == twin.levels.get(lv).market_access_growth == 0.0
    assert twin.network.member_institution_boost == twin.network.shared_member_retention == 0.0


def test_raw_gap_exceeds_the_true_effect_when_growing_firms_join(lessons):
    session = Session(SELECTION, lessons=lessons)
    session.step(31)
    effects = session.effects_table().dropna()
    assert effects["year"].iloc[-1] == 2030 and not session.running
    # A handful of members in the first years: one member's luck can tip a year's true effect.
    assert (effects["true_effect_pp"] > 0).mean() >= 0.9 and effects["true_effect_pp"].mean() > 0.5
    # The calibrated classroom: raw gap about 17 pp a year against a true effect of about 12 at this lesson's weight.
    assert effects["raw_gap_pp"].mean() > effects["true_effect_pp"].mean() + 2.0


def test_spread_runs_the_next_seeds_with_the_same_lesson_and_controls(lessons):
    session = Session(SELECTION, seed=2**63 - 1, lessons=lessons)
    assert session.spread_seeds == list(range(SPREAD_SEEDS))  # wraps around at the largest seed
    session.step(2)
    session.set_control("membership.potential_weight", 10.0)
    assert all(pair.main.spec.membership.potential_weight == 10.0 for pair in session.spread)
    session.step(1)
    assert [len(table) for table in session.spread_tables()] == [3] * SPREAD_SEEDS
    alone = Session(SELECTION, seed=0, lessons=lessons)
    alone.step(3)
    assert alone.yearly()["employment"].tolist() != session.yearly()["employment"].tolist()


def test_joiners_sizes_are_measured_in_the_year_before_they_join(lessons):
    session = Session(SELECTION, lessons=lessons)
    session.step(31)
    sizes = session.sizes()
    assert sizes.joined >= 20 and sizes.joiners > 0 and sizes.others > 0
    members = session.worlds["main"].firms
    assert sizes.joined >= int(members.member[: members.n].sum()) // 2  # leavers and the closed count too


def test_same_seed_gives_the_same_run_and_another_seed_another(lessons):
    runs = []
    for seed in (4, 4, 5):
        session = Session(seed=seed, lessons=lessons)
        session.step(4)
        runs.append(session.yearly()["employment"].to_numpy())
    assert np.array_equal(runs[0], runs[1]) and not np.array_equal(runs[0], runs[2])


def test_an_invalid_control_value_is_refused_in_one_line_and_changes_nothing(lessons):
    session = Session(lessons=lessons)
    with pytest.raises(ScenarioError, match=r"network\.geo_scale_km: must be 1-5000, got -5"):
        session.set_control("network.geo_scale_km", -5.0)
    assert session.moved == {} and session.scenario.network.geo_scale_km == 150.0


@pytest.mark.parametrize("seed", [-1, 2**63, "x"])
def test_an_invalid_seed_is_refused_in_one_line_and_changes_nothing(lessons, seed):
    session = Session(seed=3, lessons=lessons)
    session.step(2)
    with pytest.raises(ScenarioError, match=r"^Seed: must be an integer from 0 to 9223372036854775807, got "):
        session.set_seed(seed)
    assert session.seed == 3 and session.year == 2001
    session.reset()
    assert session.seed == 3 and session.year is None
    with pytest.raises(ScenarioError, match=r"^Seed: must be an integer"):
        Session(seed=-1, lessons=lessons)


# --- charts --------------------------------------------------------------------------------------

def test_selection_chart_states_the_selection_share():
    effects = pd.DataFrame({"year": [2001, 2002], "raw_gap_pp": [3.0, 5.0], "true_effect_pp": [1.0, 1.0]})
    option = selection_chart(effects, range(2000, 2004), [])
    assert option["title"]["text"] == "Raw gap +4.0, true effect +1.0 pp: 75% selection"
    assert option["series"][0]["data"] == [None, 3.0, 4.0, None]


def test_selection_chart_leaves_out_years_with_too_few_members():
    effects = pd.DataFrame({"year": [2001, 2002, 2003], "raw_gap_pp": [90.0, 5.0, 3.0],
                            "true_effect_pp": [9.0, 1.0, 1.0], "members": [1, 5, 6]})
    option = selection_chart(effects, range(2000, 2004), [])
    assert option["series"][0]["data"] == [None, None, 5.0, 4.0]


def test_selection_chart_draws_the_spread_of_seeds_as_bands_with_one_legend_entry_each():
    def table(raw: list[float]) -> pd.DataFrame:
        return pd.DataFrame({"year": [2001, 2002], "raw_gap_pp": raw, "true_effect_pp": [1.0, 1.0]})

    option = selection_chart(table([4.0, 4.0]), range(2000, 2003), [], [table([2.0, 2.0]), table([8.0, 6.0])])
    low, spread = (s for s in option["series"] if s["name"].startswith("Raw gap, 3 seeds"))
    assert low["data"] == [None, 2.0, 2.0] and spread["data"] == [None, 6.0, 5.0]
    assert option["title"]["subtext"] == "Over 3 seeds: raw gap +2.0 to +7.0, true effect +1.0 to +1.0 pp"
    title, subtitle, entries = header(option)
    assert title.endswith("75% selection") and subtitle == option["title"]["subtext"]
    assert [(e.name, e.kind) for e in entries] == [
        ("Raw gap: members vs others", "line"), ("True effect: members vs their twins", "line"),
        ("Raw gap, 3 seeds (lowest to highest)", "band"), ("True effect, 3 seeds (lowest to highest)", "band")]


def test_charts_leave_titles_and_legends_to_the_page():
    yearly = pd.DataFrame({"year": [2000], "employment": [2_000_000.0]})
    option = series_chart("Employment", "employment", yearly, yearly, range(2000, 2002), [])
    assert option["title"]["show"] is False and option["legend"] == {"show": False}
    assert [(e.name, e.kind) for e in header(option)[2]] == [("This run", "line"), ("As shipped", "dashed")]


def test_series_chart_draws_the_reference_dashed_and_marks_control_changes():
    yearly = pd.DataFrame({"year": [2000, 2001], "employment": [2_000_000.0, 2_100_000.0]})
    reference = yearly.assign(employment=[2_000_000.0, 2_050_000.0])
    option = series_chart("Employment", "employment", yearly, reference, range(2000, 2003), [(2000, "x")])
    mine, ref = option["series"]
    assert mine["data"] == [2000.0, 2100.0, None] and ref["data"] == [2000.0, 2050.0, None]
    assert ref["lineStyle"]["type"] == "dashed"
    assert mine["markLine"]["data"] == [{"xAxis": "2001", "name": "x"}]


# --- the Solara views ----------------------------------------------------------------------------

def test_step_simulates_one_year_and_redraws_the_charts(rendered):
    session, rc = rendered
    _click(rc, "Step")
    employment = session.yearly()["employment"].iloc[0] / 1e3
    assert "Year 2000 (2000-2030)" in _texts(rc)
    data = _chart(rc, "Employment")["series"][0]["data"]
    assert data[0] == pytest.approx(employment, rel=1e-3) and data[1] is None


def test_run_simulates_five_years_and_reset_starts_again(rendered):
    session, rc = rendered
    _click(rc, "Run 5 years")
    assert session.year == 2004 and "Year 2004 (2000-2030)" in _texts(rc)
    assert sum(x is not None for x in _chart(rc, "Cluster organisations")["series"][0]["data"]) == 5
    _click(rc, "Reset")
    assert session.year is None and "Year - (2000-2030)" in _texts(rc)


def _enter_seed(rc, text: str) -> None:
    field = rc.find(v.TextField, label="Seed").widget
    field.v_model = text
    field.fire_event("focusout", None)  # the input hands its value over when it loses focus


def _alerts(rc) -> list[str]:
    return [" ".join(map(str, w.children)) for w in rc.find(v.Alert).widgets]


def test_a_negative_seed_then_reset_shows_a_message_and_keeps_the_page(rendered):
    session, rc = rendered
    _click(rc, "Step")
    _enter_seed(rc, "-1")
    _click(rc, "Reset")  # used to replace the page with a traceback
    expected = "Seed: must be an integer from 0 to 9223372036854775807, got -1 (the run keeps seed 0)"
    assert _alerts(rc) == [expected]
    assert session.seed == 0 and session.year is None and "Year - (2000-2030)" in _texts(rc)
    _click(rc, "Step")
    assert session.year == 2000 and _alerts(rc) == [expected]
    _enter_seed(rc, str(2**63))
    assert _alerts(rc) == [expected.replace("got -1", f"got {2**63}")]
    _enter_seed(rc, "7")
    assert session.seed == 7 and session.year is None and _alerts(rc) == []


def test_moving_a_slider_changes_the_scenario_and_its_label(rendered):
    session, rc = rendered
    slider = rc.find(v.Slider).widgets[2]  # Reach of collaboration (km)
    slider.v_model = 400.0
    assert session.scenario.network.geo_scale_km == 400.0
    assert "Reach of collaboration (km): 400" in _texts(rc)


def test_the_class_seed_is_written_large_for_the_app_bar():
    # The test renderer leaves the app bar out; the browser test checks it there.
    _, rc = solara.render(app.ClassSeed(7), handle_error=False)
    (text,) = rc.find(v.Html, class_="nic-class-seed").widgets
    assert text.children == ["Class seed 7"] and "font-size: 1.6em" in text.style_
    rc.close()


def test_lesson_texts_are_html_made_here_so_that_the_browser_loads_no_katex(rendered):
    _, rc = rendered
    select = rc.find(v.Select, label="Lesson").widget
    select.v_model = next(title for title in select.items if title.startswith("Do clusters make firms grow"))
    html = [w.unsafe_innerHTML for w in rc.find(solara.widgets.HTML).widgets]
    assert any("<strong>twin world</strong>" in text for text in html)
    templates = [str(getattr(w, "template", "") or "") for w in _widgets(rc)]
    assert not any("katex" in t.lower() for t in templates)  # solara.Markdown's template loads KaTeX


def _widgets(rc) -> list:
    found, stack = [], [rc.container]
    while stack:
        widget = stack.pop()
        found.append(widget)
        stack += [c for c in getattr(widget, "children", None) or [] if not isinstance(c, str)]
    return found


def test_choosing_a_lesson_shows_its_text_and_its_control_values(rendered):
    session, rc = rendered
    select = rc.find(v.Select, label="Lesson").widget
    select.v_model = next(title for title in select.items if title.startswith("Do clusters make firms grow"))
    assert session.lesson.key == SELECTION
    assert rc.find(v.Slider).widgets[1].v_model == 60.0
    assert f"Lesson: {session.lesson.title}" in _texts(rc)


def test_map_is_drawn_as_a_png_of_norway(rendered):
    _, rc = rendered
    _click(rc, "Step")
    (image,) = rc.find(ipywidgets.Image).widgets  # the map; the network tab is not drawn until opened
    png = bytes(image.value)
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


# --- the command ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "expected"), [
    (["--port", "0"], "error: argument --port: must be 1-65535, got 0"),
    (["--port", "http"], "error: argument --port: must be a whole number 1-65535, got 'http'"),
    (["--host", "no such host"], "error: --host: unknown address 'no such host'"),
])
def test_app_command_refuses_bad_input_in_one_line(args, expected, capsys):
    assert _exit_status(["app", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(expected) and err.count("\n") == 1


def test_app_command_refuses_a_port_in_use_in_one_line(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert _exit_status(["app", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --port: {port} on 127.0.0.1 is not free") and err.count("\n") == 1


def _exit_status(argv: list[str]) -> int:
    """Run ``run.py`` in this process (argparse leaves by SystemExit on usage errors)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code)
