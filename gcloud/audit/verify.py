"""Walk the stored log and name the first line that is not as written (pure: the signature check is handed in).

What each kind of tampering looks like here:
- a byte edited: the line is no longer canonical JSON, or the next line's `prev` no longer matches it;
- a line deleted, or two swapped: the sequence numbers jump (a swap is told apart by finding the missing one later);
- the end cut off: a partial last line, or fewer entries than the signed head records;
- the chain re-written with fresh hashes: the checkpoints' signatures no longer verify, and no one without
  the private key can make new ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .chain import GENESIS, canonical, event_from_record, is_checkpoint, record_hash, signed_payload
from .event import AuditVerification
from .store import StoredLog

Check = Callable[[bytes, str], bool]


@dataclass
class _Walk:
    events: int = 0
    checkpoints: int = 0
    covered: int = 0  # the last line a verified checkpoint vouches for (itself included)

    def broken(self, line: int, reason: str, seq: int | None = None) -> AuditVerification:
        return AuditVerification(False, self.events, line, reason, line if seq is None else seq, self.checkpoints)


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _seq_lines(lines: tuple[bytes, ...]) -> dict[int, int]:
    """seq -> line for every line that parses, to tell a swap (the missing seq is further on) from a deletion."""
    found: dict[int, int] = {}
    for number, raw in enumerate(lines, 1):
        record = _parse(raw)
        if record is not None and isinstance(record.get("seq"), int):
            found.setdefault(record["seq"], number)
    return found


def verify_stored(stored: StoredLog, check: Check, key: str) -> AuditVerification:
    """The first broken line (1-based) and why, or ok with the number of events and checkpoints."""
    walk = _Walk()
    prev = GENESIS
    records: list[dict[str, Any]] = []
    seqs: dict[int, int] | None = None
    for line, raw in enumerate(stored.lines, 1):
        record = _parse(raw)
        if record is None:
            return walk.broken(line, f"line {line} is not a JSON record: it was edited or damaged")
        if canonical(record) != raw:
            return walk.broken(line, f"line {line} was edited: it is not byte for byte as it was written")
        seq = record.get("seq")
        if seq != line:
            seqs = seqs if seqs is not None else _seq_lines(stored.lines)
            if line in seqs:
                return walk.broken(line, f"line {line} holds sequence {seq} and sequence {line} is on line "
                                         f"{seqs[line]}: entries were reordered")
            return walk.broken(line, f"sequence {line} is missing (line {line} holds {seq}): an entry was deleted")
        if record.get("prev") != prev:
            signed = record.get("signed")
            if line == 1 or (is_checkpoint(record) and isinstance(signed, dict) and signed.get("hash") == prev):
                link = f"link to line {line - 1}" if line > 1 else "start the chain"
                return walk.broken(line, f"line {line} was edited: it does not {link}")
            return walk.broken(line - 1, f"line {line - 1} was edited: its hash no longer matches the one line "
                                         f"{line} records (or that record was)")
        problem = _checkpoint_problem(record, prev, check, key) if is_checkpoint(record) else _event_problem(record)
        if problem and is_checkpoint(record):
            if _recorded_after(stored, line) not in (None, record_hash(record)):
                return walk.broken(line, f"line {line} (a signed checkpoint) was edited: its hash no longer "
                                         "matches the one recorded after it")
            first = walk.covered + 1
            return walk.broken(first, f"the signature on line {line} (sequence {line}) does not verify ({problem}): "
                                      f"lines {first}-{line - 1} were re-written without the key")
        if problem:
            return walk.broken(line, f"line {line} is not a valid entry ({problem})")
        if is_checkpoint(record):
            walk.checkpoints += 1
            walk.covered = line
        else:
            walk.events += 1
        records.append(record)
        prev = record_hash(record)
    end = len(stored.lines)
    if stored.partial:
        return walk.broken(end + 1, f"line {end + 1} is incomplete: the log was truncated in the middle of an entry")
    if end and walk.covered != end:
        return walk.broken(walk.covered + 1, f"lines {walk.covered + 1}-{end} are not covered by a signed "
                                             "checkpoint: the log was truncated or written without the key")
    return _head_check(walk, stored.head, records, check, key) or AuditVerification(
        True, walk.events, None, f"{walk.events} entries and {walk.checkpoints} signed checkpoints verify",
        None, walk.checkpoints)


def _recorded_after(stored: StoredLog, line: int) -> str | None:
    """The hash the next line (or, after the last line, the head) records for `line`; None when unreadable."""
    if line < len(stored.lines):
        following = _parse(stored.lines[line])
        value = following.get("prev") if following else None
    else:
        head = _parse(stored.head.rstrip(b"\n")) if stored.head else None
        value = head.get("hash") if head and head.get("seq") == line else None
    return value if isinstance(value, str) else None


def _event_problem(record: Mapping[str, Any]) -> str:
    try:
        event_from_record(record)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        return f"{type(err).__name__}: {err}"
    return ""


def _checkpoint_problem(record: Mapping[str, Any], prev: str, check: Check, key: str) -> str:
    signed = record.get("signed")
    if not isinstance(signed, dict) or signed.get("seq") != record["seq"] - 1 or signed.get("hash") != prev:
        return "it does not sign the entry before it"
    if record.get("key") != key:
        return f"signed by key {record.get('key')}, not {key}"
    signature = record.get("signature")
    if not isinstance(signature, str) or not check(signed_payload("checkpoint", signed["seq"], prev), signature):
        return "bad signature"
    return ""


def _head_check(walk: _Walk, head: bytes | None, records: list[dict[str, Any]], check: Check,
                key: str) -> AuditVerification | None:
    """The signed head records the newest entry, so cutting whole entries off the end shows too."""
    end = len(records)
    if head is None:
        if end == 0:
            return None
        return walk.broken(end + 1, "the log's signed head file is missing: entries after line "
                                    f"{end} may have been removed")
    data = _parse(head.rstrip(b"\n"))
    if (data is None or not isinstance(data.get("seq"), int) or not isinstance(data.get("signature"), str)
            or data.get("key") != key
            or not check(signed_payload("head", data["seq"], str(data.get("hash"))), data["signature"])):
        return walk.broken(end + 1, "the log's head does not verify: it was re-written without the key")
    recorded: int = data["seq"]
    if recorded > end:
        return walk.broken(end + 1, f"the log ends at sequence {end} but its signed head records sequence "
                                    f"{recorded}: it was truncated")
    if recorded >= 1 and record_hash(records[recorded - 1]) != data["hash"]:
        return walk.broken(recorded, f"line {recorded} is not the entry the signed head records: the log was "
                                     "re-written")
    return None
