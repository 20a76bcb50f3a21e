"""The portal (公示门户): HTML pages over the log and its projections, with server-side SVG charts.

``/`` the overview (log size, latest checkpoint, grade distribution, indicators by month), ``/portal/subjects``
the subjects with their grades (search by code), ``/portal/subjects/{subject}`` a credit history,
``/portal/contracts/{id}`` a contract. The same viewing rules as the JSON API apply: the public sees subject ids
masked on subject pages, persons' pseudonyms masked everywhere and amounts only of contracts that disclose them.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api import charts
from api.deps import LedgerDep, ProjectionsDep, ReaderDep, ViewerDep
from api.responses import READ, errors
from api.routes.credit import (
    grade_distribution,
    hidden_figure,
    list_subjects,
    registered_subject,
    shown,
    subject_commitments,
    subject_contracts,
    subject_entry_rows,
)
from api.views import check_aggregate_id
from ledger.platform import AUTHORITY_NAME, OPERATOR_NAME
from ledger.reports import FACTOR_LABELS, FIGURE_LABELS, KIND_LABELS
from ledger.service import Ledger
from verifier.errors import FormatError
from verifier.identity import check_subject_id, is_pseudonym, mask_subject_id, subject_aggregate
from verifier.rules import SubjectState

router = APIRouter(tags=["portal"])
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))

PAGE = 50

STATUS_LABELS = {
    "proposed": "待确认",
    "registered": "履行中",
    "completed": "已履行完毕",
    "terminated": "已终止",
    "withdrawn": "已撤回",
    "open": "未到期",
    "reported": "已报告待确认",
    "disputed": "争议中",
    "settled": "已确认",
    "kept": "已践诺",
    "broken": "失信",
    "overdue": "逾期未核验",
}
OUTCOME_LABELS = {"fulfilled": "履行", "partial": "部分履行", "failed": "未履行"}
TYPE_LABELS = {
    "government_procurement": "政府采购",
    "investment_attraction": "招商引资",
    "ppp": "政府和社会资本合作",
    "concession": "特许经营",
    "other": "其他",
    "": "主体与承诺",
}
COMMITMENT_KIND_LABELS = {
    "approval_substitute": "替代型承诺",
    "deficiency_acceptance": "容缺受理承诺",
    "industry_self_discipline": "行业自律承诺",
    "voluntary": "主动型承诺",
    "credit_repair": "信用修复承诺",
}


def _fen(value: int | None) -> str:
    return "不公开" if value is None else f"{value // 100:,}.{value % 100:02d}"


def _bp(value: int | None) -> str:
    return "—" if value is None else f"{value / 100:.2f}%"


def _figure(key: str, value: int | None) -> str:
    if value is None:
        return "不公开"
    if key.endswith("amount") and "rate" not in key:
        return f"{_fen(value)} 元"
    if "rate" in key:
        return _bp(value)
    return str(value)


def _render(request: Request, name: str, context: dict[str, Any]) -> HTMLResponse:
    base = {
        "font": charts.FONT,
        "kind_labels": KIND_LABELS,
        "status_labels": STATUS_LABELS,
        "type_labels": TYPE_LABELS,
        "fen": _fen,
        "bp": _bp,
    }
    return templates.TemplateResponse(request, name, {**base, **context})


def _name(ledger: Ledger, subject: str) -> str:
    if subject == ledger.operator:
        return OPERATOR_NAME
    if subject == ledger.authority:
        return AUTHORITY_NAME
    state = ledger.aggregate(subject_aggregate(subject))[1]
    return state.name if isinstance(state, SubjectState) else ""


def _party(subject: str, full: bool) -> str:
    return subject if full or not is_pseudonym(subject) else mask_subject_id(subject)


def classify(milestone: dict[str, Any], contract_status: str, as_of: str) -> str:
    """A milestone's class as in docs/grading.md (on_time, late, partial, failed, overdue_open, disputed, open,
    terminated), from a contract view's milestone."""
    if milestone["status"] == "settled":
        if milestone["outcome"] == "fulfilled":
            return "on_time" if (milestone["on"] or "") <= milestone["due"] else "late"
        return str(milestone["outcome"])
    if contract_status == "terminated":
        return "terminated"
    if milestone["status"] == "disputed":
        return "disputed"
    if milestone["due"] < as_of:
        return "overdue_open"
    return "open"


def milestones_by_month(
    contracts: list[dict[str, Any]], obligor: str, as_of: str
) -> tuple[list[str], dict[str, list[int]]]:
    """Months due (ascending) and, per class, the count of ``obligor``'s milestones due in each month
    (registered, completed or terminated contracts only)."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for c in contracts:
        if c["status"] not in ("registered", "completed", "terminated"):
            continue
        for m in c["milestones"]:
            if m["obligor"] == obligor:
                counts[m["due"][:7]][classify(m, c["status"], as_of)] += 1
    months = sorted(counts)
    return months, {key: [counts[mo][key] for mo in months] for key, _, _ in charts.OUTCOME_SERIES}


# -- pages --------------------------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse, responses=errors(*READ))
def portal(request: Request, ledger: LedgerDep, projections: ProjectionsDep, reader: ReaderDep) -> HTMLResponse:
    """The overview: the log, its latest checkpoint, the grade distribution and the indicators by month."""
    latest = ledger.store.latest_checkpoint()
    dist = grade_distribution(projections)
    months = projections.indicators("month")
    labels = [r["month"] for r in months]
    totals = projections.indicators("type")
    return _render(
        request,
        "portal.html",
        {
            "origin": ledger.origin,
            "size": ledger.size(),
            "applied": projections.position(),
            "verifier_key": ledger.verifier_key,
            "checkpoint": latest[1] if latest else None,
            "distribution": dist,
            "grade_chart": charts.bar_chart(
                [(f"{g} 级", n, charts.GRADE_COLORS[g]) for g, n in dist.items()], label="信用等级分布"
            ),
            "registered_chart": charts.column_chart(
                labels, [int(r["contracts_registered"]) for r in months], label="每月登记合同数"
            ),
            "rates_chart": charts.line_chart(
                labels,
                [
                    ("按期履约率", [r["on_time_rate"] for r in months], "#2e7d32"),
                    ("信用承诺践诺率", [r["commitment_fulfilment_rate"] for r in months], "#1565c0"),
                ],
                label="每月按期履约率与信用承诺践诺率",
            ),
            "by_type": totals,
        },
    )


@router.get("/portal/subjects", response_class=HTMLResponse, response_model=None, responses=errors(*READ))
def subjects_page(
    request: Request,
    projections: ProjectionsDep,
    ledger: LedgerDep,
    viewer: ViewerDep,
    q: Annotated[str | None, Query(max_length=40, description="A subject id (a role: any prefix).")] = None,
    grade: Annotated[str | None, Query(pattern="^[ABCD]?$")] = None,
    page: Annotated[int, Query(ge=1, le=10000)] = 1,
) -> Response:
    """Subjects with their grades, lowest score first; a whole subject id goes to its page."""
    full = viewer.full
    query = (q or "").strip()
    if query:
        try:
            check_subject_id(query)
            if ledger.store.subject(query) is not None:
                return RedirectResponse(f"/portal/subjects/{query}", status_code=303)
        except FormatError:
            pass
    prefix = query if full and query else None
    total, rows = list_subjects(projections, grade=grade or None, prefix=prefix, limit=PAGE, offset=(page - 1) * PAGE)
    items = [
        {
            **r,
            "shown": shown(r["subject"], full),
            "link": full,
            "name": _name(ledger, r["subject"]),
        }
        for r in rows
    ]
    return _render(
        request,
        "subjects.html",
        {
            "full": full,
            "items": items,
            "total": total,
            "q": query,
            "not_found": bool(query) and not prefix,
            "grade": grade or "",
            "page": page,
            "pages": max(1, (total + PAGE - 1) // PAGE),
        },
    )


@router.get("/portal/subjects/{subject}", response_class=HTMLResponse, responses=errors(*READ, 404))
def subject_page(
    request: Request, subject: str, ledger: LedgerDep, projections: ProjectionsDep, viewer: ViewerDep
) -> HTMLResponse:
    """A subject's credit history: figures, score and grade with the factors and their entries, its milestones by
    outcome over time, contracts, commitments, and every entry with its inclusion proof."""
    kind, registered_at = registered_subject(ledger, subject)
    full = viewer.full
    history, graded = projections.assess(subject)
    rules = projections.rules
    entries = subject_entry_rows(projections, subject)
    contracts = subject_contracts(projections, entries)
    months, by_class = milestones_by_month(contracts, subject, history.as_of)
    figures = [
        {
            "key": key,
            "label": label,
            "value": _figure(key, None if not full and hidden_figure(key) else fig.value),
            "entries": list(fig.entries),
        }
        for key, label in FIGURE_LABELS.items()
        if (fig := history.figures.get(key)) is not None
    ]
    return _render(
        request,
        "subject.html",
        {
            "full": full,
            "subject": subject,
            "shown": shown(subject, full),
            "reportable": full or not is_pseudonym(subject),
            "name": _name(ledger, subject),
            "kind": kind,
            "registered_at": registered_at,
            "as_of": history.as_of,
            "graded": graded,
            "factor_labels": FACTOR_LABELS,
            "gauge": charts.score_gauge(
                graded.score,
                graded.grade,
                [("A", rules.grade_a), ("B", rules.grade_b), ("C", rules.grade_c), ("D", 0)],
            ),
            "figures": figures,
            "chart": charts.stacked_column_chart(
                months,
                [(label, by_class[key], color) for key, label, color in charts.OUTCOME_SERIES],
                label="作为义务方的履约事项（按到期月份、结果）",
            ),
            "contracts": [
                {
                    "id": c["contract"],
                    "number": c["terms"].get("number", ""),
                    "title": c["terms"].get("title", ""),
                    "type": c["type"],
                    "status": c["status"],
                    "role": next((p["role"] for p in c["parties"] if p["subject"] == subject), ""),
                }
                for c in contracts
            ],
            "commitments": subject_commitments(projections, subject),
            "commitment_kinds": COMMITMENT_KIND_LABELS,
            "entries": entries[::-1][:500],
            "entry_count": len(entries),
        },
    )


@router.get("/portal/contracts/{contract}", response_class=HTMLResponse, responses=errors(*READ, 404))
def contract_page(request: Request, contract: str, projections: ProjectionsDep, viewer: ViewerDep) -> HTMLResponse:
    """A contract: its terms (amounts only if disclosed, for the public), parties, milestones and their states
    with the entries behind each."""
    view = projections.contract(check_aggregate_id(contract))
    full = viewer.full
    terms = view["terms"]
    show_amount = full or bool(terms.get("disclose_amount"))
    milestones = [
        {
            **m,
            "obligor_shown": _party(m["obligor"], full),
            "obligee_shown": _party(m["obligee"], full),
            "amount_due": m["amount_due"] if show_amount else None,
            "amount": m["amount"] if show_amount else None,
            "class": classify(m, view["status"], projections.clock()),
            "outcome_label": OUTCOME_LABELS.get(m["outcome"] or "", ""),
            "description": next(
                (t.get("description", "") for t in terms.get("milestones", []) if t.get("id") == m["id"]), ""
            ),
        }
        for m in view["milestones"]
    ]
    return _render(
        request,
        "contract.html",
        {
            "full": full,
            "c": view,
            "terms": terms,
            "amount": terms.get("amount") if show_amount else None,
            "parties": [
                {
                    "subject": p["subject"],
                    "shown": _party(p["subject"], full),
                    "role": p["role"],
                    "link": full or not is_pseudonym(p["subject"]),
                }
                for p in view["parties"]
            ],
            "milestones": milestones,
            "class_labels": {key: label for key, label, _ in charts.OUTCOME_SERIES},
        },
    )
