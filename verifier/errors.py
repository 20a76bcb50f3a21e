"""The verifier's exceptions: one base, subclasses that carry what was wrong.

    VerifierError
     +-- CanonicalizationError      value outside the canonical JSON data model, or bytes not canonical
     +-- FormatError                malformed input: note, checkpoint, proof file, bundle line, statement, key
     |    +-- IdentifierError       invalid credit code (GB 32100-2015) or citizen ID number (GB 11643-1999)
     +-- SignatureError             a signature does not verify (carries key id / name)
     |    +-- UnknownKeyError       no key of that id is bound (at that log position)
     +-- ProofError                 an inclusion or consistency proof does not check
     +-- RuleViolation              a statement is not legal after the ones before it (carries a code)
     +-- VerificationError          a log, bundle, proof file or report failed verification: carries
                                    ``index`` (first bad entry, or None), ``kind`` (docs/format.md, "Failure
                                    kinds"), ``expected`` and ``found``

Functions document which of these they raise. Nothing here prints or exits: the command line maps these to
exit codes, the ledger and the HTTP API to their own errors.
"""

from __future__ import annotations

from typing import Any


class VerifierError(Exception):
    """Base of every error raised by the verifier package."""


class CanonicalizationError(VerifierError):
    """A value cannot be canonicalised, or bytes are not in canonical form."""


class FormatError(VerifierError):
    """Input is malformed: it does not follow the syntax docs/format.md gives it."""


class IdentifierError(FormatError):
    """An identifier (unified social credit code, citizen ID number, pseudonym) is invalid.

    ``part`` names what is wrong: ``length``, ``charset``, ``registration_authority``, ``division``,
    ``birth_date``, ``check_character`` ...
    """

    def __init__(self, message: str, *, value: str = "", part: str = "") -> None:
        super().__init__(message)
        self.value = value
        self.part = part


class SignatureError(VerifierError):
    """A signature does not verify."""

    def __init__(self, message: str, *, key_id: str = "", name: str = "") -> None:
        super().__init__(message)
        self.key_id = key_id
        self.name = name


class UnknownKeyError(SignatureError):
    """No key of that id is known, or none is valid at that log position (never bound, or revoked)."""


class ProofError(VerifierError):
    """A Merkle inclusion or consistency proof does not check."""


class RuleViolation(VerifierError):
    """A statement is not legal after the statements before it.

    ``code`` is a stable machine-readable reason (for example ``not_a_party``, ``self_confirmation``,
    ``terms_mismatch``, ``illegal_transition``); the message says it for people.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class VerificationError(VerifierError):
    """A log, bundle, tlog-proof file or credit report failed verification.

    ``kind`` is one of the failure kinds listed in docs/format.md; ``index`` is the first bad entry's index
    when the failure belongs to an entry.
    """

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        index: int | None = None,
        expected: Any = None,
        found: Any = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.index = index
        self.expected = expected
        self.found = found

    def to_dict(self) -> dict[str, Any]:
        """The error as a JSON-ready object (``--json`` output)."""
        return {
            "ok": False,
            "kind": self.kind,
            "index": self.index,
            "message": str(self),
            "expected": self.expected,
            "found": self.found,
        }
