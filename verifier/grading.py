"""The grading rules of docs/grading.md as code: a History in, a score 0..1000 and a grade A-D out.

The rule set is the operator's configuration (``GradingRules``, JSON/TOML-ready through ``from_mapping`` and
``to_mapping``); the defaults are the table in docs/grading.md. Every factor lists the entries behind it and
says in words how its points were reached, so a credit report's grade can be recomputed and explained.
Integer arithmetic only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from verifier.errors import FormatError
from verifier.history import History

__all__ = ["DEFAULT_RULES", "FACTOR_NAMES", "Factor", "Grade", "GradingRules", "grade"]

MAX_SCORE = 1000
MAX_RULE_VALUE = 1_000_000

FACTOR_NAMES = (
    "base",
    "fulfilment_rate_count",
    "fulfilment_rate_amount",
    "late",
    "partial",
    "failed",
    "overdue",
    "disputed",
    "commitments_broken",
    "commitments_overdue",
    "commitments_kept",
)


@dataclass(frozen=True)
class GradingRules:
    """Weights and thresholds of the grading (docs/grading.md, "Rules"). Every value is a non-negative int.

    Penalties are subtracted and bonuses added, each factor at most its cap. Raises FormatError on
    construction when a value is not an integer in range or the thresholds are not descending.
    """

    base_score: int = 800
    rate_count_points: int = 60
    rate_amount_points: int = 40
    late_penalty: int = 10
    late_cap: int = 100
    partial_penalty: int = 20
    partial_cap: int = 150
    failed_penalty: int = 60
    failed_cap: int = 400
    overdue_penalty: int = 25
    overdue_period_days: int = 30
    overdue_period_penalty: int = 10
    overdue_cap: int = 400
    disputed_penalty: int = 5
    disputed_cap: int = 50
    broken_penalty: int = 80
    broken_cap: int = 400
    commitment_overdue_penalty: int = 30
    commitment_overdue_cap: int = 150
    kept_bonus: int = 10
    kept_cap: int = 50
    grade_a: int = 900
    grade_b: int = 750
    grade_c: int = 600

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise FormatError(f"grading rule {f.name} is not an integer: {value!r}")
            if not 0 <= value <= MAX_RULE_VALUE:
                raise FormatError(f"grading rule {f.name} is out of range 0..{MAX_RULE_VALUE}: {value}")
        for name in ("base_score", "grade_a", "grade_b", "grade_c"):
            if getattr(self, name) > MAX_SCORE:
                raise FormatError(f"grading rule {name} is above {MAX_SCORE}: {getattr(self, name)}")
        if self.overdue_period_days < 1:
            raise FormatError("grading rule overdue_period_days must be at least 1")
        if not self.grade_a >= self.grade_b >= self.grade_c:
            raise FormatError(f"grade thresholds must descend: A {self.grade_a}, B {self.grade_b}, C {self.grade_c}")

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any]) -> GradingRules:
        """Rules from a JSON/TOML object; keys left out take their defaults.

        Raises:
            FormatError: ``d`` is not a mapping, has a key that is not a rule, or a value that is not an
                integer (booleans refused) in range, or thresholds that do not descend.
        """
        if not isinstance(d, Mapping):
            raise FormatError("grading rules are not an object")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(str(k) for k in d if k not in names)
        if unknown:
            raise FormatError(f"unknown grading rules: {', '.join(unknown)}")
        return cls(**{str(k): v for k, v in d.items()})

    def to_mapping(self) -> dict[str, int]:
        """Every rule by name (a JSON/TOML-ready object that ``from_mapping`` reads back)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


DEFAULT_RULES = GradingRules()


@dataclass(frozen=True)
class Factor:
    """One line of a grade: points added (positive) or removed (negative), the entries behind, and why."""

    name: str
    points: int
    entries: tuple[int, ...]
    explanation: str

    def to_dict(self) -> dict[str, Any]:
        """The factor as a JSON-ready object."""
        return {
            "name": self.name,
            "points": self.points,
            "entries": list(self.entries),
            "explanation": self.explanation,
        }


@dataclass(frozen=True)
class Grade:
    """A score 0..1000, its grade letter and the factors that sum (before clamping) to the score."""

    score: int
    grade: str
    factors: tuple[Factor, ...]

    def to_dict(self) -> dict[str, Any]:
        """The grade as a JSON-ready object."""
        return {"score": self.score, "grade": self.grade, "factors": [f.to_dict() for f in self.factors]}


def _count(history: History, key: str) -> tuple[int, tuple[int, ...]]:
    fig = history.figure(key)
    if fig is None:
        raise FormatError(f"history has no figure {key!r}")
    return fig.value, fig.entries


def _penalty(history: History, name: str, key: str, per: int, cap: int, what: str) -> Factor:
    n, entries = _count(history, key)
    points = -min(n * per, cap)
    return Factor(name, points, entries, f"{n} {what} x -{per}, at most -{cap}: {points}")


def _rate_factor(history: History, name: str, key: str, full: int, what: str) -> Factor:
    fig = history.figure(key)
    if fig is None:
        return Factor(name, 0, (), f"no {what}: 0")
    points = fig.value * full // 10000
    return Factor(name, points, fig.entries, f"{what} {fig.value} bp x {full} / 10000: {points}")


def _merge(groups: Iterable[tuple[int, ...]]) -> tuple[int, ...]:
    return tuple(sorted({i for g in groups for i in g}))


def grade(history: History, rules: GradingRules = DEFAULT_RULES) -> Grade:
    """Grade ``history`` under ``rules`` (docs/grading.md, "Rules").

    The score is the base plus every factor's points, clamped to 0..1000; the grade is A at or above
    ``grade_a``, B at or above ``grade_b``, C at or above ``grade_c``, D below.

    Raises:
        FormatError: ``history`` lacks a figure the rules read (it was not made by ``compute_history``).
    """
    r = rules
    factors: list[Factor] = [Factor("base", r.base_score, (), f"base score: {r.base_score}")]
    factors.append(
        _rate_factor(
            history,
            "fulfilment_rate_count",
            "fulfilment_rate_count",
            r.rate_count_points,
            "fulfilment rate by count",
        )
    )
    factors.append(
        _rate_factor(
            history,
            "fulfilment_rate_amount",
            "fulfilment_rate_amount",
            r.rate_amount_points,
            "fulfilment rate by amount",
        )
    )
    factors.append(_penalty(history, "late", "milestones.late", r.late_penalty, r.late_cap, "late milestones"))
    factors.append(
        _penalty(history, "partial", "milestones.partial", r.partial_penalty, r.partial_cap, "partial milestones")
    )
    factors.append(
        _penalty(history, "failed", "milestones.failed", r.failed_penalty, r.failed_cap, "failed milestones")
    )

    owed = 0
    for o in history.overdue:
        owed += r.overdue_penalty + (o.days // r.overdue_period_days) * r.overdue_period_penalty
    points = -min(owed, r.overdue_cap)
    ages = ", ".join(str(o.days) for o in history.overdue)
    if history.overdue:
        why = (
            f"{len(history.overdue)} overdue open milestones ({ages} days) x -{r.overdue_penalty}"
            f" and -{r.overdue_period_penalty} per {r.overdue_period_days} days,"
            f" at most -{r.overdue_cap}: {points}"
        )
    else:
        why = "no overdue open milestones: 0"
    factors.append(Factor("overdue", points, _merge(o.entries for o in history.overdue), why))
    factors.append(
        _penalty(
            history,
            "disputed",
            "milestones.disputed",
            r.disputed_penalty,
            r.disputed_cap,
            "disputed milestones",
        )
    )
    factors.append(
        _penalty(
            history,
            "commitments_broken",
            "commitments.broken",
            r.broken_penalty,
            r.broken_cap,
            "broken commitments",
        )
    )
    factors.append(
        _penalty(
            history,
            "commitments_overdue",
            "commitments.overdue",
            r.commitment_overdue_penalty,
            r.commitment_overdue_cap,
            "overdue commitments",
        )
    )
    kept, kept_entries = _count(history, "commitments.kept")
    bonus = min(kept * r.kept_bonus, r.kept_cap)
    factors.append(
        Factor(
            "commitments_kept",
            bonus,
            kept_entries,
            f"{kept} kept commitments x +{r.kept_bonus}, at most +{r.kept_cap}: +{bonus}",
        )
    )

    score = max(0, min(MAX_SCORE, sum(f.points for f in factors)))
    if score >= r.grade_a:
        letter = "A"
    elif score >= r.grade_b:
        letter = "B"
    elif score >= r.grade_c:
        letter = "C"
    else:
        letter = "D"
    return Grade(score=score, grade=letter, factors=tuple(factors))
