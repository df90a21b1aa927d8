"""The GB/T 22239-2019 clauses the policies cite, as data (clauses.yaml), and the check of every citation.

A reference that names a clause missing from the table, quotes wording the clause does not have (a level-2
paraphrase of a level-3 item, say), or is the only support of a policy at a level the clause does not reach,
is refused by `govcloud policy test` and by the unit tests, so `policy explain` pages cite only what an
assessor can look up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from gcloud.model.base import Model, NonEmpty
from gcloud.model.yamlsrc import load_yaml

from .policy import Policy

STANDARD = "GB/T 22239-2019"
TABLE_PATH = Path(__file__).with_name("clauses.yaml")
_CITATION = re.compile(r"^GB/T 22239-2019\s+(?P<number>\d+(?:\.\d+){3})(?:\s+(?P<item>[a-z])\))?\s*(?P<quote>.*)$")
_SPACE = re.compile(r"\s+")
Level = Annotated[int, Field(strict=True, ge=1, le=4)]


class Clause(Model):
    """One clause (a whole subclause cited by title) or one lettered item of it, as the level-3 text has it."""

    number: Annotated[str, Field(strict=True, pattern=r"^\d+(\.\d+){3}$")]
    item: Annotated[str, Field(strict=True, pattern=r"^[a-z]$")] | None = None
    title: NonEmpty
    text: NonEmpty | None = None
    levels: Annotated[list[Level], Field(min_length=1)]

    @property
    def key(self) -> str:
        return f"{self.number} {self.item})" if self.item else self.number

    def quotes(self, quote: str) -> bool:
        """Whether `quote` is this clause's wording: its title, text or "title：text", or a part of them."""
        wanted = _SPACE.sub("", quote).rstrip("。；;")
        if not wanted:
            return True
        haystacks = [self.title, self.text or "", f"{self.title}：{self.text or ''}"]
        return any(wanted in _SPACE.sub("", hay) for hay in haystacks)


class ClauseTable(Model):
    api_version: Literal["govcloud/v1"]
    kind: Literal["ClauseTable"]
    standard: Literal["GB/T 22239-2019"]
    clauses: list[Clause]

    def get(self, key: str) -> Clause | None:
        return self.index.get(key)

    @property
    def index(self) -> dict[str, Clause]:
        return {clause.key: clause for clause in self.clauses}


@cache
def clause_table(path: Path = TABLE_PATH) -> ClauseTable:
    """The shipped table (read once)."""
    return ClauseTable.model_validate(load_yaml(path, str(path)).data)


@dataclass(frozen=True)
class Citation:
    """A parsed reference: `GB/T 22239-2019 8.1.3.2 c) 应对源地址...`."""

    key: str
    quote: str


def parse_citation(reference: str) -> Citation | None:
    """The clause a reference cites, or None when it cites another standard (GB 32100-2015, ...)."""
    if not reference.startswith(STANDARD):
        return None
    match = _CITATION.match(reference.strip())
    if match is None:
        return Citation("", reference)
    number, item = match.group("number"), match.group("item")
    return Citation(f"{number} {item})" if item else number, match.group("quote").strip())


@dataclass(frozen=True, order=True)
class CitationProblem:
    policy_id: str
    reference: str
    message: str


def citation_problems(policies: Iterable[Policy], table: ClauseTable | None = None) -> list[CitationProblem]:
    """Every reference of every policy checked against the table; empty when all hold."""
    table = table or clause_table()
    problems: list[CitationProblem] = []
    for policy in policies:
        problems += _policy_problems(policy, table)
    return sorted(problems)


def _policy_problems(policy: Policy, table: ClauseTable) -> list[CitationProblem]:
    problems: list[CitationProblem] = []
    cited: list[Clause] = []
    for reference in policy.spec.references:
        citation = parse_citation(reference)
        if citation is None:
            continue
        clause = table.get(citation.key) if citation.key else None
        if not citation.key:
            problems.append(CitationProblem(policy.id, reference, f"write it as '{STANDARD} 8.1.3.2 c) <wording>'"))
        elif clause is None:
            problems.append(CitationProblem(policy.id, reference,
                                            f"cites {citation.key}, which the clause table does not have"))
        elif not clause.quotes(citation.quote):
            problems.append(CitationProblem(policy.id, reference, (
                f"quotes wording that is not {clause.key}'s ({clause.title}: {clause.text or clause.title})")))
        else:
            cited.append(clause)
    return problems + _level_problems(policy, cited)


def _level_problems(policy: Policy, cited: Sequence[Clause]) -> list[CitationProblem]:
    """A policy scoped to levels must cite, for each of them, a clause the standard applies at that level."""
    if not cited:
        return []
    reached = {level for clause in cited for level in clause.levels}
    missing = sorted(set(policy.spec.applies_to.mlps_levels) - reached)
    if not missing:
        return []
    return [CitationProblem(policy.id, "appliesTo", (
        f"applies at MLPS level {', '.join(map(str, missing))}, where none of its cited clauses applies"))]


def describe(reference: str, table: ClauseTable | None = None) -> str:
    """A reference as `policy explain` prints it: the text, then the table's title and levels."""
    citation = parse_citation(reference)
    clause = (table or clause_table()).get(citation.key) if citation and citation.key else None
    if clause is None:
        return reference
    levels = ", ".join(str(level) for level in clause.levels)
    return f"{reference} [{clause.title}; levels {levels}]"
