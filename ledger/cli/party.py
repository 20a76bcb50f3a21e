"""``lvyue`` commands a party runs with its key file, speaking HTTP to a served log (``--url``, env LVYUE_URL).

Each command fetches what it needs (the log's origin, the aggregate's version, a contract's terms digest),
builds the statement, signs it locally with ``ledger.client.sign`` and posts it; it prints the receipt as JSON.
Statements creating a contract or commitment print its id on stderr. The registration desk's commands take the
authority's bearer token (``--token``, env LVYUE_TOKEN).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import click
import httpx

from ledger.client import KeyFile, new_aggregate_id, sign
from verifier.errors import VerifierError
from verifier.identity import check_subject_id
from verifier.note import parse_verifier_key
from verifier.statement import b64encode, terms_digest

DEFAULT_URL = "http://127.0.0.1:8000"


class ApiFailure(click.ClickException):
    """The server refused a request; the message starts with its error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"[{code}] {message} (HTTP {status})")
        self.status = status
        self.code = code


class Api:
    """A small client of the lvyue HTTP API."""

    def __init__(self, url: str, transport: httpx.BaseTransport | None = None, token: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.Client(base_url=url, transport=transport, timeout=60.0, headers=headers)
        self._origin: str | None = None

    def request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """Send a request; return the response when it succeeded.

        Raises:
            ApiFailure: the server answered with an error (its code and message), or could not be reached.
        """
        try:
            response = self.client.request(method, path, json=body)
        except httpx.HTTPError as e:
            raise ApiFailure(0, "unreachable", f"{self.client.base_url}: {e}") from None
        if response.status_code >= 400:
            try:
                err = response.json()
                code, message = str(err.get("code")), str(err.get("message"))
            except (ValueError, AttributeError):
                code, message = "http_error", response.text[:200]
            raise ApiFailure(response.status_code, code, message)
        return response

    def get(self, path: str) -> Any:
        """GET a JSON resource.

        Raises:
            ApiFailure: as ``request``.
        """
        return self.request("GET", path).json()

    def post(self, path: str, body: Any) -> Any:
        """POST JSON and return the JSON answer.

        Raises:
            ApiFailure: as ``request``.
        """
        return self.request("POST", path, body).json()

    @property
    def origin(self) -> str:
        """The log's origin, read from its verifier key."""
        if self._origin is None:
            vkey = self.request("GET", "/log/key").text.strip()
            self._origin = parse_verifier_key(vkey)[0]
        return self._origin

    def version(self, aggregate: str) -> int:
        """The aggregate's current version."""
        return int(self.get(f"/aggregates/{aggregate}")["version"])

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()


def _api(ctx: click.Context, url: str, token: str | None = None) -> Api:
    obj = ctx.find_root().obj
    transport = obj.get("transport") if isinstance(obj, dict) else None
    return Api(url, transport=transport, token=token)


def _load_keys(paths: tuple[Path, ...]) -> list[KeyFile]:
    keys = []
    for p in paths:
        try:
            keys.append(KeyFile.load(p))
        except (OSError, VerifierError) as e:
            raise click.BadParameter(f"{p}: {e}", param_hint="--key") from None
    return keys


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise click.BadParameter(f"{path}: {e}") from None


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def _check_uuid(aggregate: str) -> str:
    try:
        return str(uuid.UUID(aggregate))
    except ValueError:
        raise click.BadParameter(f"{aggregate!r} is not a UUID") from None


def _submit(
    ctx: click.Context,
    url: str,
    key_paths: tuple[Path, ...],
    type: str,
    aggregate: str,
    body: dict[str, Any],
    *,
    create: bool = False,
) -> None:
    keys = _load_keys(key_paths)
    api = _api(ctx, url)
    try:
        version = 1 if create else api.version(aggregate) + 1
        signed = sign(keys[0], api.origin, type, aggregate, version, body, cosigners=keys[1:])
        receipt = api.post("/statements", signed)
    finally:
        api.close()
    if create:
        click.echo(f"aggregate {aggregate}", err=True)
    click.echo(json.dumps(receipt, ensure_ascii=False))


url_option = click.option(
    "--url", envvar="LVYUE_URL", default=DEFAULT_URL, show_default=True, help="The log's API (env LVYUE_URL)."
)
key_option = click.option(
    "--key", "keys", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Key file."
)
keys_option = click.option(
    "--key",
    "keys",
    type=click.Path(dir_okay=False, path_type=Path),
    multiple=True,
    required=True,
    help="Key file; give one per signer (the first is the actor).",
)
token_option = click.option(
    "--token", envvar="LVYUE_TOKEN", required=True, help="The registration authority's token (env LVYUE_TOKEN)."
)
date_type = click.DateTime(formats=["%Y-%m-%d"])


def _date(value: Any) -> str:
    return str(value.date().isoformat())


@click.command()
@click.argument("subject")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Key file to write.")
def keygen(subject: str, out: Path) -> None:
    """Generate an Ed25519 key file for SUBJECT (credit code or pseudonym); print its key id and public key."""
    try:
        check_subject_id(subject)
    except VerifierError as e:
        raise click.BadParameter(str(e), param_hint="SUBJECT") from None
    if out.exists():
        raise click.BadParameter(f"{out} exists; not overwriting a key", param_hint="--out")
    key = KeyFile.generate(subject)
    key.save(out)
    click.echo(json.dumps({"subject": subject, "key_id": key.key_id, "public_key": b64encode(key.public_key)}))


@click.group()
def contract() -> None:
    """Contracts: propose, consent, amend, withdraw, terminate."""


@contract.command()
@url_option
@key_option
@click.option("--terms", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Terms JSON.")
@click.option("--id", "aggregate", default=None, help="Contract id (default: a new random UUID).")
@click.pass_context
def propose(ctx: click.Context, url: str, keys: Path, terms: Path, aggregate: str | None) -> None:
    """Propose a contract with the terms in a JSON file (the proposer consents by proposing)."""
    t = _read_json(terms)
    agg = _check_uuid(aggregate) if aggregate else new_aggregate_id()
    body = {"terms": t, "terms_digest": terms_digest(t)}
    _submit(ctx, url, (keys,), "contract.proposed", agg, body, create=True)


@contract.command()
@url_option
@key_option
@click.argument("aggregate")
@click.pass_context
def consent(ctx: click.Context, url: str, keys: Path, aggregate: str) -> None:
    """Consent to the proposed contract AGGREGATE's current terms."""
    api = _api(ctx, url)
    try:
        digest = api.get(f"/contracts/{_check_uuid(aggregate)}")["terms_digest"]
    finally:
        api.close()
    _submit(ctx, url, (keys,), "contract.consented", aggregate, {"terms_digest": digest})


@contract.command()
@url_option
@keys_option
@click.argument("aggregate")
@click.option("--terms", type=click.Path(dir_okay=False, path_type=Path), required=True, help="New terms JSON.")
@click.pass_context
def amend(ctx: click.Context, url: str, keys: tuple[Path, ...], aggregate: str, terms: Path) -> None:
    """Amend a registered contract (joint: a --key for every party)."""
    t = _read_json(terms)
    body = {"terms": t, "terms_digest": terms_digest(t)}
    _submit(ctx, url, keys, "contract.amended", _check_uuid(aggregate), body)


@contract.command()
@url_option
@key_option
@click.argument("aggregate")
@click.option("--reason", required=True)
@click.pass_context
def withdraw(ctx: click.Context, url: str, keys: Path, aggregate: str, reason: str) -> None:
    """Withdraw a proposal (the proposer)."""
    _submit(ctx, url, (keys,), "contract.withdrawn", _check_uuid(aggregate), {"reason": reason})


@contract.command()
@url_option
@keys_option
@click.argument("aggregate")
@click.option("--reason", required=True)
@click.pass_context
def terminate(ctx: click.Context, url: str, keys: tuple[Path, ...], aggregate: str, reason: str) -> None:
    """Terminate a registered contract (joint: a --key for every party)."""
    _submit(ctx, url, keys, "contract.terminated", _check_uuid(aggregate), {"reason": reason})


@click.group()
def perform() -> None:
    """Performance of a milestone: report, confirm, dispute."""


@perform.command()
@url_option
@key_option
@click.argument("aggregate")
@click.argument("milestone")
@click.option("--outcome", type=click.Choice(["fulfilled", "partial", "failed"]), required=True)
@click.option("--on", "on", type=date_type, required=True, help="Performance date YYYY-MM-DD.")
@click.option("--amount", type=int, required=True, help="Amount performed, in fen.")
@click.option(
    "--evidence", type=click.Path(dir_okay=False, exists=True, path_type=Path), required=True, help="Evidence file."
)
@click.pass_context
def report(
    ctx: click.Context,
    url: str,
    keys: Path,
    aggregate: str,
    milestone: str,
    outcome: str,
    on: Any,
    amount: int,
    evidence: Path,
) -> None:
    """Report performance of MILESTONE (obligor or obligee); the evidence file is hashed here, never sent."""
    body = {
        "milestone": milestone,
        "outcome": outcome,
        "on": _date(on),
        "amount": amount,
        "evidence_sha256": _sha256_file(evidence),
    }
    _submit(ctx, url, (keys,), "performance.reported", _check_uuid(aggregate), body)


@perform.command()
@url_option
@key_option
@click.argument("aggregate")
@click.argument("milestone")
@click.pass_context
def confirm(ctx: click.Context, url: str, keys: Path, aggregate: str, milestone: str) -> None:
    """Confirm the other side's report on MILESTONE."""
    _submit(ctx, url, (keys,), "performance.confirmed", _check_uuid(aggregate), {"milestone": milestone})


@perform.command("dispute")
@url_option
@key_option
@click.argument("aggregate")
@click.argument("milestone")
@click.option("--reason", required=True)
@click.pass_context
def perform_dispute(ctx: click.Context, url: str, keys: Path, aggregate: str, milestone: str, reason: str) -> None:
    """Dispute the other side's report on MILESTONE."""
    body = {"milestone": milestone, "reason": reason}
    _submit(ctx, url, (keys,), "performance.disputed", _check_uuid(aggregate), body)


@click.group()
def dispute() -> None:
    """Disputes: resolve."""


@dispute.command()
@url_option
@keys_option
@click.argument("aggregate")
@click.argument("milestone")
@click.option("--outcome", type=click.Choice(["fulfilled", "partial", "failed"]), required=True)
@click.option("--on", "on", type=date_type, required=True)
@click.option("--amount", type=int, required=True)
@click.pass_context
def resolve(
    ctx: click.Context,
    url: str,
    keys: tuple[Path, ...],
    aggregate: str,
    milestone: str,
    outcome: str,
    on: Any,
    amount: int,
) -> None:
    """Resolve a disputed milestone (joint: obligor's and obligee's keys)."""
    body = {"milestone": milestone, "outcome": outcome, "on": _date(on), "amount": amount}
    _submit(ctx, url, keys, "dispute.resolved", _check_uuid(aggregate), body)


@click.group()
def commitment() -> None:
    """Credit commitments: make, keep, break."""


@commitment.command()
@url_option
@key_option
@click.option(
    "--kind",
    type=click.Choice(
        [
            "approval_substitute",
            "deficiency_acceptance",
            "certification_substitute",
            "industry_self_discipline",
            "credit_repair",
            "voluntary_disclosure",
            "other",
        ]
    ),
    required=True,
)
@click.option("--authority", required=True, help="Subject id of the authority the commitment is made to.")
@click.option("--content", required=True)
@click.option("--made-on", type=date_type, required=True)
@click.option("--deadline", type=date_type, required=True)
@click.option("--related", type=int, default=None, help="Index of a related earlier entry.")
@click.option("--id", "aggregate", default=None, help="Commitment id (default: a new random UUID).")
@click.pass_context
def make(
    ctx: click.Context,
    url: str,
    keys: Path,
    kind: str,
    authority: str,
    content: str,
    made_on: Any,
    deadline: Any,
    related: int | None,
    aggregate: str | None,
) -> None:
    """Make a credit commitment."""
    body = {
        "kind": kind,
        "authority": authority,
        "content": content,
        "made_on": _date(made_on),
        "deadline": _date(deadline),
        "related": related,
    }
    agg = _check_uuid(aggregate) if aggregate else new_aggregate_id()
    _submit(ctx, url, (keys,), "commitment.made", agg, body, create=True)


@commitment.command()
@url_option
@key_option
@click.argument("aggregate")
@click.option("--on", "on", type=date_type, required=True)
@click.option("--evidence", type=click.Path(dir_okay=False, exists=True, path_type=Path), required=True)
@click.pass_context
def keep(ctx: click.Context, url: str, keys: Path, aggregate: str, on: Any, evidence: Path) -> None:
    """Record that a commitment was kept (its authority)."""
    body = {"on": _date(on), "evidence_sha256": _sha256_file(evidence)}
    _submit(ctx, url, (keys,), "commitment.kept", _check_uuid(aggregate), body)


@commitment.command("break")
@url_option
@key_option
@click.argument("aggregate")
@click.option("--on", "on", type=date_type, required=True)
@click.option("--reason", required=True)
@click.pass_context
def break_(ctx: click.Context, url: str, keys: Path, aggregate: str, on: Any, reason: str) -> None:
    """Record that a commitment was broken (its authority)."""
    _submit(ctx, url, (keys,), "commitment.broken", _check_uuid(aggregate), {"on": _date(on), "reason": reason})


@click.group()
def desk() -> None:
    """The registration desk (authority's token): register subjects, bind and revoke keys."""


def _desk_post(ctx: click.Context, url: str, token: str, path: str, body: dict[str, Any]) -> None:
    api = _api(ctx, url, token)
    try:
        click.echo(json.dumps(api.post(path, body), ensure_ascii=False))
    finally:
        api.close()


@desk.command("register")
@url_option
@token_option
@click.argument("subject")
@click.option(
    "--kind",
    type=click.Choice(["enterprise", "government", "institution", "social_organisation", "person"]),
    required=True,
)
@click.option("--name", default="", help="Organisation name (empty for persons).")
@click.pass_context
def desk_register(ctx: click.Context, url: str, token: str, subject: str, kind: str, name: str) -> None:
    """Register SUBJECT."""
    _desk_post(ctx, url, token, "/desk/subjects", {"subject": subject, "kind": kind, "name": name})


@desk.command()
@url_option
@token_option
@click.argument("subject")
@click.option("--public-key", default=None, help="Base64 Ed25519 public key.")
@click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Or a key file.")
@click.pass_context
def bind(ctx: click.Context, url: str, token: str, subject: str, public_key: str | None, key_file: Path | None) -> None:
    """Bind a public key to SUBJECT (give --public-key or --key-file)."""
    if (public_key is None) == (key_file is None):
        raise click.UsageError("give exactly one of --public-key and --key-file")
    if key_file is not None:
        public_key = b64encode(_load_keys((key_file,))[0].public_key)
    _desk_post(ctx, url, token, "/desk/keys", {"subject": subject, "public_key": public_key})


@desk.command()
@url_option
@token_option
@click.argument("subject")
@click.argument("key_id")
@click.option("--reason", required=True)
@click.pass_context
def revoke(ctx: click.Context, url: str, token: str, subject: str, key_id: str, reason: str) -> None:
    """Revoke SUBJECT's key KEY_ID."""
    _desk_post(ctx, url, token, "/desk/keys/revoke", {"subject": subject, "key_id": key_id, "reason": reason})


@click.command()
@url_option
@click.argument("aggregate")
@click.pass_context
def status(ctx: click.Context, url: str, aggregate: str) -> None:
    """Print the state of contract or commitment AGGREGATE as JSON."""
    agg = _check_uuid(aggregate)
    api = _api(ctx, url)
    try:
        try:
            state = api.get(f"/contracts/{agg}")
            state["kind_of_aggregate"] = "contract"
        except ApiFailure as e:
            if e.status != 404:
                raise
            state = api.get(f"/commitments/{agg}")
            state["kind_of_aggregate"] = "commitment"
    finally:
        api.close()
    click.echo(json.dumps(state, ensure_ascii=False, indent=2))


@click.group()
def operator() -> None:
    """The platform operator (operator's token): the overdue clock and checkpoints."""


@operator.command("clock")
@url_option
@token_option
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    required=True,
    help="Mark overdue what was due before this date.",
)
@click.pass_context
def operator_clock(ctx: click.Context, url: str, token: str, as_of: Any) -> None:
    """Run the overdue clock: every milestone and commitment past due as of AS_OF becomes overdue."""
    _desk_post(ctx, url, token, "/operator/clock", {"as_of": _date(as_of)})


@operator.command("checkpoint")
@url_option
@token_option
@click.pass_context
def operator_checkpoint(ctx: click.Context, url: str, token: str) -> None:
    """Issue a checkpoint if the tree grew; print the latest."""
    _desk_post(ctx, url, token, "/operator/checkpoint", {})


def register(group: click.Group) -> None:
    """Add this module's commands to ``group``."""
    for command in (keygen, contract, perform, dispute, commitment, desk, operator, status):
        group.add_command(command)
