"""The portal pages on a small ledger and on a small demo ledger, and the SVG charts they draw."""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET

import pytest
from fastapi.testclient import TestClient

from api import charts
from ledger.demo import build_demo
from ledger.parties import Party
from ledger.service import Ledger
from tests.api.conftest import OPERATOR, registered_contract
from verifier.identity import make_credit_code, mask_subject_id

SVG = "{http://www.w3.org/2000/svg}"


def _svg(text: str) -> ET.Element:
    return ET.fromstring(text)


# -- charts -------------------------------------------------------------------------------------------------------


def test_bar_chart() -> None:
    svg = charts.bar_chart([("A 级", 3, "#2e7d32"), ("<b>", 0, "#000")], label="等级")
    root = _svg(svg)
    assert root.get("role") == "img" and root.get("aria-label") == "等级"
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "A 级" in texts and "<b>" in texts and "3" in texts and "0" in texts  # escaped, not markup
    widths = [int(r.get("width", "-1")) for r in root.iter(f"{SVG}rect")]
    assert widths[1] == 0 and widths[0] > 0
    assert "Noto Sans CJK SC" in svg and "Microsoft YaHei" in svg
    assert "暂无数据" in charts.bar_chart([], label="空")
    with pytest.raises(ValueError):
        charts.bar_chart([("x", -1, "#000")], label="x")


def test_column_chart() -> None:
    root = _svg(charts.column_chart(["2026-01", "2026-02"], [4, 10], label="合同"))
    bars = [r for r in root.iter(f"{SVG}rect")]
    assert len(bars) == 2
    assert float(bars[1].get("height", 0)) > float(bars[0].get("height", 0))
    assert [b.find(f"{SVG}title").text for b in bars] == ["2026-01: 4", "2026-02: 10"]  # type: ignore[union-attr]
    with pytest.raises(ValueError):
        charts.column_chart(["a"], [1, 2], label="x")
    with pytest.raises(ValueError):
        charts.column_chart(["a"], [-1], label="x")


def test_line_chart_gaps_and_bounds() -> None:
    root = _svg(charts.line_chart(["1", "2", "3", "4"], [("按期", [5000, None, 7000, 10000], "#000")], label="率"))
    assert len(list(root.iter(f"{SVG}circle"))) == 3
    lines = list(root.iter(f"{SVG}polyline"))
    assert len(lines) == 1 and len(lines[0].get("points", "").split()) == 2  # the gap splits the line
    with pytest.raises(ValueError):
        charts.line_chart(["1"], [("x", [10001], "#000")], label="x")
    with pytest.raises(ValueError):
        charts.line_chart(["1", "2"], [("x", [1], "#000")], label="x")


def test_stacked_column_chart() -> None:
    svg = charts.stacked_column_chart(
        ["2026-01", "2026-02"], [("按期履约", [2, 1], "#0a0"), ("未履约", [0, 3], "#a00")], label="履约"
    )
    root = _svg(svg)
    titles = [t.text for r in root.iter(f"{SVG}rect") if (t := r.find(f"{SVG}title")) is not None]
    assert titles == ["2026-01 按期履约: 2", "2026-02 按期履约: 1", "2026-02 未履约: 3"]
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "按期履约 3" in texts and "未履约 3" in texts  # legend with totals
    with pytest.raises(ValueError):
        charts.stacked_column_chart(["a"], [("x", [-1], "#000")], label="x")


def test_score_gauge() -> None:
    bands = [("A", 900), ("B", 750), ("C", 600), ("D", 0)]
    root = _svg(charts.score_gauge(812, "B", bands))
    assert root.get("aria-label") == "评分 812，等级 B"
    assert "812（B）" in [t.text for t in root.iter(f"{SVG}text")]
    with pytest.raises(ValueError):
        charts.score_gauge(1001, "A", bands)
    with pytest.raises(ValueError):
        charts.score_gauge(500, "C", [("A", 600), ("B", 750)])


# -- pages --------------------------------------------------------------------------------------------------------


@pytest.fixture
def contract(ledger: Ledger, supplier: Party, buyer: Party) -> str:
    """An undisclosed registered contract (amount 100 000, shown as 1,000.00 yuan)."""
    return registered_contract(buyer, supplier, disclose=False)


def test_overview(client: TestClient, ledger: Ledger, contract: str) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "Noto Sans CJK SC" in page and "信用等级分布" in page
    assert page.count("<svg") == 3
    assert f"<b>{ledger.size()}</b>" in page
    assert "尚未签发检查点" in page or "<pre>" in page
    note = ledger.checkpoint()
    assert note.split("\n")[2] in client.get("/").text  # the latest checkpoint's root hash


def test_subject_list_page(client: TestClient, supplier: Party, buyer: Party, contract: str) -> None:
    public = client.get("/portal/subjects").text
    assert mask_subject_id(buyer.subject) in public and buyer.subject not in public
    assert "乙局" in public
    full = client.get("/portal/subjects", headers=OPERATOR).text
    assert f'href="/portal/subjects/{buyer.subject}"' in full
    r = client.get("/portal/subjects", params={"q": buyer.subject}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/portal/subjects/{buyer.subject}"
    missing = client.get("/portal/subjects", params={"q": make_credit_code("91330100MA0000001")}).text
    assert "未找到主体" in missing
    assert client.get("/portal/subjects", params={"grade": "E"}).status_code == 400
    prefixed = client.get("/portal/subjects", params={"q": buyer.subject[:10]}, headers=OPERATOR).text
    assert buyer.subject in prefixed


def test_subject_page(client: TestClient, ledger: Ledger, supplier: Party, buyer: Party, contract: str) -> None:
    r = client.get(f"/portal/subjects/{buyer.subject}")
    assert r.status_code == 200
    page = r.text
    assert mask_subject_id(buyer.subject) in page and "乙局" in page
    assert f"/subjects/{buyer.subject}/report.html" in page and f"/subjects/{buyer.subject}/report" in page
    assert f"/portal/contracts/{contract}" in page
    assert page.count("<svg") == 2  # the score gauge and the milestones by outcome
    proofs = sorted({int(i) for i in re.findall(r'href="/log/proof/(\d+)"', page)})
    assert proofs and client.get(f"/log/proof/{proofs[-1]}").status_code == 200
    assert "不公开" in page  # the arrears amount, for the public
    assert "1,000.00 元" in client.get(f"/portal/subjects/{buyer.subject}", headers=OPERATOR).text
    assert client.get(f"/portal/subjects/{make_credit_code('91330100MA0000001')}").status_code == 404
    assert client.get("/portal/subjects/nonsense").status_code == 400


def test_contract_page(client: TestClient, supplier: Party, buyer: Party, contract: str) -> None:
    public = client.get(f"/portal/contracts/{contract}")
    assert public.status_code == 200
    assert "办公设备采购" in public.text and "不公开" in public.text and "1,000.00" not in public.text
    assert f"/portal/subjects/{supplier.subject}" in public.text and "/log/proof/" in public.text
    full = client.get(f"/portal/contracts/{contract}", headers=OPERATOR).text
    assert "1,000.00 元" in full
    disclosed = registered_contract(buyer, supplier, disclose=True)
    assert "1,000.00 元" in client.get(f"/portal/contracts/{disclosed}").text
    assert client.get(f"/portal/contracts/{uuid.uuid4()}").status_code == 404
    assert client.get("/portal/contracts/not-a-uuid").status_code == 400


def test_pages_render_for_a_demo_ledger(client: TestClient, ledger: Ledger) -> None:
    build_demo(ledger, contracts=12, seed=7)
    assert client.get("/").status_code == 200
    listing = client.get("/portal/subjects", headers=OPERATOR)
    assert listing.status_code == 200
    subjects = re.findall(r'href="/portal/subjects/([^"]+)"', listing.text)
    assert len(subjects) >= 10
    seen_contracts: set[str] = set()
    for subject in subjects:
        for headers in ({}, OPERATOR):
            page = client.get(f"/portal/subjects/{subject}", headers=headers)
            assert page.status_code == 200, (subject, page.text[:500])
        seen_contracts.update(re.findall(r'href="/portal/contracts/([0-9a-f-]{36})"', page.text))
    assert seen_contracts
    for cid in sorted(seen_contracts):
        assert client.get(f"/portal/contracts/{cid}").status_code == 200
    organisation = next(s for s in subjects if not s.startswith("psn:"))
    assert client.get(f"/subjects/{organisation}/report.html").status_code == 200
    assert client.get("/portal/subjects", params={"grade": "D"}).status_code == 200
