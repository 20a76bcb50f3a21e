"""A realistic demo ledger: a district's credit platform after two years of administrative contracts.

Subjects: government bodies, public institutions, enterprises with valid unified social credit codes, social
organisations and persons (pseudonymous); every one registered at the desk with its own key. Contracts of every
type with milestones performed on time, late, partly, not at all, disputed (and resolved), or left overdue;
proposals withdrawn, contracts amended and terminated; credit commitments of every kind kept, broken, overdue and
open; a key rotated. Statement times follow the story (2025-01 to today); the platform's overdue clock runs at the
end. The same seed always tells the same story (keys and ids aside).
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ledger.client import KeyFile, sign
from ledger.demo_casework import add_casework
from ledger.privacy import store_identity
from ledger.service import Ledger
from verifier.identity import make_citizen_id, make_credit_code, pseudonym, subject_aggregate
from verifier.statement import b64encode, terms_digest

START = date(2025, 1, 6)
GOVERNMENT = [
    "北辰区财政局",
    "北辰区教育局",
    "北辰区住房和城乡建设委员会",
    "北辰区卫生健康委员会",
    "北辰区城市管理委员会",
    "北辰区商务局",
    "北辰区发展和改革委员会",
    "北辰区交通运输局",
    "北辰区水务局",
    "北辰区农业农村委员会",
]
INSTITUTIONS = ["北辰区人民医院", "北辰区第一中学", "北辰区公共资源交易中心", "北辰区图书馆"]
ENTERPRISE_STEMS = [
    "辰达建设工程",
    "北辰环境科技",
    "津北信息技术",
    "宜兴埠物流",
    "双街新材料",
    "大张庄农业发展",
    "天穆食品",
    "瑞景建筑安装",
    "果园新村物业",
    "北仓医疗器械",
    "青光电力工程",
    "西堤头水务",
    "小淀机械制造",
    "双口生态农业",
    "佳荣智能装备",
    "华辰汽车零部件",
    "北辰城投园林",
    "津辰数据服务",
    "永泰办公设备",
    "盛世印刷",
    "康宁医药",
    "中北路桥",
    "辰安消防工程",
    "汇通交通设施",
    "北方教育装备",
    "鼎盛保安服务",
    "绿源垃圾处理",
    "宏达钢结构",
    "海天通信工程",
    "清源污水处理",
    "金辰供热",
    "北辰文旅发展",
    "天津科瑞检测",
    "新北方会展",
    "瑞丰粮油",
    "辰兴餐饮管理",
    "民和家政服务",
    "益康养老服务",
    "津门电梯工程",
    "北辰城市照明",
]
SOCIAL = ["北辰区个体劳动者协会", "北辰区建筑业协会"]
PERSON_NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄勇"]
CONTRACT_TYPES = ["government_procurement", "investment_attraction", "ppp", "concession", "other"]
TITLES = {
    "government_procurement": [
        "办公设备采购",
        "校园安防系统采购",
        "医疗设备采购",
        "道路养护服务采购",
        "信息化平台建设",
    ],
    "investment_attraction": ["智能装备产业园投资协议", "新材料项目落地协议", "物流园区招商协议"],
    "ppp": ["污水处理厂PPP项目合同", "城市照明PPP项目合同", "养老服务中心PPP项目合同"],
    "concession": ["公交线路特许经营协议", "供热特许经营协议", "垃圾处理特许经营协议"],
    "other": ["公共场馆委托运营协议", "社区服务委托协议", "培训服务协议"],
}
COMMITMENT_KINDS = [
    "approval_substitute",
    "deficiency_acceptance",
    "certification_substitute",
    "industry_self_discipline",
    "credit_repair",
    "voluntary_disclosure",
    "other",
]
COMMITMENT_CONTENT = {
    "approval_substitute": "承诺符合施工许可条件，按期补齐材料",
    "deficiency_acceptance": "承诺在规定期限内补正缺少的申请材料",
    "certification_substitute": "承诺所报无违法记录情况真实",
    "industry_self_discipline": "承诺遵守行业自律公约，诚信经营",
    "credit_repair": "承诺已纠正失信行为并履行相关义务",
    "voluntary_disclosure": "主动公示产品质量与服务标准承诺",
    "other": "承诺按时足额缴纳社会保险费",
}


@dataclass(frozen=True)
class DemoSubject:
    """A demo subject with its key."""

    key: KeyFile
    kind: str
    name: str


@dataclass(order=True)
class _Event:
    when: datetime
    seq: int
    aggregate: str = field(compare=False)
    make: Callable[[int, str], dict[str, Any]] = field(compare=False)


class _Story:
    """Collects events in story time, then signs them in order with each aggregate's next version."""

    def __init__(self, ledger: Ledger, rng: random.Random, today: date) -> None:
        self.ledger = ledger
        self.rng = rng
        self.today = today
        self.events: list[_Event] = []
        self.counts: dict[str, int] = {}

    def add(self, when: datetime, aggregate: str, make: Callable[[int, str], dict[str, Any]]) -> None:
        if when.date() <= self.today:
            self.events.append(_Event(when, len(self.events), aggregate, make))

    def by(
        self,
        key: KeyFile,
        type: str,
        aggregate: str,
        body: Mapping[str, Any],
        cosigners: tuple[KeyFile, ...] = (),
    ) -> Callable[[int, str], dict[str, Any]]:
        origin = self.ledger.origin

        def make(version: int, time: str) -> dict[str, Any]:
            return sign(key, origin, type, aggregate, version, body, time=time, cosigners=cosigners)

        self.counts[type] = self.counts.get(type, 0) + 1
        return make

    def run(self, progress: Callable[[int, int], None] | None, batch: int = 100) -> None:
        self.events.sort()
        versions: dict[str, int] = {}
        pending: list[dict[str, Any]] = []
        total = len(self.events)
        for done, event in enumerate(self.events, 1):
            version = versions.get(event.aggregate, self.ledger.version(event.aggregate)) + 1
            versions[event.aggregate] = version
            pending.append(event.make(version, event.when.strftime("%Y-%m-%dT%H:%M:%SZ")))
            if len(pending) >= batch or done == total:
                self.ledger.submit_batch(pending)
                pending = []
                if progress is not None:
                    progress(done, total)


def _at(d: date, hour: int = 2, minute: int = 0) -> datetime:
    """A statement time on day ``d`` (02:00 UTC is 10:00 in Beijing)."""
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=UTC)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _subjects(rng: random.Random, ledger: Ledger, person_ids: dict[DemoSubject, str]) -> dict[str, list[DemoSubject]]:
    out: dict[str, list[DemoSubject]] = {
        "government": [],
        "institution": [],
        "enterprise": [],
        "social": [],
        "person": [],
    }
    serial = iter(range(10_000, 99_999, 137))

    def code(prefix: str) -> str:
        body = f"{next(serial):05d}"
        org = "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(3)) + body + "0"
        return make_credit_code(prefix + org[:9])

    for name in GOVERNMENT:
        out["government"].append(DemoSubject(KeyFile.generate(code("11120113")), "government", name))
    for name in INSTITUTIONS:
        out["institution"].append(DemoSubject(KeyFile.generate(code("12120113")), "institution", name))
    for stem in ENTERPRISE_STEMS:
        name = f"天津{stem}有限公司"
        out["enterprise"].append(DemoSubject(KeyFile.generate(code("91120113")), "enterprise", name))
    for name in SOCIAL:
        out["social"].append(DemoSubject(KeyFile.generate(code("51120113")), "social_organisation", name))
    for i, name in enumerate(PERSON_NAMES):
        birth = date(1970 + 3 * i, 1 + i, 10 + i)
        id_number = make_citizen_id(f"120113{birth:%Y%m%d}{100 + 7 * i:03d}")
        psn = pseudonym(ledger.platform.pseudonym_key, id_number)
        out["person"].append(DemoSubject(KeyFile.generate(psn), "person", name))
        person_ids[out["person"][-1]] = id_number
    return out


def build_demo(
    ledger: Ledger,
    *,
    contracts: int = 200,
    seed: int = 2026,
    progress: Callable[[int, int], None] | None = None,
) -> list[str]:
    """Append the demo story to ``ledger``; return a few lines describing what was built."""
    rng = random.Random(seed)
    today = datetime.now(UTC).date()
    story = _Story(ledger, rng, today)
    desk = ledger.platform.authority
    clock = ledger.platform.operator
    person_ids: dict[DemoSubject, str] = {}  # persons' ID numbers: only for the encrypted identity store
    subjects = _subjects(rng, ledger, person_ids)
    everyone = [s for group in subjects.values() for s in group]

    # Registration at the desk, then each subject's key.
    for i, s in enumerate(everyone):
        when = _at(START, 1, 0) + timedelta(minutes=2 * i)
        agg = subject_aggregate(s.key.subject)
        name = "" if s.kind == "person" else s.name
        story.add(
            when,
            agg,
            story.by(desk, "subject.registered", agg, {"subject": s.key.subject, "kind": s.kind, "name": name}),
        )
        bind = {
            "subject": s.key.subject,
            "key_id": s.key.key_id,
            "public_key": b64encode(s.key.public_key),
            "algorithm": "ed25519",
        }
        story.add(when + timedelta(minutes=1), agg, story.by(desk, "key.bound", agg, bind))

    # A key rotation: an enterprise reports a lost key; the desk binds a new one and revokes the old.
    rotated = subjects["enterprise"][3]
    new_key = KeyFile.generate(rotated.key.subject)
    agg = subject_aggregate(rotated.key.subject)
    rotate_day = _at(date(2025, 6, 16), 3)
    bind = {
        "subject": new_key.subject,
        "key_id": new_key.key_id,
        "public_key": b64encode(new_key.public_key),
        "algorithm": "ed25519",
    }
    story.add(rotate_day, agg, story.by(desk, "key.bound", agg, bind))
    revoke = {
        "subject": rotated.key.subject,
        "key_id": rotated.key.key_id,
        "reason": "密钥介质遗失，申请更换",
    }
    story.add(rotate_day + timedelta(minutes=5), agg, story.by(desk, "key.revoked", agg, revoke))

    def key_of(s: DemoSubject, when: datetime) -> KeyFile:
        return new_key if s is rotated and when > rotate_day + timedelta(minutes=5) else s.key

    outcomes = {
        "on_time": 0,
        "late": 0,
        "partial": 0,
        "failed": 0,
        "disputed": 0,
        "resolved": 0,
        "overdue": 0,
    }
    buyers = subjects["government"] + subjects["institution"]
    suppliers = subjects["enterprise"] + subjects["social"][:1]
    overdue_clock: list[tuple[str, str, date]] = []
    for n in range(contracts):
        ctype = CONTRACT_TYPES[n % len(CONTRACT_TYPES)]
        buyer = rng.choice(buyers)
        supplier = rng.choice(suppliers)
        parties = [buyer, supplier]
        if ctype == "ppp" and rng.random() < 0.5:
            parties.append(rng.choice([s for s in suppliers if s is not supplier]))
        signed_on = START + timedelta(days=rng.randrange(7, 600))
        amount = rng.randrange(50, 5000) * 10_000 * 100  # fen
        milestones: list[dict[str, Any]] = []
        due = signed_on
        for number in range(rng.randrange(2, 5)):
            due = due + timedelta(days=rng.randrange(20, 120))
            deliverer = rng.choice(parties[1:])
            kind = "payment" if number % 2 == 1 else rng.choice(["delivery", "acceptance", "other"])
            obligor, obligee = (buyer, deliverer) if kind == "payment" else (deliverer, buyer)
            milestones.append(
                {
                    "id": f"m{number + 1}",
                    "obligor": obligor.key.subject,
                    "obligee": obligee.key.subject,
                    "due": due.isoformat(),
                    "kind": kind,
                    "amount": amount // 4 if kind == "payment" else 0,
                    "description": {
                        "payment": "按期支付合同价款",
                        "delivery": "交付货物或服务成果",
                        "acceptance": "组织验收",
                        "other": "提交阶段性报告",
                    }[kind],
                }
            )
        terms = {
            "type": ctype,
            "number": f"BC-{signed_on.year}-{n + 1:04d}",
            "title": rng.choice(TITLES[ctype]),
            "parties": [{"subject": p.key.subject, "role": "甲方" if p is buyer else "乙方"} for p in parties],
            "amount": amount,
            "currency": "CNY",
            "signed_on": signed_on.isoformat(),
            "starts_on": signed_on.isoformat(),
            "ends_on": (due + timedelta(days=30)).isoformat(),
            "document_sha256": _sha(f"contract document {n}"),
            "disclose_amount": rng.random() < 0.6,
            "milestones": milestones,
        }
        digest = terms_digest(terms)
        cid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        t = _at(signed_on - timedelta(days=3))
        story.add(
            t,
            cid,
            story.by(key_of(buyer, t), "contract.proposed", cid, {"terms": terms, "terms_digest": digest}),
        )
        fate = rng.random()
        if fate < 0.03:
            t2 = _at(signed_on - timedelta(days=1))
            story.add(
                t2,
                cid,
                story.by(key_of(buyer, t2), "contract.withdrawn", cid, {"reason": "采购需求调整，撤回要约"}),
            )
            continue
        if fate < 0.06 and signed_on > today - timedelta(days=10):
            continue  # still waiting for the counterparty's consent
        for i, p in enumerate(parties[1:]):
            t2 = _at(signed_on, 2, 10 + i)
            story.add(t2, cid, story.by(key_of(p, t2), "contract.consented", cid, {"terms_digest": digest}))
        if fate > 0.97:
            t3 = _at(signed_on + timedelta(days=15))
            keys = tuple(key_of(p, t3) for p in parties[1:])
            story.add(
                t3,
                cid,
                story.by(key_of(buyer, t3), "contract.terminated", cid, {"reason": "双方协商一致解除合同"}, keys),
            )
            continue
        by_subject = {p.key.subject: p for p in parties}
        for m in milestones:
            m_due = date.fromisoformat(m["due"])
            obligor, obligee = by_subject[m["obligor"]], by_subject[m["obligee"]]
            roll = rng.random()
            if m_due >= today:
                continue
            if roll < 0.08:
                overdue_clock.append((cid, m["id"], m_due))
                outcomes["overdue"] += 1
                continue
            if roll < 0.62:
                on, outcome, amt, label = (
                    m_due - timedelta(days=rng.randrange(0, 10)),
                    "fulfilled",
                    m["amount"],
                    "on_time",
                )
            elif roll < 0.78:
                on, outcome, amt, label = (
                    m_due + timedelta(days=rng.randrange(3, 60)),
                    "fulfilled",
                    m["amount"],
                    "late",
                )
                overdue_clock.append((cid, m["id"], m_due))
            elif roll < 0.85:
                on, outcome, amt, label = m_due, "partial", m["amount"] // 2, "partial"
            elif roll < 0.90:
                on, outcome, amt, label = m_due, "failed", 0, "failed"
            else:
                on, outcome, amt, label = m_due - timedelta(days=1), "fulfilled", m["amount"], "disputed"
            if on > today:
                continue
            t4 = _at(on, 3)
            report = {
                "milestone": m["id"],
                "outcome": outcome,
                "on": on.isoformat(),
                "amount": amt,
                "evidence_sha256": _sha(f"evidence {cid} {m['id']}"),
            }
            story.add(t4, cid, story.by(key_of(obligor, t4), "performance.reported", cid, report))
            t5 = _at(on + timedelta(days=rng.randrange(1, 6)), 4)
            if label != "disputed":
                story.add(
                    t5,
                    cid,
                    story.by(key_of(obligee, t5), "performance.confirmed", cid, {"milestone": m["id"]}),
                )
                outcomes[label] += 1
                continue
            dispute = {"milestone": m["id"], "reason": "交付成果与合同约定的技术参数不符"}
            story.add(t5, cid, story.by(key_of(obligee, t5), "performance.disputed", cid, dispute))
            outcomes["disputed"] += 1
            if rng.random() < 0.6:
                t6 = t5 + timedelta(days=rng.randrange(5, 30))
                resolved_on = on + timedelta(days=3)
                resolution = {
                    "milestone": m["id"],
                    "outcome": "partial",
                    "on": resolved_on.isoformat(),
                    "amount": m["amount"] // 2,
                }
                story.add(
                    t6,
                    cid,
                    story.by(key_of(obligor, t6), "dispute.resolved", cid, resolution, (key_of(obligee, t6),)),
                )
                outcomes["resolved"] += 1

    # The platform's overdue clock: the day after each missed due date.
    for cid, mid, m_due in overdue_clock:
        as_of = m_due + timedelta(days=1)
        story.add(
            _at(as_of, 0, 30),
            cid,
            story.by(clock, "milestone.overdue", cid, {"milestone": mid, "as_of": as_of.isoformat()}),
        )

    # Credit commitments of every kind.
    makers = subjects["enterprise"] + subjects["person"] + subjects["social"]
    commitment_outcomes = {"kept": 0, "broken": 0, "overdue": 0, "open": 0}
    for n in range(100):
        kind = COMMITMENT_KINDS[n % len(COMMITMENT_KINDS)]
        maker = rng.choice(makers)
        authority = rng.choice(subjects["government"])
        made_on = START + timedelta(days=rng.randrange(10, 650))
        deadline = made_on + timedelta(days=rng.randrange(30, 180))
        agg = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        body = {
            "kind": kind,
            "authority": authority.key.subject,
            "content": COMMITMENT_CONTENT[kind],
            "made_on": made_on.isoformat(),
            "deadline": deadline.isoformat(),
            "related": None,
        }
        t = _at(made_on)
        story.add(t, agg, story.by(key_of(maker, t), "commitment.made", agg, body))
        roll = rng.random()
        if deadline >= today or roll < 0.15:
            commitment_outcomes["open"] += 1
            continue
        if roll < 0.65:
            on = deadline - timedelta(days=rng.randrange(1, 20))
            story.add(
                _at(on, 5),
                agg,
                story.by(
                    authority.key,
                    "commitment.kept",
                    agg,
                    {"on": on.isoformat(), "evidence_sha256": _sha(f"kept {agg}")},
                ),
            )
            commitment_outcomes["kept"] += 1
        elif roll < 0.82:
            on = deadline + timedelta(days=2)
            story.add(
                _at(on, 5),
                agg,
                story.by(
                    authority.key,
                    "commitment.broken",
                    agg,
                    {"on": on.isoformat(), "reason": "未在承诺期限内履行承诺事项"},
                ),
            )
            commitment_outcomes["broken"] += 1
        else:
            as_of = deadline + timedelta(days=1)
            story.add(
                _at(as_of, 0, 40),
                agg,
                story.by(clock, "commitment.overdue", agg, {"as_of": as_of.isoformat()}),
            )
            commitment_outcomes["overdue"] += 1

    story.run(progress)
    for person, id_number in person_ids.items():
        store_identity(ledger, person.key.subject, person.name, id_number)
    casework = add_casework(ledger, rng, subjects)
    ledger.checkpoint()
    return [
        f"subjects: {len(everyone)} ({', '.join(f'{k} {len(v)}' for k, v in subjects.items())})",
        f"contracts: {contracts} ({', '.join(CONTRACT_TYPES)}); milestones: "
        + ", ".join(f"{k} {v}" for k, v in outcomes.items()),
        "commitments: 100 (" + ", ".join(f"{k} {v}" for k, v in commitment_outcomes.items()) + ")",
        *casework,
        f"entries: {ledger.size()}",
    ]
