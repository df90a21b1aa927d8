"""A small real Pulumi dynamic resource for the engine tests: a text file in a folder the test owns.

It lives in an importable module (not the test file) because the engine pickles the provider into the state and
the provider process (`pulumi-resource-pulumi-python`) imports it back by name. `read` makes refresh (drift)
work; `delay` holds a create/update open (to test locking); `fail` makes the provider refuse with a message that
includes the secret token, as a careless provider might, so the tests can check that govcloud masks it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

from gcloud.engine.stack import ProgramFn

COMPARED = ("path", "content", "token", "fail")


class TextFileProvider(ResourceProvider):
    """create/read/update/delete/diff of one file; keeps no client or handle (it is pickled into state)."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        _act(props)
        return CreateResult(id_=props["path"], outs=dict(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        path = Path(props["path"])
        if not path.exists():
            return ReadResult(id_="", outs={})
        return ReadResult(id_=id_, outs={**props, "content": path.read_text(encoding="utf-8")})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in COMPARED if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(changed), replaces=["path"] if "path" in changed else [])

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        _act(news)
        return UpdateResult(outs=dict(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        Path(props["path"]).unlink(missing_ok=True)


def _act(props: dict[str, Any]) -> None:
    time.sleep(float(props.get("delay") or 0))
    if props.get("fail"):
        raise RuntimeError(f"cloud refused: {props['fail']} (request token {props.get('token')})")
    Path(props["path"]).write_text(props["content"], encoding="utf-8")


class TextFile(Resource):
    path: pulumi.Output[str]
    content: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TextFileProvider(), name, props, opts)


def files_program(directory: str, files: dict[str, str], delay: float = 0.0, fail: str = "",
                  secret_key: str = "") -> ProgramFn:
    """The program factory: one TextFile per entry of `files` (name -> content) under `directory`.

    With `secret_key`, the secret config value of that key goes into every file's `token` input and is
    exported as `token`; `delay` and `fail` apply to every file.
    """

    def program() -> None:
        token = pulumi.Config().require_secret(secret_key) if secret_key else None
        for name, content in sorted(files.items()):
            props: dict[str, Any] = {"path": str(Path(directory) / f"{name}.txt"), "content": content,
                                     "delay": delay, "fail": fail, "token": token}
            resource = TextFile(name, props)
            pulumi.export(f"{name}_path", resource.path)
        if token is not None:
            pulumi.export("token", token)
        pulumi.export("count", len(files))

    return program
