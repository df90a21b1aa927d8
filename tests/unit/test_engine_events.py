"""Engine events (in the engine's own JSON event format) -> per-resource changes and progress lines."""

from __future__ import annotations

from typing import Any

from pulumi.automation import EngineEvent

from gcloud.engine.events import ChangeOp, EventKind, Recorder, StackEvent

TYPE = "pulumi-python:dynamic:Resource"


def _urn(name: str, kind: str = TYPE) -> str:
    return f"urn:pulumi:dept-a::govcloud::{kind}::{name}"


def _step(event: str, op: str, name: str, kind: str = TYPE, old: dict[str, Any] | None = None,
          new: dict[str, Any] | None = None, **extra: Any) -> EngineEvent:
    metadata: dict[str, Any] = {"op": op, "urn": _urn(name, kind), "type": kind, "provider": "", **extra}
    if old is not None:
        metadata["old"] = {"type": kind, "urn": _urn(name, kind), "inputs": old, "outputs": old}
    if new is not None:
        metadata["new"] = {"type": kind, "urn": _urn(name, kind), "inputs": new, "outputs": new}
    return EngineEvent.from_json({event: {"metadata": metadata}})


def _pre(op: str, name: str, **kwargs: Any) -> EngineEvent:
    return _step("resourcePreEvent", op, name, **kwargs)


def _record(*events: EngineEvent, operation: str = "up", preview: bool = False,
            secrets: tuple[str, ...] = ()) -> tuple[Recorder, list[StackEvent]]:
    lines: list[StackEvent] = []
    recorder = Recorder("dept-a", operation, lines.append, secrets, preview=preview)
    for event in events:
        recorder(event)
    return recorder, lines


def test_a_replacement_is_one_change_and_bookkeeping_is_left_out() -> None:
    recorder, lines = _record(
        _pre("same", "govcloud-dept-a", kind="pulumi:pulumi:Stack"),
        _pre("create", "default", kind="pulumi:providers:pulumi-python"),
        _pre("create-replacement", "net", old={"cidr": "10.0.0.0/24"}, new={"cidr": "10.0.1.0/24"}),
        _pre("replace", "net", old={"cidr": "10.0.0.0/24"}, new={"cidr": "10.0.1.0/24"}),
        _pre("delete-replaced", "net", old={"cidr": "10.0.0.0/24"}),
        _pre("same", "quota"),
    )
    changes = {c.name: c for c in recorder.changes()}
    assert set(changes) == {"net", "quota"}
    assert changes["net"].op is ChangeOp.REPLACE and changes["net"].keys == ("cidr",)
    assert changes["quota"].op is ChangeOp.SAME
    assert [line.message for line in lines] == [f"replace net ({TYPE}) [cidr]"]  # announced once; same is quiet


def test_changed_keys_come_from_the_engine_when_it_says_and_ignore_internal_inputs() -> None:
    recorder, _ = _record(
        _pre("update", "a", old={"x": 1, "__provider": "p1"}, new={"x": 1, "__provider": "p2"}, diffs=["y"]),
        _pre("update", "b", old={"x": 1, "y": 2, "__provider": "p1"}, new={"x": 1, "y": 3, "__provider": "p2"}),
    )
    assert {c.name: c.keys for c in recorder.changes()} == {"a": ("y",), "b": ("y",)}


def test_refresh_drift_comes_from_outputs_events_and_compares_outputs() -> None:
    recorder, lines = _record(
        _pre("refresh", "file", old={"content": "one"}, new={"content": "one"}),
        _step("resOutputsEvent", "update", "file", old={"content": "one"}, new={"content": "drifted"}),
        operation="refresh", preview=True,
    )
    (change,) = recorder.changes()
    assert change.op is ChangeOp.UPDATE and change.keys == ("content",)
    assert [str(line) for line in lines] == [f"dept-a: would update file ({TYPE}) [content]"]


def test_error_diagnostics_are_kept_for_classification_and_masked_in_lines() -> None:
    diagnostic = EngineEvent.from_json({"diagnosticEvent": {
        "message": "cloud refused token s3cr3t\n", "severity": "error", "color": "never", "urn": _urn("x")}})
    debug = EngineEvent.from_json({"diagnosticEvent": {"message": "noise", "severity": "debug", "color": "never"}})
    recorder, lines = _record(diagnostic, debug, secrets=("s3cr3t",))
    assert [d.message for d in recorder.diagnostics] == ["cloud refused token [secret]"]
    assert [(line.kind, line.message) for line in lines] == [
        (EventKind.DIAGNOSTIC, "error: x: cloud refused token [secret]")]


def test_the_stacks_outputs_are_taken_from_its_last_outputs_event() -> None:
    from gcloud.engine.stack import _output_value

    secret = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "[secret]"}
    recorder, _ = _record(
        _pre("same", "govcloud-dept-a", kind="pulumi:pulumi:Stack", new={}),
        _step("resOutputsEvent", "same", "govcloud-dept-a", kind="pulumi:pulumi:Stack",
              new={"projectId": "p1", "token": secret, "nets": [{"id": "n1"}, secret]}),
    )
    assert recorder.stack_outputs is not None
    values = {key: _output_value(value) for key, value in recorder.stack_outputs.items()}
    assert (values["projectId"].value, values["projectId"].secret) == ("p1", False)
    assert (values["token"].value, values["token"].secret) == ("[secret]", True)
    assert (values["nets"].value, values["nets"].secret) == ([{"id": "n1"}, "[secret]"], True)
    assert _record(_pre("create", "net", new={"cidr": "10.0.0.0/24"}))[0].stack_outputs is None
