"""Submitting statements: every acceptance yields a receipt and an entry; every refusal stores nothing."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from ledger.client import KeyFile, sign
from ledger.errors import BadSignature, MalformedInput, RuleRejected, VersionConflict
from ledger.parties import Party, bind_key, operator, revoke_key
from ledger.service import Ledger
from tests.ledger.scenario import enterprise, evidence, government, registered_contract, terms
from verifier.entry import parse_entry
from verifier.hashing import entry_hash
from verifier.receipt import verify_receipt
from verifier.statement import terms_digest


def _refused(ledger: Ledger, error: type[Exception], code: str, signed: dict[str, Any]) -> None:
    size = ledger.size()
    with pytest.raises(error) as info:
        ledger.submit(signed)
    assert getattr(info.value, "code", None) == code, info.value
    assert ledger.size() == size, "a refused statement must store nothing"


def test_genesis_binds_the_platform_keys(ledger: Ledger) -> None:
    genesis = parse_entry(ledger.entry(0))
    assert genesis.statement["type"] == "log.genesis"
    assert genesis.prev is None
    assert set(genesis.links) == {ledger.operator, ledger.authority}
    assert ledger.is_registered(ledger.operator) and ledger.is_registered(ledger.authority)


def test_contract_life_with_receipts_and_chain(ledger: Ledger) -> None:
    buyer, supplier = government(ledger), enterprise(ledger)
    cid, _ = registered_contract(ledger, buyer, supplier)
    receipt = supplier.submit(
        "performance.reported",
        cid,
        {"milestone": "m1", "outcome": "fulfilled", "on": "2026-02-27", "amount": 0, "evidence_sha256": evidence()},
    )
    verify_receipt(receipt, ledger.verifier_key)
    assert entry_hash(ledger.entry(receipt["index"])).hex() == receipt["entry_hash"]
    buyer.submit("performance.confirmed", cid, {"milestone": "m1"})
    buyer.submit(
        "performance.reported",
        cid,
        {
            "milestone": "m2",
            "outcome": "fulfilled",
            "on": "2026-03-30",
            "amount": 1_000_000,
            "evidence_sha256": evidence(),
        },
    )
    supplier.submit("performance.confirmed", cid, {"milestone": "m2"})
    version, state = ledger.aggregate(cid)
    assert version == 6
    assert state.completed
    # The chain: contiguous indexes, each prev the hash of the entry before, subject links back to the last.
    previous: bytes | None = None
    last_about: dict[str, int] = {}
    for index, data in ledger.entries(0, ledger.size()):
        entry = parse_entry(data)
        assert entry.index == index
        assert entry.prev == (previous.hex() if previous else None)
        for subject, link in entry.links.items():
            assert link == last_about.get(subject)
            last_about[subject] = index
        previous = entry_hash(data)


def test_replayed_statement_is_refused(ledger: Ledger) -> None:
    buyer, supplier = government(ledger), enterprise(ledger)
    cid = str(uuid.uuid4())
    t = terms(buyer, supplier)
    signed = buyer.statement("contract.proposed", cid, {"terms": t, "terms_digest": terms_digest(t)})
    ledger.submit(copy.deepcopy(signed))
    _refused(ledger, VersionConflict, "version_conflict", signed)


def test_version_from_the_future_is_refused(ledger: Ledger) -> None:
    buyer, supplier = government(ledger), enterprise(ledger)
    cid, _ = registered_contract(ledger, buyer, supplier)
    signed = buyer.statement("contract.terminated", cid, {"reason": "x"}, cosigners=[supplier], version=9)
    _refused(ledger, VersionConflict, "version_conflict", signed)


def test_wrong_signature_is_refused(ledger: Ledger) -> None:
    buyer, supplier = government(ledger), enterprise(ledger)
    t = terms(buyer, supplier)
    signed = buyer.statement("contract.proposed", str(uuid.uuid4()), {"terms": t, "terms_digest": terms_digest(t)})
    signed["statement"]["body"]["terms"]["amount"] = 2_000_000  # changed after signing
    signed["statement"]["body"]["terms_digest"] = terms_digest(signed["statement"]["body"]["terms"])
    _refused(ledger, BadSignature, "bad_signature", signed)


def test_unknown_key_is_refused(ledger: Ledger) -> None:
    buyer, supplier = government(ledger), enterprise(ledger)
    stranger = Party(ledger, KeyFile.generate(buyer.subject))  # a key never bound to the buyer
    t = terms(buyer, supplier)
    signed = stranger.statement("contract.proposed", str(uuid.uuid4()), {"terms": t, "terms_digest": terms_digest(t)})
    _refused(ledger, BadSignature, "unknown_key", signed)


def test_revoked_key_is_refused_and_rotation_works(ledger: Ledger) -> None:
    buyer, supplier = government(ledger), enterprise(ledger)
    new_key = KeyFile.generate(buyer.subject)
    bind_key(ledger, buyer.subject, new_key)
    revoke_key(ledger, buyer.subject, buyer.key.key_id, "rotation")
    t = terms(buyer, supplier)
    cid = str(uuid.uuid4())
    old = buyer.statement("contract.proposed", cid, {"terms": t, "terms_digest": terms_digest(t)})
    _refused(ledger, BadSignature, "revoked_key", old)
    Party(ledger, new_key).submit("contract.proposed", cid, {"terms": t, "terms_digest": terms_digest(t)})
    assert ledger.version(cid) == 1


def test_unregistered_party_is_refused(ledger: Ledger) -> None:
    buyer = government(ledger)
    ghost = Party(ledger, KeyFile.generate("91120113MA0000099X"))
    t = terms(buyer, ghost)
    signed = buyer.statement("contract.proposed", str(uuid.uuid4()), {"terms": t, "terms_digest": terms_digest(t)})
    with pytest.raises((RuleRejected, MalformedInput)):
        ledger.submit(signed)


def test_invalid_credit_code_is_malformed(ledger: Ledger) -> None:
    body = {"subject": "91120113MA0000011X", "kind": "enterprise", "name": "坏码公司"}  # wrong check character
    size = ledger.size()
    with pytest.raises(MalformedInput) as info:
        ledger.submit_as_platform("authority", "subject.registered", str(uuid.uuid4()), body)
    assert "check" in str(info.value)
    assert ledger.size() == size


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s.pop("signatures"),
        lambda s: s["statement"].pop("version"),
        lambda s: s["statement"].__setitem__("version", "2"),
        lambda s: s["statement"].__setitem__("extra", 1),
        lambda s: s["signatures"][0].__setitem__("sig", "not base64!"),
        lambda s: s["statement"]["body"].__setitem__("terms_digest", "zz"),
        lambda s: s["statement"].__setitem__("time", "yesterday"),
    ],
)
def test_malformed_statements_are_refused(ledger: Ledger, mangle: Any) -> None:
    buyer, supplier = government(ledger), enterprise(ledger)
    t = terms(buyer, supplier)
    signed = buyer.statement("contract.proposed", str(uuid.uuid4()), {"terms": t, "terms_digest": terms_digest(t)})
    mangle(signed)
    _refused(ledger, MalformedInput, "malformed", signed)


def test_statement_for_another_log_is_refused(ledger: Ledger) -> None:
    buyer, supplier = government(ledger), enterprise(ledger)
    t = terms(buyer, supplier)
    signed = sign(
        buyer.key,
        "other.example/log",
        "contract.proposed",
        str(uuid.uuid4()),
        1,
        {"terms": t, "terms_digest": terms_digest(t)},
    )
    _refused(ledger, RuleRejected, "wrong_origin", signed)


def test_reporter_cannot_confirm_own_report(ledger: Ledger) -> None:
    buyer, supplier = government(ledger), enterprise(ledger)
    cid, _ = registered_contract(ledger, buyer, supplier)
    supplier.submit(
        "performance.reported",
        cid,
        {"milestone": "m1", "outcome": "fulfilled", "on": "2026-02-27", "amount": 0, "evidence_sha256": evidence()},
    )
    _refused(
        ledger, RuleRejected, "self_confirmation", supplier.statement("performance.confirmed", cid, {"milestone": "m1"})
    )


def test_registration_needs_every_party_to_sign_the_same_terms(ledger: Ledger) -> None:
    buyer, supplier = government(ledger), enterprise(ledger)
    cid = str(uuid.uuid4())
    t = terms(buyer, supplier)
    buyer.submit("contract.proposed", cid, {"terms": t, "terms_digest": terms_digest(t)})
    other = dict(t, amount=5)
    _refused(
        ledger,
        RuleRejected,
        "terms_mismatch",
        supplier.statement("contract.consented", cid, {"terms_digest": terms_digest(other)}),
    )
    assert ledger.aggregate(cid)[1].status == "proposed"


def test_joint_termination_needs_every_party(ledger: Ledger) -> None:
    buyer, supplier = government(ledger), enterprise(ledger)
    cid, _ = registered_contract(ledger, buyer, supplier)
    _refused(
        ledger, RuleRejected, "missing_signature", buyer.statement("contract.terminated", cid, {"reason": "协商解除"})
    )
    buyer.submit("contract.terminated", cid, {"reason": "协商解除"}, cosigners=[supplier])
    assert ledger.aggregate(cid)[1].status == "terminated"


def test_only_the_operator_runs_the_clock(ledger: Ledger) -> None:
    buyer, supplier = government(ledger), enterprise(ledger)
    cid, _ = registered_contract(ledger, buyer, supplier)
    body = {"milestone": "m1", "as_of": "2026-03-02"}
    _refused(ledger, RuleRejected, "wrong_role", buyer.statement("milestone.overdue", cid, body))
    operator(ledger).submit("milestone.overdue", cid, body)
    assert ledger.aggregate(cid)[1].milestones["m1"].overdue


def test_commitment_kept_only_by_its_authority(ledger: Ledger) -> None:
    maker, authority, other = enterprise(ledger), government(ledger), government(ledger)
    agg = str(uuid.uuid4())
    maker.submit(
        "commitment.made",
        agg,
        {
            "kind": "approval_substitute",
            "authority": authority.subject,
            "content": "承诺按期补齐材料",
            "made_on": "2026-01-10",
            "deadline": "2026-03-10",
            "related": None,
        },
    )
    kept = {"on": "2026-02-01", "evidence_sha256": evidence()}
    _refused(ledger, RuleRejected, "wrong_role", other.statement("commitment.kept", agg, kept))
    authority.submit("commitment.kept", agg, kept)
    assert ledger.aggregate(agg)[1].status == "kept"


def test_batch_is_all_or_nothing(ledger: Ledger) -> None:
    buyer, supplier = government(ledger), enterprise(ledger)
    t1, t2 = terms(buyer, supplier), terms(buyer, supplier)
    good = buyer.statement("contract.proposed", str(uuid.uuid4()), {"terms": t1, "terms_digest": terms_digest(t1)})
    bad = supplier.statement("contract.proposed", str(uuid.uuid4()), {"terms": t2, "terms_digest": "0" * 64})
    size = ledger.size()
    with pytest.raises(RuleRejected) as info:
        ledger.submit_batch([good, bad])
    assert info.value.details["item"] == 1
    assert ledger.size() == size
    receipts = ledger.submit_batch([good])
    assert receipts[0]["index"] == size


def test_state_survives_reopening(ledger: Ledger) -> None:
    buyer, supplier = government(ledger), enterprise(ledger)
    cid, _ = registered_contract(ledger, buyer, supplier)
    size = ledger.size()
    again = Ledger.open(ledger.settings)
    try:
        assert again.size() == size
        assert again.aggregate(cid)[1].status == "registered"
        assert again.verifier_key == ledger.verifier_key
        Party(again, supplier.key).submit("contract.terminated", cid, {"reason": "协商"}, cosigners=[buyer])
        assert again.aggregate(cid)[1].status == "terminated"
    finally:
        again.close()
    # The first ledger's cached state is stale; it catches up instead of refusing the next valid statement.
    with pytest.raises(RuleRejected):
        buyer.submit("contract.terminated", cid, {"reason": "again"}, cosigners=[supplier])


def test_statement_from_the_future_is_refused(ledger: Ledger) -> None:
    buyer, supplier = government(ledger), enterprise(ledger)
    t = terms(buyer, supplier)
    body = {"terms": t, "terms_digest": terms_digest(t)}
    signed = buyer.statement("contract.proposed", str(uuid.uuid4()), body, time="2099-01-01T00:00:00Z")
    _refused(ledger, RuleRejected, "time_in_future", signed)


def test_entries_spliced_from_parts_equal_whole_canonicalisation(ledger: Ledger) -> None:
    from verifier.canonical import canonicalize

    buyer, supplier = government(ledger), enterprise(ledger)
    registered_contract(ledger, buyer, supplier)
    for _, data in ledger.entries(0, ledger.size()):
        entry = parse_entry(data)
        whole = {
            "index": entry.index,
            "prev": entry.prev,
            "links": dict(entry.links),
            "statement": dict(entry.statement),
            "signatures": list(entry.signatures),
            "received": entry.received,
        }
        assert canonicalize(whole) == data


def test_commitment_must_relate_to_an_earlier_entry(ledger: Ledger) -> None:
    maker, authority = enterprise(ledger), government(ledger)
    body = {
        "kind": "credit_repair",
        "authority": authority.subject,
        "content": "承诺已纠正失信行为",
        "made_on": "2026-01-10",
        "deadline": "2026-03-10",
        "related": ledger.size() + 5,
    }
    _refused(ledger, RuleRejected, "bad_reference", maker.statement("commitment.made", str(uuid.uuid4()), body))
    maker.submit("commitment.made", str(uuid.uuid4()), dict(body, related=1))


def test_a_revoked_key_is_never_bound_again(ledger: Ledger) -> None:
    supplier = enterprise(ledger)
    replacement = KeyFile.generate(supplier.subject)
    bind_key(ledger, supplier.subject, replacement)
    revoke_key(ledger, supplier.subject, supplier.key.key_id, "lost")
    size = ledger.size()
    with pytest.raises(RuleRejected):
        bind_key(ledger, supplier.subject, supplier.key)
    assert ledger.size() == size


def test_batched_inclusion_proofs_equal_single_ones(ledger: Ledger) -> None:
    buyer, supplier = government(ledger), enterprise(ledger)
    registered_contract(ledger, buyer, supplier)
    size = ledger.size()
    indexes = list(range(size))
    batched = ledger.prove_inclusions(indexes, size)
    assert batched == {i: ledger.prove_inclusion(i, size) for i in indexes}
    found = ledger.entries_at([0, size - 1, size + 10])
    assert found == {0: ledger.entry(0), size - 1: ledger.entry(size - 1)}


def test_bad_signature_outranks_the_other_refusals_of_one_statement(ledger: Ledger) -> None:
    """A lone statement's signature is verified while its rules and its write go on: a bad signature is still
    the error reported, and nothing is stored, whether the statement also breaks a rule or replays one."""
    buyer, supplier = government(ledger), enterprise(ledger)
    cid, _ = registered_contract(ledger, buyer, supplier)
    # Breaks a rule too (no milestone m9).
    bad_rule = buyer.statement("performance.confirmed", cid, {"milestone": "m9"})
    _spoil(bad_rule)
    _refused(ledger, BadSignature, "bad_signature", bad_rule)
    # A replay of an accepted statement, its signature then spoiled: refused for the signature, not the version.
    t = terms(buyer, supplier)
    fresh = buyer.statement("contract.proposed", str(uuid.uuid4()), {"terms": t, "terms_digest": terms_digest(t)})
    ledger.submit(copy.deepcopy(fresh))
    _spoil(fresh)
    _refused(ledger, BadSignature, "bad_signature", fresh)
    # Well signed: the rule's error.
    rule = buyer.statement("performance.confirmed", cid, {"milestone": "m9"})
    with pytest.raises(RuleRejected):
        ledger.submit(rule)


def _spoil(signed: dict[str, Any]) -> None:
    """Change one base64 digit in the middle of the first signature (still 64 bytes of canonical base64)."""
    sig = signed["signatures"][0]["sig"]
    signed["signatures"][0]["sig"] = sig[:20] + ("A" if sig[20] != "A" else "B") + sig[21:]


def test_checkpoint_freshness_serves_the_last_issued_within_the_interval(ledger: Ledger) -> None:
    buyer, supplier = government(ledger), enterprise(ledger)
    first = ledger.checkpoint()
    assert ledger.checkpoint(freshness=3600) == first
    registered_contract(ledger, buyer, supplier)
    assert ledger.checkpoint(freshness=3600) == first, "issued moments ago: served as it is"
    fresh = ledger.checkpoint()
    assert fresh != first and int(fresh.split("\n")[1]) == ledger.size()
    assert ledger.checkpoint(freshness=3600) == fresh
