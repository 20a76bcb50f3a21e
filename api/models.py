"""Request and response bodies (pydantic), so that /openapi.json describes every JSON the API speaks."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignatureIn(_In):
    """One signature object of a signed statement."""

    signer: StrictStr
    key_id: StrictStr
    sig: StrictStr


class SignedStatementIn(_In):
    """A signed statement ``{"statement", "signatures"}`` (docs/format.md section 3)."""

    statement: dict[str, Any]
    signatures: list[SignatureIn]


class BatchIn(_In):
    """Up to 1000 signed statements, accepted all together or not at all."""

    statements: list[SignedStatementIn] = Field(min_length=1, max_length=1000)


class Receipt(BaseModel):
    """The log's signed promise that a statement is entry ``index`` (docs/format.md section 8)."""

    origin: str
    index: int
    entry_hash: str
    signature: str


class ErrorOut(BaseModel):
    """Every error: a stable machine ``code``, a message, and details (e.g. ``item`` in a batch)."""

    model_config = ConfigDict(extra="allow")

    code: str
    message: str


class AggregateOut(BaseModel):
    """An aggregate's current version: a new statement on it carries ``version + 1`` (0: no statements)."""

    aggregate: str
    version: int


class SizeOut(BaseModel):
    """The number of entries in the log."""

    size: int


class InclusionProofOut(BaseModel):
    """RFC 9162 inclusion proof of entry ``index`` in the tree of ``size`` entries (base64 hashes)."""

    index: int
    size: int
    proof: list[str]


class ConsistencyProofOut(BaseModel):
    """RFC 9162 consistency proof from tree size ``old`` to ``new`` (base64 hashes)."""

    old: int
    new: int
    proof: list[str]


class CosignedIn(_In):
    """A checkpoint note as returned by a witness, with its cosignature line(s)."""

    note: str = Field(max_length=1 << 20)


class CheckpointOut(BaseModel):
    """A signed checkpoint (C2SP tlog-checkpoint note) and the tree size it covers."""

    size: int
    note: str


class KeyOut(BaseModel):
    """A key bound to a subject; ``public_key`` is shown to the platform's roles only."""

    key_id: str
    public_key: str | None
    bound_at: int
    revoked_at: int | None


class SubjectOut(BaseModel):
    """A registered subject. In the public view the subject id is masked."""

    view: Literal["public", "full"]
    subject: str
    aggregate: str | None
    kind: str
    name: str
    registered_at: int
    keys: list[KeyOut]


class PartyOut(BaseModel):
    """A party of a contract and its role in the terms."""

    subject: str
    role: str


class MilestoneOut(BaseModel):
    """A milestone and its performance; amounts are null in public views of undisclosed contracts."""

    id: str
    obligor: str
    obligee: str
    due: str
    kind: str
    amount_due: int | None
    status: str
    overdue: bool
    reported_by: str | None
    outcome: str | None
    on: str | None
    amount: int | None
    evidence_sha256: str | None
    dispute_reason: str | None
    settled_by: str | None


class JudgmentOut(BaseModel):
    """A judgment applied to a contract."""

    judgment: str
    effect: str
    party: str | None
    milestone: str | None
    outcome: str | None


class ContractOut(BaseModel):
    """A contract's state. ``amount`` is null in the public view unless the terms disclose it."""

    view: Literal["public", "full"]
    aggregate: str
    version: int
    status: str
    completed: bool
    type: str
    number: str
    title: str
    proposer: str
    parties: list[PartyOut]
    consented: list[str]
    amount: int | None
    currency: str
    signed_on: str
    starts_on: str
    ends_on: str
    document_sha256: str
    disclose_amount: bool
    terms_digest: str
    milestones: list[MilestoneOut]
    judgments: list[JudgmentOut]
    terms: dict[str, Any] | None = Field(default=None, description="The whole terms object (full view only).")


class CommitmentOut(BaseModel):
    """A credit commitment's state."""

    view: Literal["public", "full"]
    aggregate: str
    version: int
    maker: str
    authority: str
    kind: str
    content: str
    made_on: str
    deadline: str
    related: int | None
    status: str
    on: str | None
    evidence_sha256: str | None
    reason: str | None
    overdue_as_of: str | None


class CheckIn(_In):
    """Subject ids to check (credit codes or pseudonyms), at most 1000."""

    codes: list[StrictStr] = Field(min_length=1, max_length=1000)


class CheckItem(BaseModel):
    """What the log says of one subject as of a date: registration, open overdue milestones where it is the
    obligor, broken commitments, and its grade (docs/grading.md) when it is registered."""

    subject: str
    registered: bool
    kind: str | None
    overdue_milestones: int
    broken_commitments: int
    score: int | None
    grade: str | None
    arrears_amount: int | None = None  # 拖欠账款, fen: government bodies' overdue payments (roles only)


class CheckOut(BaseModel):
    """The results of a check, in the order asked."""

    as_of: str
    results: list[CheckItem]


class DeskSubjectIn(_In):
    """Register a subject (registration desk)."""

    subject: StrictStr
    kind: Literal["enterprise", "government", "institution", "social_organisation", "person"]
    name: StrictStr


class DeskKeyIn(_In):
    """Bind an Ed25519 public key (base64) to a subject."""

    subject: StrictStr
    public_key: StrictStr


class DeskRevokeIn(_In):
    """Revoke a subject's key."""

    subject: StrictStr
    key_id: StrictStr
    reason: StrictStr


class ClockIn(_In):
    """Run the overdue clock as of a date (not later than today, China Standard Time)."""

    as_of: str = Field(pattern=DATE_PATTERN)


class ClockFailure(BaseModel):
    """A clock statement the log refused (another statement got there first)."""

    aggregate: str
    milestone: str | None
    code: str


class ClockOut(BaseModel):
    """What the clock did: the statements it made and their receipts."""

    as_of: str
    milestones: int
    commitments: int
    receipts: list[Receipt]
    failed: list[ClockFailure]
