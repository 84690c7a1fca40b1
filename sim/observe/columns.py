"""The column contracts of the register's tables: analysts' scripts read these names.

The model may append columns but never rename, drop or reorder the contract ones.
"""

from __future__ import annotations

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

# Compact parquet types for the firm panel: a full-scale panel has millions of firm-years, and
# float32 keeps 7 significant digits, more than any register figure is measured to.
FIRM_DTYPES: dict[str, str] = {
    "firm_id": "int32", "year": "int32", "region": "category", "sector": "category",
    "member": "bool", "cluster_id": "int32", "join_year": "int32", "employees": "float32",
    "revenue_nok": "float32", "value_added_nok": "float32", "innovated": "bool", "alive": "bool",
}  # fmt: skip
