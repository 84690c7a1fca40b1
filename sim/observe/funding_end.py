"""When the money stops: members of clusters whose funding ended against members of continuing clusters.

A cluster leaves the programme when its contract ends without an upgrade, when an evaluation
finds it too small, or when the budget is cut (the 2022 cut); its members then leave it but stay
in the register. If membership works through the cluster organisation's services, their growth
should fall back against that of members whose cluster goes on; if members grew faster only
because fast growers joined, it should not.

For each cluster in ``clusters.csv`` that is in the programme in year E and not in E+1 (E before
the table's last year), its members in E are the *ended* firms; members in E of clusters that go
on into E+1 are the *continuing* firms. Each ended firm's mean yearly growth over E+1..E+w
(``after``, w = ``window_years``) is compared with the mean of the continuing firms of the same
year E, and the gap averages these over the ended firms. The same comparison over E-w+1..E
(``before``, while both were funded) is the placebo: the clusters that end are not a random draw
(an evaluation ends the least mobilised), and a gap already there before the end is not the end's.
Both periods count the same firms, those open from E-w to E+w.

Intervals resample the ended clusters, not firms: the end happens to a cluster, so its members'
fortunes move together. The continuing firms' means are held fixed (there are many more of them).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.engine.randomness import generator
from sim.observe.bootstrap import CI_LEVEL
from sim.observe.panel import PanelIndex, growth_rates, winsor_bounds
from sim.scenario.schema import Measurement

COLUMNS = ("metric", "period", "gap_pp", "ci_low", "ci_high", "ended_growth_pct", "continuing_growth_pct",
           "n_ended", "n_continuing", "n_clusters")
PERIODS = ("before", "after")


def funding_end(index: PanelIndex, clusters: pd.DataFrame, metrics: dict[str, str], settings: Measurement,
                seed: int) -> pd.DataFrame:
    """Growth of ended clusters' members against continuing clusters', before and after the end.

    Args:
        index: The indexed firm-year panel.
        clusters: The cluster-year table (``cluster_id, year``: the years each cluster was in the programme).
        metrics: Effect metric -> panel column.
        settings: The scenario's ``[measurement]`` table (``window_years``, ``winsorize``, ``bootstrap``).
        seed: The run's seed (bootstrap draws).

    Returns:
        One row per metric and period (:data:`COLUMNS`); NaN gaps where no cluster ended in time.
    """
    firm, end, event, n_events = _members_at_ends(index, clusters)
    window = settings.window_years
    draws = None
    if settings.bootstrap and n_events:
        rng = generator(seed, "measurement.funding_end", 0)
        draws = rng.integers(0, n_events, size=(settings.bootstrap, n_events))
    path = index.path_rows(firm, end - window, 2 * window + 1)  # one lookup for every metric
    rows = []
    for metric, column in metrics.items():
        growth = growth_rates(index.take(column, path))
        lo, hi = winsor_bounds(growth, settings.winsorize)
        growth = np.clip(growth, lo, hi)
        # Both periods on the same firms, open from E-w to E+w, so that the placebo speaks for the gap.
        both = np.isfinite(growth).all(axis=1)
        for period, part in zip(PERIODS, (growth[:, :window], growth[:, window:])):
            mean = np.where(both, part.mean(axis=1), np.nan)
            rows.append({"metric": metric, "period": period} | _gap(mean, end, event, n_events, draws))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _members_at_ends(index: PanelIndex, clusters: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Members in each year E of a cluster that ended after E or went on into E+1.

    Returns:
        ``firm``, ``end`` (E) and ``event`` (the number of the ended cluster-year, -1 for a continuing
        firm), one entry per such member-year, and the number of ended cluster-years.
    """
    last = int(clusters["year"].max()) if len(clusters) else index.first_year
    cluster_id, year = clusters["cluster_id"].to_numpy(np.int64), clusters["year"].to_numpy(np.int64)
    in_programme = pd.MultiIndex.from_arrays([cluster_id, year])
    goes_on = in_programme.get_indexer(pd.MultiIndex.from_arrays([cluster_id, year + 1])) >= 0
    stops = pd.MultiIndex.from_arrays([cluster_id[~goes_on & (year < last)], year[~goes_on & (year < last)]])
    member = index.panel["member"].to_numpy(bool) & index.alive
    firm, year = index.firm[member].astype(np.int64), index.year[member].astype(np.int64)
    cluster = index.panel["cluster_id"].to_numpy()[member].astype(np.int64)
    event = stops.get_indexer(pd.MultiIndex.from_arrays([cluster, year]))
    on = (in_programme.get_indexer(pd.MultiIndex.from_arrays([cluster, year + 1])) >= 0) & (year < last)
    keep = (event >= 0) | on
    return firm[keep], year[keep], event[keep], len(stops)


def _gap(mean: np.ndarray, end: np.ndarray, event: np.ndarray, n_events: int,
         draws: np.ndarray | None) -> dict[str, float]:
    """Ended firms' growth minus the continuing firms' of the same end year, with a cluster bootstrap."""
    ok, ended = np.isfinite(mean), event >= 0
    years = np.unique(end)
    slot = np.searchsorted(years, end)
    continuing = ok & ~ended
    cont_n = np.bincount(slot[continuing], minlength=len(years))
    cont_sum = np.bincount(slot[continuing], weights=mean[continuing], minlength=len(years))
    cont_mean = np.divide(cont_sum, cont_n, out=np.full(len(years), np.nan), where=cont_n > 0)
    use = ok & ended & (cont_n[slot] > 0)
    if not use.any():
        return {"gap_pp": np.nan, "ci_low": np.nan, "ci_high": np.nan, "ended_growth_pct": np.nan,
                "continuing_growth_pct": np.nan, "n_ended": 0, "n_continuing": 0, "n_clusters": 0}
    diff = mean[use] - cont_mean[slot[use]]
    total = np.bincount(event[use], weights=diff, minlength=n_events)
    count = np.bincount(event[use], minlength=n_events)
    out = {"gap_pp": 100.0 * diff.mean(), "ci_low": np.nan, "ci_high": np.nan,
           "ended_growth_pct": 100.0 * mean[use].mean(), "continuing_growth_pct": 100.0 * cont_mean[slot[use]].mean(),
           "n_ended": int(use.sum()), "n_continuing": int(cont_n[np.unique(slot[use])].sum()),
           "n_clusters": int(np.count_nonzero(count))}
    if draws is not None and out["n_clusters"] > 1:  # one cluster has no spread to resample
        sums, ns = total[draws].sum(axis=1), count[draws].sum(axis=1)
        means = 100.0 * sums[ns > 0] / ns[ns > 0]
        tail = (1.0 - CI_LEVEL) / 2.0
        out["ci_low"], out["ci_high"] = (float(q) for q in np.quantile(means, [tail, 1.0 - tail]))
    return out
