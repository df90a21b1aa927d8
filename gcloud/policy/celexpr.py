"""CEL as policy files use it: compiled once, names checked, cost bounded before anything runs.

The evaluator (`common-expression-language`, Rust) cannot be interrupted mid-evaluation and has no cost
tracker, so the bound is static: an expression is at most `MAX_SOURCE_CHARS` long and nests comprehension
macros at most `MAX_MACRO_DEPTH` deep. CEL has no loops, recursion or user functions, so one evaluation costs
at most (input size) ** depth steps, and inputs are bounded by the loaders (1 MiB, 50,000 nodes per file).
`bench/bench_cel.py` holds the measurement that chose this library over `cel-python`; celsyntax.py the
rewrite that makes it fast.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from . import cellib as cel
from .celsyntax import QUICK_MATCHES, Binding, CelSyntaxError, binding_for, flatten, rewrite_matches, shape, tokens

MAX_SOURCE_CHARS = 4000
MAX_MACRO_DEPTH = 3

STANDARD_FUNCTIONS = frozenset({
    "size", "contains", "startsWith", "endsWith", "matches", "string", "int", "uint", "double", "bytes",
    "duration", "timestamp", "dyn", "type", "getFullYear", "getMonth", "getDayOfMonth", "getDayOfYear",
    "getDayOfWeek", "getDate", "getHours", "getMinutes", "getSeconds", "getMilliseconds",
})
"""What the evaluator implements besides operators; anything else fails at compile time, not at 3 a.m."""


class ExpressionError(ValueError):
    """An expression that must not be loaded; the loader adds file and line.

    `line` and `column` (1-based, inside the expression) are set when the parser says where it stopped.
    """

    def __init__(self, message: str, line: int = 0, column: int = 0) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


@dataclass(frozen=True)
class Expression:
    """A compiled CEL program (of the rewritten source) and the variables it reads."""

    source: str
    """As written in the policy file."""
    program: cel.Program
    bindings: frozenset[Binding]
    functions: frozenset[str] = frozenset()
    """The policy functions (functions.py) it calls; a context registers only those."""
    quick: cel.Program | None = None
    """The same with `x.matches(p)` calling functions.quick_matches (regexes compiled once per run), when it
    calls `matches`: results are CEL's, and an error from it means "evaluate `program` instead"."""

    @property
    def quick_functions(self) -> frozenset[str]:
        return self.functions | {QUICK_MATCHES} if self.quick is not None else self.functions

    @property
    def globals(self) -> frozenset[str]:
        """The globals (tenant, platform, today, ...) the expression reads."""
        return frozenset(binding.root for binding in self.bindings)

    def evaluate(self, context: cel.Context) -> Any:
        return self.program.execute(context)


FLATTENED_ROOTS = frozenset({"tenant", "platform", "usage"})


def compile_expression(source: str, allowed_globals: frozenset[str], functions: frozenset[str]) -> Expression:
    """Compile once, refusing what would only fail at run time: unknown names, unknown functions, deep nesting."""
    text = source.strip()
    if not text:
        raise ExpressionError("expression is empty")
    if len(text) > MAX_SOURCE_CHARS:
        raise ExpressionError(f"expression is {len(text)} characters, over the {MAX_SOURCE_CHARS} limit; "
                              "split the policy")
    try:
        items = tokens(text)
    except CelSyntaxError as err:
        raise ExpressionError(f"CEL does not compile: {err}") from None
    form = shape(items)
    try:
        program = cel.compile(text)
    except ValueError as err:
        raise _parse_error(err) from None
    shadowed = sorted(form.bound & allowed_globals)
    if shadowed:
        raise ExpressionError(f"a macro variable shadows the global {shadowed[0]!r}; pick another name")
    if form.depth > MAX_MACRO_DEPTH:
        raise ExpressionError(f"comprehensions nest {form.depth} deep; at most {MAX_MACRO_DEPTH} are allowed "
                              "(evaluation cost grows as input size to that power)")
    unknown = sorted(set(program.variables()) - form.bound - allowed_globals)
    if unknown:
        raise ExpressionError(f"unknown variable {unknown[0]!r}; rules may read {', '.join(sorted(allowed_globals))}")
    called = {name for name in program.functions() if not _is_operator(name)}
    missing = sorted(called - STANDARD_FUNCTIONS - functions)
    if missing:
        raise ExpressionError(f"unknown function {missing[0]!r}; available: "
                              f"{', '.join(sorted(STANDARD_FUNCTIONS | functions))}")
    rewritten, bindings = flatten(items, FLATTENED_ROOTS & allowed_globals)
    bindings |= {binding_for(name) for name in set(program.variables()) & (allowed_globals - FLATTENED_ROOTS)}
    try:
        fast = cel.compile(rewritten)
    except ValueError:  # the rewrite is an optimisation: never let it reject what CEL accepts
        fast, bindings = program, frozenset(binding_for(name) for name in set(program.variables()) & allowed_globals)
    return Expression(text, fast, frozenset(bindings), frozenset(called & functions), _quick(fast))


def _quick(program: cel.Program) -> cel.Program | None:
    """The program with its `matches` calls rewritten (celsyntax.rewrite_matches), or None."""
    if "matches" not in program.functions():
        return None
    rewritten = rewrite_matches(tokens(program.source))
    if rewritten is None:
        return None
    try:
        quick = cel.compile(" ".join(token.text for token in rewritten))
    except ValueError:
        return None
    return quick if set(quick.variables()) == set(program.variables()) else None


def _is_operator(name: str) -> bool:
    return name.startswith(("_", "@", "!", "-"))


_PARSE_ERROR = re.compile(r"ERROR: <input>:(\d+):(\d+): ([^\n]*)")


def _parse_error(err: Exception) -> ExpressionError:
    """The parser's complaint and where in the expression it is (its message repeats the whole source)."""
    match = _PARSE_ERROR.search(str(err))
    if match is None:
        return ExpressionError(f"CEL does not compile: {str(err).splitlines()[-1]}")
    line, column, detail = int(match.group(1)), int(match.group(2)), match.group(3).strip()
    return ExpressionError(f"CEL does not compile: {detail} (rule line {line}, column {column})", line, column)


@dataclass(frozen=True)
class Template:
    """A message with `{cel expression}` placeholders, compiled once and rendered only for findings.

    `{{` and `}}` are literal braces. A placeholder that fails at run time renders as `{?expression}` so the
    finding is still reported. Whitespace runs collapse to one space (an empty placeholder leaves no gap).
    """

    parts: tuple[str | Expression, ...]

    @property
    def bindings(self) -> frozenset[Binding]:
        found: set[Binding] = set()
        for part in self.parts:
            if isinstance(part, Expression):
                found |= part.bindings
        return frozenset(found)

    @property
    def globals(self) -> frozenset[str]:
        return frozenset(binding.root for binding in self.bindings)

    @property
    def functions(self) -> frozenset[str]:
        return frozenset().union(*(part.functions for part in self.parts if isinstance(part, Expression)))

    @property
    def expressions(self) -> tuple[Expression, ...]:
        return tuple(part for part in self.parts if isinstance(part, Expression))

    def render(self, context: cel.Context) -> str:
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            try:
                out.append(render_value(part.evaluate(context)))
            except Exception:  # the message must not hide the finding it describes
                out.append("{?" + part.source + "}")
        return " ".join("".join(out).split())


def compile_template(text: str, allowed_globals: frozenset[str], functions: frozenset[str]) -> Template:
    """Split `text` into literal parts and compiled placeholders."""
    parts: list[str | Expression] = []
    literal: list[str] = []
    for kind, chunk in _template_chunks(text):
        if kind == "text":
            literal.append(chunk)
            continue
        if literal:
            parts.append("".join(literal))
            literal = []
        try:
            parts.append(compile_expression(chunk, allowed_globals, functions))
        except ExpressionError as err:
            raise ExpressionError(f"placeholder {{{chunk}}}: {err}") from None
    if literal:
        parts.append("".join(literal))
    return Template(tuple(parts))


def _template_chunks(text: str) -> Iterator[tuple[str, str]]:
    index = 0
    while index < len(text):
        char = text[index]
        if char in "{}" and text[index:index + 2] in ("{{", "}}"):
            yield "text", char
            index += 2
        elif char == "{":
            end = _closing_brace(text, index)
            yield "expr", text[index + 1:end]
            index = end + 1
        elif char == "}":
            raise ExpressionError(f"unmatched '}}' at offset {index}; write '}}}}' for a literal brace")
        else:
            yield "text", char
            index += 1


def _closing_brace(text: str, start: int) -> int:
    depth = 0
    quote = ""
    for index in range(start, len(text)):
        char = text[index]
        if quote:
            if char == quote and text[index - 1] != "\\":
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index
    raise ExpressionError(f"unclosed '{{' at offset {start}; write '{{{{' for a literal brace")


def render_value(value: Any) -> str:
    """A CEL result as a reviewer reads it: lists joined, no Python reprs."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ", ".join(render_value(item) for item in _flatten(value))
    if isinstance(value, Mapping):
        return ", ".join(f"{key}={render_value(item)}" for key, item in value.items())
    return str(value)


def _flatten(items: list[Any] | tuple[Any, ...]) -> Iterator[Any]:
    """Nested lists (from nested `map`s) read as one list; empty ones vanish."""
    for item in items:
        if isinstance(item, list | tuple):
            yield from _flatten(item)
        else:
            yield item
