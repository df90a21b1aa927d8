"""Token-level facts about a CEL expression, and the rewrite that makes evaluation fast.

Why a rewrite: the evaluator copies a map's member every time an expression selects it, so
`tenant.spec.contacts.owner.email` copies the whole spec, then contacts, then owner (measured ~8-100 us
per select on a real tenant), and converting a Python dict into CEL values costs ~3 us per string key.
The rewrite replaces each static field chain rooted at a global (`tenant.spec.contacts.owner.email`) by one
pre-bound variable whose value Python looks up directly, so only the values rules read are converted, once
per tenant, and no select copies anything. Semantics are kept:

- a chain whose value cannot be looked up (a null or missing parent) is left unbound: evaluating it is an
  error, exactly as selecting through null is; short-circuited branches never touch it;
- `X == null` / `X != null` binds a marker (null or true) instead of converting X;
- `has(a.b.c)` keeps its last select (has() needs one).

Two more facts serve the checker (evaluate.py): what a rule reads of the lists it iterates (`needs`, so only
those fields are converted: `project`), and where it calls `matches` (`rewrite_matches`, so a regex is compiled
once per run rather than at every call).

Reviewers and error messages only ever see the source as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(r"""
    (?P<space>\s+|//[^\n]*)
  | (?P<string>[rRbB]{0,2}(?:'''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"|'(?:\\.|[^\\'\n])*'|"(?:\\.|[^\\"\n])*"))
  | (?P<number>0[xX][0-9A-Fa-f]+[uU]?|[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?[uU]?|\.[0-9]+(?:[eE][+-]?[0-9]+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>&&|\|\||==|!=|<=|>=|[-+*/%!<>?:.,()\[\]{}])
""", re.VERBOSE)

MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})


class CelSyntaxError(ValueError):
    """A character CEL does not know."""


@dataclass(frozen=True)
class Token:
    kind: str
    text: str


def tokens(source: str) -> list[Token]:
    """CEL tokens without whitespace and comments."""
    found: list[Token] = []
    position = 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None:
            raise CelSyntaxError(f"unexpected character {source[position]!r} at offset {position}")
        kind = match.lastgroup or ""
        if kind != "space":
            found.append(Token(kind, match.group()))
        position = match.end()
    return found


@dataclass(frozen=True)
class Shape:
    """Names bound by comprehension macros (`x` in `list.all(x, ...)`) and how deep the macros nest."""

    bound: frozenset[str]
    depth: int


def shape(items: list[Token]) -> Shape:
    bound: set[str] = set()
    stack: list[bool] = []  # one entry per open bracket: True when it opens a macro call
    depth = 0
    macro_next = False
    for index, token in enumerate(items):
        if token.kind == "ident":
            before = items[index - 1].text if index else ""
            after = items[index + 1].text if index + 1 < len(items) else ""
            macro_next = before == "." and token.text in MACROS and after == "("
            if macro_next and index + 3 < len(items) and items[index + 3].text == ",":
                bound.add(items[index + 2].text)
        elif token.kind == "punct" and token.text in "([{":
            stack.append(macro_next and token.text == "(")
            depth = max(depth, sum(stack))
            macro_next = False
        elif token.kind == "punct" and token.text in ")]}" and stack:
            stack.pop()
    return Shape(frozenset(bound), depth)


_MISSING = object()


@dataclass(frozen=True)
class Binding:
    """A variable the rewritten expression reads: a global, or a field chain below one (`path`)."""

    name: str
    root: str
    path: tuple[str, ...] = ()
    null_marker: bool = False
    """Bound to null when the value is null, else to true: enough for `== null`, nothing to convert."""

    def value(self, roots: Mapping[str, Any]) -> Any:
        """The value to bind, or `_MISSING` when a parent is null or a key is absent (left unbound)."""
        value = roots.get(self.root, _MISSING)
        for key in self.path:
            try:
                value = value[key]
            except (KeyError, TypeError, IndexError):  # absent key, or a null / scalar / list parent
                return _MISSING
        if self.null_marker:
            return None if value is None else True
        return value


def bind(bindings: frozenset[Binding] | set[Binding], roots: Mapping[str, Any]) -> dict[str, Any]:
    """Variables for a context: every binding that can be looked up in `roots`."""
    variables: dict[str, Any] = {}
    for binding in bindings:
        value = binding.value(roots)
        if value is not _MISSING:
            variables[binding.name] = value
    return variables


def binding_for(root: str, path: tuple[str, ...] = (), null_marker: bool = False) -> Binding:
    """The one binding for a chain: its name is derived from the chain, so equal chains share a variable."""
    if not path:
        return Binding(root, root)
    prefix = "__n" if null_marker else "__v"
    name = prefix + "".join(f"_{len(part)}{part}" for part in (root, *path))  # length-prefixed: no collisions
    return Binding(name, root, path, null_marker)


def flatten(items: list[Token], roots: frozenset[str]) -> tuple[str, frozenset[Binding]]:
    """Rewrite static chains below `roots` into bound variables; the new source and what it reads."""
    out: list[str] = []
    bindings: set[Binding] = set()
    index = 0
    while index < len(items):
        token = items[index]
        before = items[index - 1].text if index else ""
        if token.kind != "ident" or token.text not in roots or before == ".":
            out.append(token.text)
            index += 1
            continue
        path, end = _chain(items, index)
        if path and _inside_has(items, index, end):
            path, end = path[:-1], end - 2
        null_marker = bool(path) and _compared_with_null(items, index, end)
        binding = binding_for(token.text, tuple(path), null_marker)
        bindings.add(binding)
        out.append(binding.name)
        index = end
    return " ".join(out), frozenset(bindings)


def _chain(items: list[Token], start: int) -> tuple[list[str], int]:
    """Field names selected after `items[start]` (`.name` not followed by a call); the index after them."""
    path: list[str] = []
    index = start + 1
    while (index + 1 < len(items) and items[index].text == "." and items[index + 1].kind == "ident"
           and not (index + 2 < len(items) and items[index + 2].text == "(")):
        path.append(items[index + 1].text)
        index += 2
    return path, index


def _inside_has(items: list[Token], start: int, end: int) -> bool:
    return (start >= 2 and items[start - 1].text == "(" and items[start - 2].text == "has"
            and end < len(items) and items[end].text == ")")


_OPERAND_START = frozenset({"", "(", "[", "{", ",", "&&", "||", "?", ":"})
"""Tokens after which a chain is the whole left operand of a following `==` (nothing binds tighter)."""


def _compared_with_null(items: list[Token], start: int, end: int) -> bool:
    before = items[start - 1].text if start else ""
    if before not in _OPERAND_START:
        return False
    if end + 1 >= len(items) or items[end].text not in ("==", "!=") or items[end + 1].text != "null":
        return False
    after = items[end + 2].text if end + 2 < len(items) else ""
    return after not in (".", "[", "(")  # `x == null.foo` is not a null comparison


def literal_iterations(items: list[Token]) -> int:
    """The most steps one nest of comprehensions spends on literal lists: `[a, b, c].all(x, [d, e].exists(...))`
    takes 3 * 2. Comprehensions over data are bounded by the input limits instead; over literals only this
    bounds them, and the evaluator cannot be interrupted."""
    spans: list[tuple[int, int, int]] = []  # (body start, body end, list size) per macro over a literal list
    for index, token in enumerate(items):
        if token.text != "]" or index + 3 >= len(items) or items[index + 1].text != ".":
            continue
        if items[index + 2].text not in MACROS or items[index + 3].text != "(":
            continue
        opening, size = _literal_list(items, index)
        if opening < 0:
            continue
        spans.append((index + 3, _matching(items, index + 3), size))
    most = 0
    for start, end, size in spans:
        steps = size
        for outer_start, outer_end, outer_size in spans:
            if outer_start < start and end <= outer_end:
                steps *= outer_size
        most = max(most, steps)
    return most


def _literal_list(items: list[Token], closing: int) -> tuple[int, int]:
    """The `[` that `items[closing]` closes and the number of elements, or (-1, 0) when it closes an index."""
    depth = 0
    commas = 0
    for index in range(closing, -1, -1):
        text = items[index].text
        if text in ")]}":
            depth += 1
        elif text in "([{":
            depth -= 1
            if depth == 0:
                before = items[index - 1] if index else None
                if text != "[" or (before is not None and (
                        before.kind in ("string", "number") or before.text in (")", "]", "}")
                        or (before.kind == "ident" and before.text != "in"))):
                    return -1, 0
                return index, 0 if index + 1 == closing else commas + 1
        elif text == "," and depth == 1:
            commas += 1
    return -1, 0


def _partner(items: list[Token], start: int, step: int) -> int | None:
    """The index of the bracket that pairs with `items[start]`, walking forward (`step` 1) or back (-1)."""
    inward, outward = ("([{", ")]}") if step == 1 else (")]}", "([{")
    depth = 0
    for index in range(start, len(items) if step == 1 else -1, step):
        if items[index].text in inward:
            depth += 1
        elif items[index].text in outward:
            depth -= 1
            if depth == 0:
                return index
    return None


def _matching(items: list[Token], opening: int) -> int:
    """The index of the bracket that closes `items[opening]` (the last token when it is never closed)."""
    found = _partner(items, opening, 1)
    return len(items) - 1 if found is None else found



@dataclass(frozen=True)
class Keys:
    """Of a map, only these keys are read (each as far as its own need says)."""

    fields: Mapping[str, Need]


@dataclass(frozen=True)
class Elements:
    """Of a list, only the count and, of each map element, these keys are read."""

    keys: Keys


Need = Keys | Elements | None
"""What an expression reads of a bound value; None: all of it (compared, indexed, passed to a function...)."""


def merge(one: Need, other: Need) -> Need:
    """What two reads of one value need together."""
    if isinstance(one, Keys) and isinstance(other, Keys):
        fields = dict(one.fields)
        for key, need in other.fields.items():
            fields[key] = merge(fields[key], need) if key in fields else need
        return Keys(fields)
    if isinstance(one, Elements) and isinstance(other, Elements):
        keys = merge(one.keys, other.keys)
        return Elements(keys) if isinstance(keys, Keys) else None
    return None


def project(need: Need, value: Any) -> Any:
    """`value` cut down to what `need` reads: list elements and map keys nobody reads are left out.

    Why: converting a value into CEL costs about 2 us per string (the library tries the numeric types first),
    and the lists rules iterate (namespaces, security groups, access entries) carry fields no rule reads.
    Only maps reached by field selects and lists iterated by macros are cut; anything else stays whole, so
    every read a rule makes finds the same value, and a missing key stays missing.
    """
    if need is None:
        return value
    if isinstance(need, Elements):
        return [project(need.keys, item) for item in value] if type(value) is list else value
    if type(value) is not dict:
        return value
    return {key: project(need.fields[key], item) for key, item in value.items() if key in need.fields}


def needs(items: list[Token], names: frozenset[str]) -> dict[str, Need]:
    """For each of `names` (bound list variables of a rewritten expression), what the expression reads of it.

    A list read only by `size(x)` and by macros (`x.all(v, ...)`, `exists`, `exists_one`, `map`, and `filter`
    inside `size()` or followed by another macro) whose variable is only field-selected (`v.a.b`, `has(v.a)`,
    `v.a.all(w, ...)`) needs only those fields of its elements; any other read needs the whole value. A nested
    macro reusing a variable name only adds fields (a superset is safe).
    """
    found: dict[str, Need] = {}
    for index, token in enumerate(items):
        if token.kind != "ident" or token.text not in names or (index and items[index - 1].text == "."):
            continue
        need = _list_use(items, index)
        found[token.text] = merge(found[token.text], need) if token.text in found else need
    return found


def _list_use(items: list[Token], index: int) -> Need:
    """What the value ending at `items[index]` (a name or a field) is read for, were it a list."""
    in_size = index >= 2 and items[index - 1].text == "(" and items[index - 2].text == "size" and (
        index < 3 or items[index - 3].text != ".")
    if in_size and index + 1 < len(items) and items[index + 1].text == ")":
        return Elements(Keys({}))
    keys = Keys({})
    position = index + 1
    while True:
        call = _macro_call(items, position)
        if call is None:
            return None
        macro, variable, start, end = call
        body = _variable_use(items, variable, start, end)
        if body is None:
            return None
        merged = merge(keys, body)
        if not isinstance(merged, Keys):
            return None
        keys = merged
        if macro != "filter":
            return Elements(keys)
        position = end + 1
        if in_size and position < len(items) and items[position].text == ")":
            return Elements(keys)


def _macro_call(items: list[Token], position: int) -> tuple[str, str, int, int] | None:
    """`.macro(v, ...)` at `position`: (macro, v, index of the body, index of the closing parenthesis)."""
    if position + 4 >= len(items) or items[position].text != "." or items[position + 1].text not in MACROS:
        return None
    if items[position + 2].text != "(" or items[position + 3].kind != "ident" or items[position + 4].text != ",":
        return None
    end = _matching(items, position + 2)
    commas, depth = [], 0
    for index in range(position + 3, end):
        text = items[index].text
        if text in "([{":
            depth += 1
        elif text in ")]}":
            depth -= 1
        elif text == "," and depth == 0:
            commas.append(index)
    macro = items[position + 1].text
    if len(commas) == 2 and macro == "map":  # map(v, filter, transform), unless it is a two-variable form
        if commas[1] - commas[0] == 2 and items[commas[0] + 1].kind == "ident":
            return None
    elif len(commas) != 1:
        return None
    return macro, items[position + 3].text, position + 5, end


def _variable_use(items: list[Token], variable: str, start: int, end: int) -> Keys | None:
    """What a macro body (`items[start:end]`) reads of its variable's value (a list element)."""
    keys = Keys({})
    for index in range(start, end):
        token = items[index]
        if token.kind != "ident" or token.text != variable or items[index - 1].text == ".":
            continue
        path, after = _chain(items, index)
        if not path:
            return None
        need: Need = _list_use(items, after - 1) if _macro_call(items, after) is not None else None
        for key in reversed(path):
            need = Keys({key: need})
        merged = merge(keys, need)
        if not isinstance(merged, Keys):
            return None
        keys = merged
    return keys


QUICK_MATCHES = "__matches"


def rewrite_matches(items: list[Token]) -> list[Token] | None:
    """`X.matches(P)` -> `__matches(X, P)` (functions.quick_matches, whose regex is compiled once per run), or
    None when the expression calls no `matches` or a receiver is not plainly delimited."""
    out = list(items)
    changed = False
    index = len(out) - 1
    while index >= 2:
        if out[index].text == "(" and out[index - 1].text == "matches" and out[index - 2].text == ".":
            start = _receiver_start(out, index - 3)
            if start is None:
                return None
            close = _matching(out, index)
            if close == len(out) - 1 and out[close].text != ")":
                return None
            receiver = out[start:index - 2]
            out[start:index + 1] = [Token("ident", QUICK_MATCHES), Token("punct", "("), *receiver, Token("punct", ",")]
            changed = True
            index = start
        index -= 1
    return out if changed else None


def _receiver_start(items: list[Token], end: int) -> int | None:
    """Where the member expression ending at `items[end]` starts (`a.b[0]`, `f(x).y`, `(a + b)`, "lit")."""
    index = end
    while index >= 0:
        token = items[index]
        if token.text in (")", "]"):
            opening = _opening(items, index)
            if opening is None:
                return None
            before = items[opening - 1] if opening else None
            if before is not None and (before.kind == "ident" or before.text in (")", "]")):
                index = opening - 1  # a call's name, or what is indexed
                continue
            if before is not None and before.text == ".":
                return None
            index = opening
        elif token.kind not in ("ident", "string", "number"):
            return None
        if index >= 2 and items[index - 1].text == "." and items[index - 2].text != "?":
            index -= 2
            continue
        if index >= 1 and items[index - 1].text in (".", "?"):
            return None
        return index
    return None


def _opening(items: list[Token], closing: int) -> int | None:
    """The index of the bracket that opens `items[closing]`, None when there is none."""
    return _partner(items, closing, -1)
