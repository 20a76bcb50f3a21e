"""Read models of the log (SQLAlchemy, tables ``proj_*`` in the ledger's database) and the runner that
keeps them up to date: subject histories and grades, subject entries, contracts, commitments, platform
indicators. See docs/reports.md.
"""

from __future__ import annotations

from ledger.projections.grading_rules import load_grading_rules, rules_path
from ledger.projections.poller import Poller
from ledger.projections.runner import ProjectionError, Projections, history_from_dict, today_china, today_utc

__all__ = [
    "Poller",
    "ProjectionError",
    "Projections",
    "history_from_dict",
    "load_grading_rules",
    "rules_path",
    "today_china",
    "today_utc",
]
