"""Building a real ledger with a little of everything, and tampering with its bundle."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ledger.client import KeyFile
from ledger.parties import Party, bind_key, operator, register, revoke_key
from ledger.service import Ledger
from verifier.checkpoint import Checkpoint, parse_checkpoint_note, sign_checkpoint
from verifier.entry import encode_entry
from verifier.hashing import entry_hash, leaf_hash
from verifier.identity import make_credit_code
from verifier.merkle import CompactRange
from verifier.note import Signer
from verifier.statement import terms_digest

ORIGIN = "test.lvyue.example/log"


@dataclass
class Built:
    """A populated ledger's export and what the tests need to know about it."""

    lines: list[bytes]
    verifier_key: str
    log_seed: bytes
    marks: dict[str, int] = field(default_factory=dict)
    keys: dict[str, KeyFile] = field(default_factory=dict)

    def entry_line(self, index: int) -> int:
        """Position in ``lines`` of entry ``index``."""
        prefix = b'{"index":%d,' % index
        return next(i for i, line in enumerate(self.lines) if line.startswith(prefix))


def today() -> str:
    """Today's date in China Standard Time as statements see it."""
    import datetime

    return (datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=8)).date().isoformat()


def populate(led: Ledger) -> tuple[dict[str, int], dict[str, KeyFile]]:
    """Subjects, a contract with performance, commitments, a key rotation and revocation, checkpoints."""
    marks: dict[str, int] = {}
    led.checkpoint()
    a = register(led, make_credit_code("91120113MA0000011"), "enterprise", "甲公司")
    b = register(led, make_credit_code("11120113MB0000037"), "government", "乙局")
    c = register(led, make_credit_code("91120113MA0000020"), "enterprise", "丙公司")
    led.checkpoint()
    cid = str(uuid.uuid4())
    terms = {
        "type": "government_procurement",
        "number": "BC-2026-001",
        "title": "办公设备采购",
        "parties": [{"subject": b.subject, "role": "buyer"}, {"subject": a.subject, "role": "supplier"}],
        "amount": 100000,
        "currency": "CNY",
        "signed_on": "2026-01-05",
        "starts_on": "2026-01-05",
        "ends_on": "2026-12-31",
        "document_sha256": "ab" * 32,
        "disclose_amount": True,
        "milestones": [
            {
                "id": "m1",
                "obligor": a.subject,
                "obligee": b.subject,
                "due": "2026-03-01",
                "kind": "delivery",
                "amount": 0,
                "description": "交付",
            },
            {
                "id": "m2",
                "obligor": b.subject,
                "obligee": a.subject,
                "due": "2026-04-01",
                "kind": "payment",
                "amount": 100000,
                "description": "付款",
            },
        ],
    }
    digest = terms_digest(terms)
    b.submit("contract.proposed", cid, {"terms": terms, "terms_digest": digest})
    a.submit("contract.consented", cid, {"terms_digest": digest})
    on = "2026-01-10" if today() >= "2026-01-10" else today()
    marks["reported"] = a.submit(
        "performance.reported",
        cid,
        {"milestone": "m1", "outcome": "fulfilled", "on": on, "amount": 0, "evidence_sha256": "cd" * 32},
    )["index"]
    marks["confirmed"] = b.submit("performance.confirmed", cid, {"milestone": "m1"})["index"]
    led.checkpoint()
    mid = str(uuid.uuid4())
    made = {
        "kind": "approval_substitute",
        "authority": b.subject,
        "content": "按期补交材料",
        "made_on": on,
        "deadline": "2027-01-01",
        "related": None,
    }
    c.submit("commitment.made", mid, made)
    b.submit("commitment.kept", mid, {"on": on, "evidence_sha256": "ef" * 32})
    # key rotation of c: bind a new key, revoke the old one
    new_c = KeyFile.generate(c.subject)
    bind_key(led, c.subject, new_c)
    marks["revoked"] = revoke_key(led, c.subject, c.key.key_id, "rotation")["index"]
    c2 = Party(led, new_c)
    mid2 = str(uuid.uuid4())
    marks["after_rotation"] = c2.submit("commitment.made", mid2, {**made, "content": "主动公示"})["index"]
    operator(led)
    led.checkpoint()
    return marks, {"a": a.key, "b": b.key, "c_old": c.key, "c_new": new_c}


def export(led: Ledger) -> list[bytes]:
    """The ledger's bundle as lines (without newlines)."""
    buf = io.BytesIO()
    led.export(buf)
    return buf.getvalue().splitlines()


def rechain(lines: list[bytes], log_seed: bytes) -> list[bytes]:
    """Recompute every entry's ``prev`` and every checkpoint (re-signed with the log key) after edits.

    Entries keep their statements, signatures and links; only the hash chain and the checkpoints follow them,
    so whatever was edited is the only thing wrong.
    """
    out: list[bytes] = []
    prev: bytes | None = None
    tree = CompactRange()
    signer: Signer | None = None
    for line in lines:
        if line.startswith(b'{"index":'):
            e = orjson.loads(line)
            data = encode_entry(e["index"], prev, e["links"], e["statement"], e["signatures"], e["received"])
            prev = entry_hash(data)
            tree.append(leaf_hash(data))
            out.append(data)
            continue
        obj: dict[str, Any] = orjson.loads(line)
        if obj.get("kind") == "checkpoint":
            cp, _ = parse_checkpoint_note(obj["note"])
            signer = signer or Signer(cp.origin, log_seed)
            note = sign_checkpoint(Checkpoint(cp.origin, cp.size, tree.root()), signer)
            out.append(orjson.dumps({"kind": "checkpoint", "note": note}))
            continue
        out.append(line)
    return out


def as_bundle(lines: list[bytes]) -> list[bytes]:
    """Lines with their newlines, as a file would give them."""
    return [line + b"\n" for line in lines]


def write(path: Path, lines: list[bytes]) -> Path:
    """Write the lines as a bundle file."""
    path.write_bytes(b"".join(as_bundle(lines)))
    return path
