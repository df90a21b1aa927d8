"""What every govcloud dynamic provider shares: input cleanup, the diff rule, and the read-back contract.

Providers are pickled into Pulumi state with dill. They hold no attributes at all (no client, no lock): every
method receives the resource's properties, resolves its client from the cloud or context name in them, and
returns plain JSON-like values. State therefore holds ids and inputs, never a credential.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar, Final

from pulumi.dynamic import DiffResult, ResourceProvider

PROVIDER_KEY = "__provider"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""The value Pulumi gives an input that is not known yet during a preview (pulumi.runtime.rpc.UNKNOWN)."""


FOREIGN: Final = "foreign"
"""Output of a container resource (a security group, a project, a network, a namespace): the members govcloud did
not create, as `{"kind", "id", "summary", ...}`. A refresh fills it; the next update evicts them."""
KEEP_FOREIGN_ENV: Final = "GOVCLOUD_KEEP_FOREIGN"
"""Set to 1 for a run that reports foreign members but leaves them (`apply --refresh --keep-foreign`)."""


def keep_foreign() -> bool:
    return os.environ.get(KEEP_FOREIGN_ENV) == "1"


def foreign_change(olds: Mapping[str, Any]) -> list[str]:
    """`["foreign"]` when the refreshed state holds foreign members this run must evict."""
    return [FOREIGN] if olds.get(FOREIGN) and not keep_foreign() else []


def member(kind: str, id_: str, summary: str, **attrs: Any) -> dict[str, Any]:
    """One foreign member as it is reported (and, through `attrs`, mapped back to the tenant model)."""
    return {"kind": kind, "id": id_, "summary": summary, **attrs}


def plain(value: Any) -> Any:
    """Pulumi sends every number as a float; APIs want 443 and 131072, not 443.0."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def inputs_of(props: Mapping[str, Any]) -> dict[str, Any]:
    """The resource's own properties: Pulumi's serialized provider removed, numbers made integral."""
    cleaned: dict[str, Any] = plain({key: value for key, value in props.items() if key != PROVIDER_KEY})
    return cleaned


def _contains_unknown(value: Any) -> bool:
    if value == UNKNOWN:
        return True
    if isinstance(value, Mapping):
        return any(_contains_unknown(item) for item in value.values())
    if isinstance(value, list):
        return any(_contains_unknown(item) for item in value)
    return False


def changed_keys(olds: Mapping[str, Any], news: Mapping[str, Any], computed: frozenset[str]) -> list[str]:
    """Input keys whose value differs between the recorded state and the program's new inputs."""
    old, new = inputs_of(olds), inputs_of(news)
    keys = (set(new) | set(old)) - computed
    return sorted(key for key in keys if _contains_unknown(new.get(key)) or old.get(key) != new.get(key))


class GovProvider(ResourceProvider):
    """Base of all govcloud providers: declares which inputs force a replacement and which keys are computed.

    `diff` compares the state (outputs = inputs + computed keys, refreshed from the cloud by `read`) with the new
    inputs, so drift found by a refresh shows up as an update that puts the declared value back.
    """

    serialize_as_secret_always = False  # nothing secret is captured; keep state readable and diffs cheap
    replace_keys: ClassVar[frozenset[str]] = frozenset({"cloud"})
    computed_keys: ClassVar[frozenset[str]] = frozenset()
    delete_before_replace: ClassVar[bool] = False

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        changed = changed_keys(_olds, _news, self.computed_keys | {FOREIGN}) + foreign_change(_olds)
        replaces = [key for key in changed if key in self.replace_keys]
        return DiffResult(changes=bool(changed), replaces=replaces,
                          delete_before_replace=self.delete_before_replace if replaces else None)
