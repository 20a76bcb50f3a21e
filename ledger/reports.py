"""Verifiable credit reports (信用报告): a subject's figures and grade with the entries and proofs behind them.

``build_report`` gathers every entry concerning the subject up to the latest signed checkpoint by walking the
subject's chain (``links[subject]``, newest first), recomputes the figures and grade from exactly those entries
with verifier.history and verifier.grading, and attaches each entry's bytes and its inclusion proof against the
checkpoint. ``verifier.report.check_report`` checks such a report with nothing but the log's verifier key.
``render_html`` gives the same report for people (Chinese labels, an inline SVG chart).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import jinja2
import orjson
from markupsafe import escape

from ledger.errors import MalformedInput
from verifier.checkpoint import parse_checkpoint_note
from verifier.entry import parse_entry
from verifier.errors import FormatError
from verifier.grading import grade
from verifier.history import compute_history
from verifier.identity import check_subject_id
from verifier.statement import b64encode

if TYPE_CHECKING:
    from ledger.projections import Projections
    from ledger.service import Ledger

__all__ = ["REPORT_FORMAT", "build_report", "chart_svg", "render_html"]

REPORT_FORMAT = "lvyue-report/v1"


def _check_as_of(as_of: str) -> str:
    try:
        if len(as_of) != 10:
            raise ValueError(as_of)
        datetime.date.fromisoformat(as_of)
    except ValueError as e:
        raise MalformedInput(f"as_of is not a date YYYY-MM-DD: {as_of!r}", code="bad_date") from e
    return as_of


def build_report(ledger: Ledger, projections: Projections, subject: str, as_of: str | None = None) -> dict[str, Any]:
    """The credit report of ``subject`` as of ``as_of`` (default: the projections' today).

    The report (docs/reports.md, "Report format") holds the subject, the date, the grading rules in force
    (``projections.rules``), the figures and the grade with its factors, the latest signed checkpoint (issued
    now if the log grew), and every entry concerning the subject within that checkpoint, in log order, each
    with its bytes (base64) and its inclusion proof against the checkpoint.

    Raises:
        MalformedInput: ``subject`` is not a credit code or pseudonym, or ``as_of`` is not a date.
    """
    try:
        subject = check_subject_id(subject)
    except FormatError as e:
        raise MalformedInput(str(e), code="bad_subject") from e
    as_of = _check_as_of(as_of) if as_of is not None else projections.clock()
    note = ledger.checkpoint()
    checkpoint, _ = parse_checkpoint_note(note)
    size = checkpoint.size

    # The entries the projections have indexed, read together; then the chain walked back from the subject's
    # latest entry down to them (the projections may be a little behind the log).
    applied = min(projections.position(), size)
    known = projections.subject_entries(subject, before=applied)
    newer: list[tuple[int, bytes]] = []
    index = ledger.store.subject_head(subject)
    while index is not None and index >= applied:
        data = ledger.entry(index)
        if index < size:
            newer.append((index, data))
        index = parse_entry(data).links.get(subject)
    found = ledger.entries_at(known)
    chain = [(i, found[i]) for i in known] + newer[::-1]

    history = compute_history(subject, [orjson.loads(data) for _, data in chain], as_of=as_of)
    graded = grade(history, projections.rules)
    proofs = ledger.prove_inclusions([i for i, _ in chain], size)
    entries = [{"index": i, "entry": b64encode(data), "proof": [b64encode(h) for h in proofs[i]]} for i, data in chain]
    return {
        "format": REPORT_FORMAT,
        "origin": ledger.origin,
        "log_key": ledger.verifier_key,
        "subject": subject,
        "as_of": as_of,
        "generated": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "rules": projections.rules.to_mapping(),
        "history": history.to_dict(),
        "grade": graded.to_dict(),
        "checkpoint": note,
        "entries": entries,
    }


# -- HTML -----------------------------------------------------------------------------------------------------

KIND_LABELS = {
    "enterprise": "企业",
    "government": "政府机关",
    "institution": "事业单位",
    "social_organisation": "社会组织",
    "person": "自然人",
}

FIGURE_LABELS = {
    "contracts.party": "参与合同数",
    "contracts.obligor": "作为义务方的合同数",
    "contracts.obligee": "作为权利方的合同数",
    "contracts.proposed": "待确认合同",
    "contracts.registered": "已注册合同",
    "contracts.completed": "已履行完毕合同",
    "contracts.terminated": "已终止合同",
    "contracts.withdrawn": "已撤回合同",
    "milestones.due": "已到期履约事项",
    "milestones.on_time": "按期履约",
    "milestones.late": "逾期履约",
    "milestones.partial": "部分履约",
    "milestones.failed": "未履约",
    "milestones.overdue_open": "逾期未履约",
    "milestones.disputed": "争议中",
    "milestones.open": "未到期",
    "milestones.terminated": "因合同终止未履约",
    "milestones.ever_disputed": "发生过争议的履约事项",
    "fulfilment_rate_count": "履约率（按笔数）",
    "fulfilment_rate_amount": "履约率（按金额）",
    "dispute_rate": "争议率",
    "termination_rate": "合同终止率",
    "max_days_overdue": "最长逾期天数",
    "total_days_overdue": "累计逾期天数",
    "obligee.overdue": "他方对本主体逾期未履约",
    "obligee.overdue_amount": "他方对本主体逾期未履约金额",
    "judgments.against": "不利司法裁判",
    "commitments.open": "信用承诺（履行期内）",
    "commitments.overdue": "信用承诺（逾期未核验）",
    "commitments.kept": "信用承诺（已践诺）",
    "commitments.broken": "信用承诺（失信）",
    "arrears.count": "拖欠账款笔数",
    "arrears.amount": "拖欠账款金额",
}

FACTOR_LABELS = {
    "base": "基础分",
    "fulfilment_rate_count": "履约率（按笔数）",
    "fulfilment_rate_amount": "履约率（按金额）",
    "late": "逾期履约",
    "partial": "部分履约",
    "failed": "未履约",
    "overdue": "逾期未履约",
    "disputed": "争议中",
    "commitments_broken": "违背信用承诺",
    "commitments_overdue": "信用承诺逾期",
    "commitments_kept": "践行信用承诺",
}

OUTCOME_SERIES: tuple[tuple[str, str, str], ...] = (
    ("on_time", "按期履约", "#2e7d32"),
    ("late", "逾期履约", "#f9a825"),
    ("partial", "部分履约", "#ef6c00"),
    ("failed", "未履约", "#c62828"),
    ("overdue_open", "逾期未履约", "#8e24aa"),
    ("disputed", "争议中", "#6d4c41"),
    ("open", "未到期", "#90caf9"),
    ("terminated", "合同终止", "#9e9e9e"),
)
"""Milestone outcome classes as charted, in the report and on the portal alike: (key, label, colour)."""

_FONT = "'Noto Sans CJK SC', 'Noto Sans SC', 'Source Han Sans SC', 'PingFang SC', 'Microsoft YaHei', sans-serif"


def _fen(value: int) -> str:
    return f"{value // 100:,}.{value % 100:02d}"


def _bp(value: int | None) -> str:
    return "—" if value is None else f"{value / 100:.2f}%"


def _money_or_count(key: str, value: int) -> str:
    if key.endswith("amount"):
        return f"{_fen(value)} 元"
    if key.endswith("_rate") or key.startswith("fulfilment_rate"):
        return _bp(value)
    return str(value)


def chart_svg(history: Mapping[str, Any]) -> str:
    """An inline SVG bar chart of the subject's milestones (as obligor) by class, from a history dict."""
    figures = history.get("figures", {})
    counts = [
        (label, int(figures.get(f"milestones.{key}", {}).get("value", 0)), color)
        for key, label, color in OUTCOME_SERIES
    ]
    top = max([c for _, c, _ in counts] + [1])
    width, bar_h, gap, left = 560, 22, 8, 110
    height = len(counts) * (bar_h + gap) + gap
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="履约情况" style="font-family: {_FONT}; font-size: 13px">'
    ]
    for n, (label, count, color) in enumerate(counts):
        y = gap + n * (bar_h + gap)
        w = 0 if count == 0 else max(2, (width - left - 50) * count // top)
        parts.append(f'<text x="{left - 8}" y="{y + 16}" text-anchor="end">{escape(label)}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{w}" height="{bar_h}" fill="{color}" rx="3"/>')
        parts.append(f'<text x="{left + w + 6}" y="{y + 16}">{count}</text>')
    parts.append("</svg>")
    return "".join(parts)


_TEMPLATE = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>信用报告 {{ r.subject }}</title>
<style>
body { font-family: {{ font }}; color: #222; max-width: 960px; margin: 2em auto; line-height: 1.5; }
h1 { font-size: 1.6em; border-bottom: 2px solid #b71c1c; padding-bottom: .3em; }
h2 { font-size: 1.2em; margin-top: 1.6em; color: #b71c1c; }
table { border-collapse: collapse; width: 100%; margin: .5em 0; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f5f5f5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.grade { font-size: 2.4em; font-weight: bold; color: #b71c1c; }
pre { background: #f7f7f7; padding: .6em; overflow-x: auto; font-size: .85em; }
.note { color: #666; font-size: .9em; }
</style>
</head>
<body>
<h1>公共信用报告（履约）</h1>
<table>
<tr><th>主体标识</th><td>{{ r.subject }}</td><th>主体类型</th><td>{{ kind }}</td></tr>
<tr><th>统计截止日</th><td>{{ r.as_of }}</td><th>生成时间</th><td>{{ r.generated }}</td></tr>
<tr><th>信用账本</th><td colspan="3">{{ r.origin }}（检查点规模 {{ size }} 条）</td></tr>
</table>

<h2>综合评价</h2>
<p><span class="grade">{{ r.grade.grade }}</span> 级，评分 <strong>{{ r.grade.score }}</strong> / 1000</p>
<table>
<tr><th>评价因素</th><th>分值</th><th>说明</th><th>依据条目</th></tr>
{% for f in r.grade.factors %}
<tr><td>{{ factor_labels.get(f.name, f.name) }}</td><td class="num">{{ f.points }}</td>
<td>{{ f.explanation }}</td><td>{{ f.entries | join(", ") }}</td></tr>
{% endfor %}
</table>

<h2>履约情况（作为义务方）</h2>
{{ chart | safe }}

<h2>信用档案指标</h2>
<table>
<tr><th>指标</th><th>数值</th><th>依据条目</th></tr>
{% for key, label in figure_rows %}
<tr><td>{{ label }}</td><td class="num">{{ values[key] }}</td><td>{{ entries_of[key] }}</td></tr>
{% endfor %}
</table>

{% if r.history.overdue %}
<h2>逾期未履约事项</h2>
<table>
<tr><th>合同</th><th>事项</th><th>类型</th><th>金额（元）</th><th>到期日</th><th>逾期天数</th></tr>
{% for o in r.history.overdue %}
<tr><td>{{ o.contract }}</td><td>{{ o.milestone }}</td><td>{{ o.kind }}</td><td class="num">{{ fen(o.amount) }}</td>
<td>{{ o.due }}</td><td class="num">{{ o.days }}</td></tr>
{% endfor %}
</table>
{% endif %}

<h2>评价规则</h2>
<table>
{% for k, v in r.rules.items() %}<tr><td>{{ k }}</td><td class="num">{{ v }}</td></tr>{% endfor %}
</table>

<h2>验证</h2>
<p>本报告附有 {{ r.entries | length }} 条与该主体相关的账本条目及其对下列签名检查点的包含证明。
任何人可用账本公钥离线验证：<code>lvyue-verify report 报告.json --log-key '{{ r.log_key }}'</code></p>
<pre>{{ r.checkpoint }}</pre>
<p class="note">金额单位：元；比率以百分比表示（计算时为万分比整数，向下取整）。</p>
</body>
</html>
"""


def render_html(report: Mapping[str, Any]) -> str:
    """The report as a standalone HTML page with Chinese labels and an SVG chart of the subject's performance."""
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string(_TEMPLATE)
    history = report["history"]
    figures = history["figures"]
    rows = [(k, label) for k, label in FIGURE_LABELS.items() if k in figures]
    size = report["checkpoint"].split("\n")[1] if "\n" in report["checkpoint"] else "?"
    return template.render(
        r=report,
        font=_FONT,
        kind=KIND_LABELS.get(history.get("kind") or "", "未登记"),
        size=size,
        factor_labels=FACTOR_LABELS,
        figure_rows=rows,
        values={k: _money_or_count(k, figures[k]["value"]) for k, _ in rows},
        entries_of={
            k: ", ".join(str(i) for i in figures[k]["entries"][:20]) + (" …" if len(figures[k]["entries"]) > 20 else "")
            for k, _ in rows
        },
        chart=chart_svg(history),
        fen=_fen,
    )
