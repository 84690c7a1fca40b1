"""The open call's cut-off: a regression discontinuity of admitted against rejected applicant cells.

The operator scores every applicant of an open call and admits the best (7.1 (c) of docs/ODD.md):
whether a county-sector cell just above the cut-off score gets a cluster, and one just below does not,
is close to chance, so the cells near the cut-off are a natural experiment that selection cannot bias.
Its outcome is what admission did to the cell's firms, members or not, over the years after the
call (an intention-to-treat effect of admission, not of membership): the cluster has to recruit,
a rejected cell may apply again and win a later call, and a cell may host a cluster already.

:func:`call_applicants` tabulates the programme's record of every call (``call_applicants.csv``).
:func:`call_discontinuity` estimates the jump at the cut-off (``call_discontinuity.csv``):

1. **Calls.** Those with a cut-off (someone admitted and someone rejected on score) whose years
   ``t-w-1 .. t+w-1`` are in the register (``w`` = ``window_years``). The running variable is the
   applicant's ``distance`` to its call's cut-off (score minus cut-off; the scores are sums of
   criteria standardised within the call, so distances compare across calls).
2. **Outcome.** The firms open in the cell at the end of the year before the call (t-1) and open
   through t+w-1; each firm's mean yearly log growth ``100 · Δlog x`` over the w years after the call
   (``after``: t-1 to t+w-1), and, as a placebo, over the w years before it (``before``: t-w-1 to t-1,
   when no admission could have acted yet), winsorised at the ``winsorize`` quantiles of these rates;
   the cell's outcome is the mean over its firms. The first stage (``metric`` = ``joined``) is the
   share of the same firms, in %, that joined a cluster in the period (not a member at its start, a
   member at its end): the growth jump divided by its jump is the effect per joiner, if admission
   works only through the firms that join.
3. **Estimators.** ``local_linear``: a line on each side of the cut-off, fitted by weighted least
   squares with a triangular kernel over applicants within the bandwidth (:data:`BANDWIDTH_SD`
   standard deviations of the applicants' scores); the estimate is the jump between the lines at the
   cut-off. ``nearest_applicants``: in each call the :data:`NEAREST` lowest-scoring admitted against
   the :data:`NEAREST` highest-scoring rejected applicants, compared within the call (call fixed
   effects) after one common linear adjustment for the distance to the cut-off: the applicants
   closest to the line, whatever the bandwidth (in the spirit of a local randomisation reading;
   Cattaneo, Frandsen and Titiunik 2015).
4. **Intervals.** Standard errors clustered by county-sector cell (a cell that applies to several
   calls brings the same firms each time), with the small-sample correction G/(G-1)·(N-1)/(N-k), and
   t intervals with G-1 degrees of freedom: with a few dozen cells near the cut-off the intervals are
   wide, and they are reported as they are. With fewer than :data:`MIN_SIDE` applicants on either side
   or fewer than three cells, the row holds NaN and its counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import stdtrit

from sim.observe.bootstrap import CI_LEVEL
from sim.observe.columns import CALL_APPLICANT_COLUMNS
from sim.observe.panel import PanelIndex, winsor_bounds
from sim.scenario.schema import Measurement
from sim.submodels.programme import CRITERIA, Call

ESTIMATORS = ("local_linear", "nearest_applicants")
#: The first stage: the share of the cell's firms that joined a cluster in the period (``metric`` of its rows).
FIRST_STAGE = "joined"
PERIODS = ("before", "after")
COLUMNS = ("metric", "estimator", "period", "gap_pp", "std_error", "ci_low", "ci_high", "n_cells", "n_admitted",
           "n_rejected", "n_firms", "n_calls", "n_county_sectors", "bandwidth")
#: Bandwidth of the local linear fit, in standard deviations of the applicants' scores.
BANDWIDTH_SD = 1.0
#: Applicants on each side of the cut-off in each call for ``nearest_applicants``.
NEAREST = 2
#: Applicants needed on each side of the cut-off for an estimate.
MIN_SIDE = 3
_APPLICANT_TYPES = {"year": "int64", "region": "object", "sector": "object", "score": "float64", "rank": "int64",
                    "cutoff_score": "float64", "distance": "float64", "admitted": "bool", "cluster_id": "int64",
                    **dict.fromkeys(CRITERIA, "float64")}


def call_applicants(calls: list[Call], region_names: list[str], sector_names: list[str]) -> pd.DataFrame:
    """Every applicant of every open call (``call_applicants.csv``), best first within each call.

    The ``cutoff_score`` lies halfway between the last admitted applicant's score and the first rejected
    one's, so ``distance = score - cutoff_score`` is positive for the admitted and negative for the
    rejected. A call that admitted everyone or no one has no cut-off (NaN): there no applicant was let
    in, or kept out, by its score.

    Args:
        calls: The programme's record of its calls (``m.calls``, :class:`sim.submodels.programme.Call`).
        region_names: County names by code.
        sector_names: Sector names by code.

    Returns:
        One row per applicant and call (:data:`~sim.observe.columns.CALL_APPLICANT_COLUMNS`).
    """
    if not calls:
        return pd.DataFrame({c: pd.Series(dtype=_APPLICANT_TYPES[c]) for c in CALL_APPLICANT_COLUMNS})
    # Each call's rows in their order, gathered column by column: one table at the end, not one a call.
    parts = [_call_columns(call) for call in calls]
    columns = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
    region, sector = np.divmod(columns.pop("cell"), len(sector_names))
    columns["region"] = np.array(region_names, dtype=object)[region]
    columns["sector"] = np.array(sector_names, dtype=object)[sector]
    return pd.DataFrame({name: columns[name] for name in CALL_APPLICANT_COLUMNS})


def _call_columns(call: Call) -> dict[str, np.ndarray]:
    """One call's applicants, ranked best first and the unscored after them in the order they applied."""
    scored = np.flatnonzero(call.rank > 0)
    order = scored[np.argsort(call.rank[scored])]
    admitted = call.admitted[order]
    cutoff = np.nan
    if admitted.any() and not admitted.all():
        last = np.flatnonzero(admitted)[-1]
        cutoff = 0.5 * (call.score[order[last]] + call.score[order[last + 1]])
    rows = np.concatenate([order, np.setdiff1d(np.arange(len(call.cells)), order)])
    score = call.score[rows]
    return {"year": np.full(len(rows), call.year, dtype=np.int64), "cell": call.cells[rows],
            **{name: call.criteria[rows, i] for i, name in enumerate(CRITERIA)},
            "score": score, "rank": call.rank[rows], "cutoff_score": np.full(len(rows), cutoff),
            "distance": score - cutoff, "admitted": call.admitted[rows], "cluster_id": call.cluster_id[rows]}


def call_discontinuity(index: PanelIndex, applicants: pd.DataFrame, metrics: dict[str, str],
                       settings: Measurement) -> pd.DataFrame:
    """The jump in the growth of applicant cells' firms at the call's cut-off (``call_discontinuity.csv``).

    Args:
        index: The indexed firm-year panel (``region``, ``sector`` and the metric columns).
        applicants: :func:`call_applicants`.
        metrics: Effect metric -> panel column.
        settings: The scenario's ``[measurement]`` table (``window_years``, ``winsorize``).

    Returns:
        One row per metric, estimator and period (:data:`COLUMNS`), in log points × 100 a year; NaN
        estimates with their counts where too few applicants lie near a cut-off.
    """
    window = settings.window_years
    year = applicants["year"].to_numpy(np.int64)
    usable = (np.isfinite(applicants["distance"].to_numpy(np.float64)) & (year - window - 1 >= index.first_year)
              & (year + window - 1 <= index.last_year))
    apps = applicants[usable].reset_index(drop=True)
    bandwidth = BANDWIDTH_SD * float(apps["score"].std(ddof=0)) if len(apps) else np.nan
    selected = {"local_linear": (apps["distance"].abs() < bandwidth).to_numpy(), "nearest_applicants": _nearest(apps)}
    needed = np.flatnonzero(selected["local_linear"] | selected["nearest_applicants"])
    app, firm = _cell_firms(index, apps.iloc[needed])
    app = needed[app]
    # Each firm's register rows from t-w-1 to t+w-1, looked up once for every metric.
    start = apps["year"].to_numpy(np.int64)[app] - window - 1
    path = index.path_rows(firm, start, 2 * window + 1)
    per_firm = {metric: _firm_growth(index, path, column, settings) for metric, column in metrics.items()}
    per_firm[FIRST_STAGE] = _firm_joined(index, path, window)
    design = _Applicants(apps["admitted"].to_numpy(bool), apps["distance"].to_numpy(np.float64),
                         pd.factorize(apps["year"])[0], pd.factorize(apps["region"].astype(str) + "/"
                                                                     + apps["sector"].astype(str))[0])
    rows = []
    for metric, values in per_firm.items():
        outcome, n_firms = _by_cell(app, values, len(apps))
        for estimator in ESTIMATORS:
            use = selected[estimator] & (n_firms > 0)
            for period in PERIODS:
                fit = _fit(estimator, design.subset(use), outcome[period][use], bandwidth)
                rows.append({"metric": metric, "estimator": estimator, "period": period} | fit
                            | {"n_firms": int(n_firms[use].sum()),
                               "bandwidth": bandwidth if estimator == "local_linear" else np.nan})
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _nearest(apps: pd.DataFrame) -> np.ndarray:
    """The :data:`NEAREST` lowest-ranked admitted and highest-ranked rejected applicants of each call."""
    admitted = apps["admitted"].to_numpy(bool)
    rank = apps["rank"].to_numpy(np.int64)
    last_in = apps.assign(r=np.where(admitted, rank, 0)).groupby("year")["r"].transform("max").to_numpy()
    return (rank > last_in - NEAREST) & (rank <= last_in + NEAREST)


def _cell_firms(index: PanelIndex, apps: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Firms open in each applicant's cell at the end of the year before its call.

    Returns:
        For each such firm, the applicant's row in ``apps`` and the firm id.
    """
    panel = index.panel
    if not len(apps):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    base = apps["year"].to_numpy(np.int64) - 1
    rows = index.open_in(base)
    year = index.year[rows].astype(np.int64)
    region, app_region, n_r = _codes(panel["region"], rows, apps["region"])
    sector, app_sector, n_s = _codes(panel["sector"], rows, apps["sector"])
    first = int(base.min())
    # Cells as integers (year, county, sector).
    key = ((year - first) * n_r + region) * n_s + sector
    app_key = ((base - first) * n_r + app_region) * n_s + app_sector
    lookup = np.full((int(base.max()) - first + 1) * n_r * n_s, -1, dtype=np.int64)
    lookup[app_key] = np.arange(len(apps))
    app = lookup[key]
    return app[app >= 0], index.firm[rows[app >= 0]].astype(np.int64)


def _codes(column: pd.Series, rows: np.ndarray, names: pd.Series) -> tuple[np.ndarray, np.ndarray, int]:
    """Integer codes of a panel column at ``rows`` and of the applicants' names, and the number of codes.

    A missing value in the panel and a name the panel lacks get two spare codes, so they match nothing.
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes, values = column.cat.codes.to_numpy()[rows].astype(np.int64), column.cat.categories
    else:
        codes, values = pd.factorize(column.iloc[rows])
    spare = len(values)
    named = pd.Index(values).get_indexer(names)
    return np.where(codes >= 0, codes, spare), np.where(named >= 0, named, spare + 1), spare + 2


def _firm_growth(index: PanelIndex, path: np.ndarray, column: str, settings: Measurement) -> np.ndarray:
    """Each firm's mean yearly log growth before and after its call (``[firms, 2]``; NaN unless open throughout)."""
    window = settings.window_years
    values = index.panel[column].to_numpy()
    levels = np.where(path >= 0, values[np.maximum(path, 0)].astype(np.float64), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = 100.0 * np.diff(np.log(np.where(levels > 0, levels, np.nan)), axis=1)
    lo, hi = winsor_bounds(growth, settings.winsorize)
    growth = np.clip(growth, lo, hi)
    counted = np.isfinite(growth).all(axis=1)  # both periods on the same firms
    means = np.column_stack([growth[:, :window].mean(axis=1), growth[:, window:].mean(axis=1)])
    return np.where(counted[:, None], means, np.nan)


def _firm_joined(index: PanelIndex, path: np.ndarray, window: int) -> np.ndarray:
    """Whether each firm joined a cluster before and after its call, in % (``[firms, 2]``; NaN unless open).

    Joined in a period: not a member at the end of its first year (t-w-1, t-1), a member at the end of its last.
    """
    member = index.panel["member"].to_numpy(bool)[np.maximum(path[:, [0, window, -1]], 0)]
    joined = member[:, 1:] & ~member[:, :-1]
    return np.where((path >= 0).all(axis=1)[:, None], 100.0 * joined, np.nan)


def _by_cell(app: np.ndarray, per_firm: np.ndarray, n_apps: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Each applicant's mean over its firms, by period, and the firms counted."""
    counted = np.isfinite(per_firm).all(axis=1)
    n_firms = np.bincount(app[counted], minlength=n_apps)
    outcome = {}
    for j, period in enumerate(PERIODS):
        total = np.bincount(app[counted], weights=per_firm[counted, j], minlength=n_apps)
        outcome[period] = np.divide(total, n_firms, out=np.full(n_apps, np.nan), where=n_firms > 0)
    return outcome, n_firms


@dataclass
class _Applicants:
    """The applicants' columns a fit needs: admitted, distance to the cut-off, call and county-sector codes."""

    admitted: np.ndarray
    distance: np.ndarray
    call: np.ndarray
    cell: np.ndarray

    def subset(self, use: np.ndarray) -> _Applicants:
        """The applicants where ``use`` holds."""
        return _Applicants(self.admitted[use], self.distance[use], self.call[use], self.cell[use])


def _fit(estimator: str, apps: _Applicants, y: np.ndarray, bandwidth: float) -> dict[str, float]:
    """The jump at the cut-off by one estimator, with its clustered standard error and t interval."""
    admitted, x = apps.admitted, apps.distance
    counts = {"n_cells": len(admitted), "n_admitted": int(admitted.sum()), "n_rejected": int((~admitted).sum()),
              "n_calls": len(np.unique(apps.call)), "n_county_sectors": len(np.unique(apps.cell))}
    missing = {"gap_pp": np.nan, "std_error": np.nan, "ci_low": np.nan, "ci_high": np.nan} | counts
    if min(counts["n_admitted"], counts["n_rejected"]) < MIN_SIDE or counts["n_county_sectors"] < 3:
        return missing
    a = admitted.astype(np.float64)
    if estimator == "local_linear":
        design = np.column_stack([a, np.ones(len(a)), x, a * x])
        weight = 1.0 - np.abs(x) / bandwidth
    else:
        calls = np.unique(apps.call, return_inverse=True)[1]
        design = np.column_stack([a, x, np.eye(calls.max() + 1)[calls]])
        weight = np.ones(len(a))
    fit = clustered_wls(design, y, weight, apps.cell)
    if fit is None:
        return missing
    estimate, se, groups = fit[0][0], float(np.sqrt(fit[1][0, 0])), fit[2]
    half = float(stdtrit(groups - 1, 0.5 + CI_LEVEL / 2.0)) * se
    return {"gap_pp": float(estimate), "std_error": se, "ci_low": estimate - half, "ci_high": estimate + half} | counts


def clustered_wls(design: np.ndarray, y: np.ndarray, weight: np.ndarray,
                  cluster: np.ndarray) -> tuple[np.ndarray, np.ndarray, int] | None:
    """Weighted least squares with cluster-robust (CR1) covariance, as Stata's and fixest's defaults.

    Args:
        design: ``[n, k]`` regressors.
        y: Outcome.
        weight: Positive weights (rows with weight 0 are dropped).
        cluster: Cluster code of each row.

    Returns:
        Coefficients, their covariance (times G/(G-1)·(N-1)/(N-k)) and the number of clusters G; None
        when the regressors are collinear or there are too few rows or clusters.
    """
    keep = weight > 0
    design, y, weight, cluster = design[keep], y[keep], weight[keep], cluster[keep]
    n, k = design.shape
    groups, cluster = np.unique(cluster, return_inverse=True)
    if n <= k or len(groups) < 2:
        return None
    bread = design.T @ (design * weight[:, None])
    if np.linalg.matrix_rank(bread) < k:
        return None
    inverse = np.linalg.inv(bread)
    beta = inverse @ (design.T @ (weight * y))
    scores = design * (weight * (y - design @ beta))[:, None]
    by_cluster = np.zeros((len(groups), k))
    np.add.at(by_cluster, cluster, scores)
    g = len(groups)
    vcov = inverse @ (by_cluster.T @ by_cluster) @ inverse * g / (g - 1) * (n - 1) / (n - k)
    return beta, vcov, g
