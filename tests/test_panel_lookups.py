"""The measurement's shortcuts give what the plain lookups give.

The panel index answers "which firms were open in year t" by year blocks and flags by firm
(:meth:`sim.observe.panel.PanelIndex.open_firms`), and the register writes its panel into buffers
made for the whole run (:meth:`sim.observe.register.Register.firms`): both must agree with the
row-by-row lookup and with the yearly pieces concatenated, on panels with and without gaps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.observe.panel import PanelIndex
from sim.observe.register import PANEL_DTYPES, Register


def _panel(gap: bool) -> pd.DataFrame:
    """A small register panel by year and firm; with ``gap``, one firm misses a year."""
    rng = np.random.default_rng(3)
    rows = [(f, y, bool(rng.random() < 0.9)) for y in range(2000, 2008) for f in range(40)
            if not (f % 7 == 0 and y < 2000 + f % 5) and not (gap and f == 3 and y == 2004)]
    return pd.DataFrame(rows, columns=["firm_id", "year", "alive"])


def test_open_firms_and_year_blocks_agree_with_the_row_lookup():
    for gap in (False, True):
        index = PanelIndex(_panel(gap))
        assert (index.by_firm is None) == gap
        firms = np.arange(index.stride)
        for year in range(1998, 2010):
            assert (index.open_firms(year) == (index.rows(firms, year) >= 0)).all()
            block = index.years_block(year, year)
            assert (index.year[block] == year).all() and np.sum(index.year == year) == block.stop - block.start
        assert index.open_in([2003, 2001]).tolist() == np.flatnonzero(
            np.isin(index.year, [2001, 2003]) & index.alive).tolist()


def test_the_register_panel_is_the_yearly_pieces_concatenated_even_when_its_buffers_grow():
    register, rng, years = Register(keep_panel=True), np.random.default_rng(5), []
    for _ in range(12):
        n = int(rng.integers(0, 60))
        years.append({k: rng.integers(0, 3, n).astype(dtype) for k, dtype in PANEL_DTYPES.items()})
        register._append_panel(years[-1], years_left=1)  # too little room: the buffers grow
    panel = register.firms(["a", "b", "c"], ["x", "y", "z"])
    for column in PANEL_DTYPES:
        values = panel[column].cat.codes if column in ("region", "sector") else panel[column]
        assert values.to_numpy().tolist() == np.concatenate([y[column] for y in years]).tolist()
    assert Register(keep_panel=True).firms(["a"], ["x"]).empty
