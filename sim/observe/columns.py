"""The column contracts of the register's tables: analysts' scripts read these names.

The model may append columns but never rename, drop or reorder the contract ones.
"""

from __future__ import annotations

from sim.submodels.programme import CRITERIA

YEARLY_COLUMNS: tuple[str, ...] = (
    "year", "firms", "members", "clusters", "clusters_arena", "clusters_arena_pro",
    "clusters_nce", "clusters_gce", "employment", "revenue_nok", "value_added_nok",
    "innovations", "ties", "startups", "exits", "programme_spend_nok", "restructuring_jobs",
    "restructuring_startups",
)  # fmt: skip
FIRM_COLUMNS: tuple[str, ...] = (
    "firm_id", "year", "region", "sector", "member", "cluster_id", "join_year", "employees",
    "revenue_nok", "value_added_nok", "innovated", "alive",
)  # fmt: skip
CLUSTER_COLUMNS: tuple[str, ...] = (
    "cluster_id", "name", "year", "region", "sector", "level", "members", "budget_nok",
)  # fmt: skip
EFFECT_COLUMNS: tuple[str, ...] = ("metric", "estimator", "gap_pp", "ci_low", "ci_high", "n_treated")
# Members' outcomes by cluster and year (full-scale units, as yearly.csv): what each cluster's
# members employ, produce, sell and innovate, and their collaboration and R&D ties.
CLUSTER_YEARLY_COLUMNS: tuple[str, ...] = (
    "cluster_id", "name", "year", "region", "sector", "level", "members", "member_employment",
    "member_value_added_nok", "member_revenue_nok", "member_innovations", "member_ties", "internal_ties",
    "institution_ties",
)  # fmt: skip
# Firms by county and year (full-scale units): the regional view of yearly.csv.
REGION_YEARLY_COLUMNS: tuple[str, ...] = (
    "region", "year", "firms", "members", "employment", "value_added_nok", "startups", "exits",
)  # fmt: skip
# The firm-dynamics table, long and tidy: one measure of one group of firms over one period, beside
# a published benchmark where there is one (sim/observe/dynamics.py; keys of docs/sources.md).
DYNAMICS_COLUMNS: tuple[str, ...] = (
    "measure", "by", "group", "period", "value", "unit", "n", "benchmark", "benchmark_source", "benchmark_note",
)  # fmt: skip

# Every applicant of every open call, best first within a call (sim/observe/discontinuity.py): the
# call's raw criteria, the score the operator ranked by, the call's cut-off and the distance to it.
CALL_APPLICANT_COLUMNS: tuple[str, ...] = (
    "year", "region", "sector", *CRITERIA, "score", "rank", "cutoff_score", "distance", "admitted", "cluster_id",
)  # fmt: skip

# Compact parquet types for the firm panel: a full-scale panel has millions of firm-years, and
# float32 keeps 7 significant digits, more than any register figure is measured to.
FIRM_DTYPES: dict[str, str] = {
    "firm_id": "int32", "year": "int32", "region": "category", "sector": "category",
    "member": "bool", "cluster_id": "int32", "join_year": "int32", "employees": "float32",
    "revenue_nok": "float32", "value_added_nok": "float32", "innovated": "bool", "alive": "bool",
}  # fmt: skip
