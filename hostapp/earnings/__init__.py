"""Earnings: read-side queries over the ledger (totals, per-day, per-GPU, pages, CSV). Qt-free."""

from hostapp.earnings.queries import (
    EARNED_STATUSES,
    DayTotal,
    EarningsQueries,
    EarningsReader,
    GpuTotal,
    PayoutEntry,
    PayoutState,
    Period,
    Totals,
    electricity_cost_milli,
    token_value_milli,
)

__all__ = [
    "EARNED_STATUSES",
    "DayTotal",
    "EarningsQueries",
    "EarningsReader",
    "GpuTotal",
    "PayoutEntry",
    "PayoutState",
    "Period",
    "Totals",
    "electricity_cost_milli",
    "token_value_milli",
]
