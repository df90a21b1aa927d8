"""The log's records and how they chain: canonical JSON, sha256 links, and what a checkpoint signs (pure).

Every line is one record with `seq` (1, 2, 3, ...) and `prev` (sha256 of the previous record's canonical JSON).
Event records use CADF (DMTF DSP0262) field names: id, eventTime, action, outcome, initiator, target, observer.
Checkpoint records carry an Ed25519 signature over (seq, hash) of the record before them, so rewriting the chain
needs the private key. A record is stored in exactly its canonical form, so editing any byte shows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from .event import AuditEvent
from .scrub import scrub_detail, scrub_text

FORMAT = "govcloud-audit/1"
GENESIS = "0" * 64
CADF_EVENT = "http://schemas.dmtf.org/cloud/audit/1.0/event"
CHECKPOINT = "govcloud/audit/checkpoint"
OBSERVER: Mapping[str, str] = {"typeURI": "service/govcloud", "id": "govcloud", "name": "govcloud"}


def canonical(record: Mapping[str, Any]) -> bytes:
    """The one byte form of a record: sorted keys, no spaces, UTF-8 (Chinese kept as is)."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def record_hash(record: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()


def timestamp(when: dt.datetime) -> str:
    """UTC ISO 8601 with microseconds and a Z, as CADF's eventTime."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def signed_payload(purpose: str, seq: int, hash_: str) -> bytes:
    """What a signature covers: the purpose (checkpoint or head) keeps one from standing in for the other."""
    return canonical({"format": FORMAT, "purpose": purpose, "seq": seq, "hash": hash_})


def event_record(event: AuditEvent, *, seq: int, prev: str, id_: str, when: dt.datetime,
                 known_secrets: tuple[str, ...] = ()) -> dict[str, Any]:
    """The stored form of an event, scrubbed of anything that looks like a secret."""
    return {
        "seq": seq,
        "prev": prev,
        "id": id_,
        "typeURI": CADF_EVENT,
        "eventType": "activity",
        "eventTime": timestamp(when),
        "action": event.action,
        "outcome": event.outcome,
        "initiator": {"typeURI": "service/security/account/user", "name": event.actor},
        "target": {"typeURI": "govcloud/tenant", "id": event.tenant, "name": event.tenant},
        "observer": dict(OBSERVER),
        "ticket": scrub_text(event.ticket, known_secrets) if event.ticket is not None else None,
        "digestBefore": event.digest_before,
        "digestAfter": event.digest_after,
        "changes": [{"op": op, "kind": kind, "name": scrub_text(name, known_secrets)}
                    for op, kind, name in event.changes],
        "detail": scrub_detail(event.detail, known_secrets),
    }


def checkpoint_record(*, seq: int, prev: str, id_: str, when: dt.datetime, key: str,
                      signature: str) -> dict[str, Any]:
    """A signed statement that the chain up to seq-1 ends in `prev`."""
    return {
        "seq": seq,
        "prev": prev,
        "id": id_,
        "typeURI": CHECKPOINT,
        "eventTime": timestamp(when),
        "observer": dict(OBSERVER),
        "signed": {"seq": seq - 1, "hash": prev},
        "key": key,
        "signature": signature,
    }


def is_checkpoint(record: Mapping[str, Any]) -> bool:
    return record.get("typeURI") == CHECKPOINT


def event_from_record(record: Mapping[str, Any]) -> AuditEvent:
    """The event a stored record describes (KeyError/TypeError/ValueError when the record is malformed)."""
    return AuditEvent(
        actor=str(record["initiator"]["name"]),
        action=str(record["action"]),
        tenant=str(record["target"]["id"]),
        outcome=str(record["outcome"]),
        digest_before=record.get("digestBefore"),
        digest_after=record.get("digestAfter"),
        ticket=record.get("ticket"),
        changes=tuple((str(c["op"]), str(c["kind"]), str(c["name"])) for c in record.get("changes", [])),
        detail={str(k): str(v) for k, v in (record.get("detail") or {}).items()},
    )
