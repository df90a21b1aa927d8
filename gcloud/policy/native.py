"""Tenant rules compiled to Python for the part of CEL whose meaning Python keeps; CEL judges the rest.

Why: the CEL library converts every value a rule reads into its own values, about 1 us per string (it probes
eight types before `str`): half of checking a tenant. A rule compiled to Python reads the tenant's values as
they are. It is compiled only from what Python and CEL agree on:

- field selects and indexes on maps and lists; `size`; `double` of a number; the policy functions;
- `==` and `!=` between two values of one scalar type or null; `<`, `<=`, `>`, `>=` between two ints, two
  doubles or two strings; `in` on a list or a map; `+` on ints (within int64), doubles, strings or lists; `*` on
  ints or doubles;
- `!`, `&&`, `||` and `?:` on booleans; list literals, ints, doubles, plain strings, true, false, null;
- the macros `all` and `exists` over a list or a map (its keys), `filter` and two-argument `map` over a list;
- `matches` for the patterns functions.quick_matches takes.

An expression with anything else (`-`, `/`, `%`, map literals, `has`, escapes in strings, other methods) does
not compile: it runs in CEL. At run time every helper checks the types it meets and raises `Defer` outside the
cases above, and any error (a missing key, a null parent) stops the Python evaluation too: the checker then
evaluates the rule in CEL. So a result from Python is the one CEL gives, and every error is CEL's own
(tests/unit/test_policy_native.py holds the two side by side over mutated tenants).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .celsyntax import MACROS, CelSyntaxError, Token, tokens
from .functions import FUNCTIONS, quick_matches

NativeRule = Callable[[Mapping[str, Any], Mapping[str, Any], str], Any]
"""(tenant, platform, today) -> the rule's value."""

RULE_GLOBALS = ("tenant", "platform", "today")
"""What a tenant rule reads: the compiled function's parameters, in this order."""
INT_MIN, INT_MAX = -(2 ** 63), 2 ** 63 - 1
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_INT = re.compile(r"[0-9]+\Z")
_DOUBLE = re.compile(r"[0-9]+\.[0-9]+(?:[eE][+-]?[0-9]+)?\Z")
_PLAIN_STRING = re.compile(r"""("[^"\\\n]*"|'[^'\\\n]*')\Z""")
_COMPARE = {"==": "_eq({}, {})", "!=": "(not _eq({}, {}))", "<": "_lt({}, {})", "<=": "_le({}, {})",
            ">": "_gt({}, {})", ">=": "_ge({}, {})", "in": "_in({}, {})"}


class Defer(Exception):
    """Python cannot be sure of CEL's answer here: evaluate the rule in CEL."""


class NotNative(Exception):
    """The expression uses CEL outside the compiled subset."""


@lru_cache(maxsize=1024)
def compile_rule(source: str) -> NativeRule | None:
    """The rule as a Python function, or None when it uses anything outside the subset."""
    try:
        body = _Parser(tokens(source)).whole()
    except (NotNative, CelSyntaxError):
        return None
    code = f"def rule(g_tenant, g_platform, g_today):\n    return {body.boolean()}\n"  # a rule is a boolean
    namespace: dict[str, Any] = {**_HELPERS, **{f"f_{name}": function for name, function in FUNCTIONS.items()}}
    exec(compile(code, "<policy rule>", "exec"), namespace)  # our own parse: names checked, strings repr()
    rule: NativeRule = namespace["rule"]
    return rule


@dataclass(frozen=True)
class _Code:
    """Python source for a subexpression, and whether it is a boolean by construction (a comparison, `!`, a
    macro's verdict): only other values are checked by `_b` where CEL needs a boolean."""

    text: str
    is_bool: bool = False

    def boolean(self) -> str:
        return self.text if self.is_bool else f"_b({self.text})"


class _Parser:
    """Recursive descent over CEL's grammar, emitting Python source for the subset (else NotNative)."""

    def __init__(self, items: list[Token]) -> None:
        self.items = items
        self.position = 0
        self.bound: list[str] = []

    def peek(self, offset: int = 0) -> str:
        index = self.position + offset
        return self.items[index].text if index < len(self.items) else ""

    def take(self, expected: str | None = None) -> Token:
        if self.position >= len(self.items):
            raise NotNative("unexpected end")
        token = self.items[self.position]
        if expected is not None and token.text != expected:
            raise NotNative(f"expected {expected}")
        self.position += 1
        return token

    def whole(self) -> _Code:
        body = self.expression()
        if self.position != len(self.items):
            raise NotNative("trailing tokens")
        return body

    def expression(self) -> _Code:
        condition = self.either()
        if self.peek() != "?":
            return condition
        self.take("?")
        then = self.either()
        self.take(":")
        otherwise = self.expression()
        return _Code(f"(({then.text}) if {condition.boolean()} else ({otherwise.text}))",
                     then.is_bool and otherwise.is_bool)

    def either(self) -> _Code:
        return self.logical("||", "or", self.both)

    def both(self) -> _Code:
        return self.logical("&&", "and", self.relation)

    def logical(self, operator: str, keyword: str, operand: Callable[[], _Code]) -> _Code:
        """`a || b || ...` (or `&&`): Python's short circuit on checked booleans."""
        left = operand()
        while self.peek() == operator:
            self.take()
            left = _Code(f"({left.boolean()} {keyword} {operand().boolean()})", True)
        return left

    def relation(self) -> _Code:
        left = self.addition()
        while self.peek() in _COMPARE:
            template = _COMPARE[self.take().text]
            left = _Code(template.format(left.text, self.addition().text), True)
        return left

    def addition(self) -> _Code:
        left = self.multiplication()
        while self.peek() in ("+", "-"):
            if self.take().text == "-":
                raise NotNative("subtraction")
            left = _Code(f"_add({left.text}, {self.multiplication().text})")
        return left

    def multiplication(self) -> _Code:
        left = self.unary()
        while self.peek() in ("*", "/", "%"):
            if self.take().text != "*":
                raise NotNative("division")
            left = _Code(f"_mul({left.text}, {self.unary().text})")
        return left

    def unary(self) -> _Code:
        if self.peek() == "!":
            self.take()
            return _Code(f"(not {self.unary().boolean()})", True)
        if self.peek() == "-":
            raise NotNative("negation")
        return self.member()

    def member(self) -> _Code:
        value = self.primary()
        while self.peek() in (".", "["):
            if self.take().text == "[":
                key = self.expression()
                self.take("]")
                value = _Code(f"_idx({value.text}, {key.text})")
                continue
            name = self.take()
            if name.kind != "ident":
                raise NotNative("select of a non-name")
            if self.peek() != "(":
                # only a mapping takes a string subscript: a list, string or null raises, and CEL decides
                value = _Code(f"{value.text}[{name.text!r}]")
                continue
            value = self.method(value.text, name.text)
        return value

    def method(self, target: str, name: str) -> _Code:
        self.take("(")
        if name in MACROS:
            return self.macro(target, name)
        arguments = self.arguments(")")
        if name == "matches" and len(arguments) == 1:
            return _Code(f"_matches({target}, {arguments[0].text})", True)
        if name == "size" and not arguments:
            return _Code(f"_size({target})")
        raise NotNative(f"method {name}")

    def macro(self, target: str, name: str) -> _Code:
        variable = self.take()
        if variable.kind != "ident" or not _IDENT.match(variable.text) or variable.text in RULE_GLOBALS:
            raise NotNative("macro variable")
        if name not in ("all", "exists", "filter", "map"):
            raise NotNative(f"macro {name}")
        self.take(",")
        self.bound.append(variable.text)
        try:
            body = self.expression()
        finally:
            self.bound.pop()
        if self.peek() == ",":
            raise NotNative("three-argument macro")
        self.take(")")
        loop = f"for m_{variable.text} in _iter({target})"
        if name == "all":
            return _Code(f"all({body.boolean()} {loop})", True)
        if name == "exists":
            return _Code(f"any({body.boolean()} {loop})", True)
        listed = f"for m_{variable.text} in _items({target})"  # a map's keys come in CEL's own order: CEL's
        if name == "filter":
            return _Code(f"[m_{variable.text} {listed} if {body.boolean()}]")
        return _Code(f"[({body.text}) {listed}]")

    def arguments(self, close: str) -> list[_Code]:
        found: list[_Code] = []
        while self.peek() != close:
            found.append(self.expression())
            if self.peek() != ",":
                break
            self.take(",")
        self.take(close)
        return found

    def primary(self) -> _Code:
        token = self.take()
        if token.text == "(":
            inner = self.expression()
            self.take(")")
            return _Code(f"({inner.text})", inner.is_bool)
        if token.text == "[":
            return _Code(f"[{', '.join(item.text for item in self.arguments(']'))}]")
        if token.kind == "number":
            return _Code(_number(token.text))
        if token.kind == "string":
            if not _PLAIN_STRING.match(token.text):
                raise NotNative("string with escapes or a prefix")
            return _Code(repr(token.text[1:-1]))
        if token.kind != "ident":
            raise NotNative(f"token {token.text}")
        if self.peek() == "(":
            self.take("(")
            return self.call(token.text, [item.text for item in self.arguments(")")])
        return self.name(token.text)

    def call(self, name: str, arguments: list[str]) -> _Code:
        if name == "size" and len(arguments) == 1:
            return _Code(f"_size({arguments[0]})")
        if name == "double" and len(arguments) == 1:
            return _Code(f"_double({arguments[0]})")
        if name in FUNCTIONS:
            return _Code(f"f_{name}({', '.join(arguments)})")
        raise NotNative(f"function {name}")

    def name(self, text: str) -> _Code:
        if text in ("true", "false"):
            return _Code(text.title(), True)
        if text == "null":
            return _Code("None")
        if text in self.bound:
            return _Code(f"m_{text}")
        if text in RULE_GLOBALS:
            return _Code(f"g_{text}")
        raise NotNative(f"name {text}")


def _number(text: str) -> str:
    if _INT.match(text):
        if int(text) > INT_MAX:
            raise NotNative("int out of range")
        return str(int(text))
    if _DOUBLE.match(text):
        return repr(float(text))
    raise NotNative("number form")


# --- run time: every helper is exact where it answers, and defers where it is not sure ------------------------

def _b(value: Any) -> bool:
    if value is True or value is False:
        return bool(value)
    raise Defer("not a boolean")


def _eq(left: Any, right: Any) -> bool:
    if left is None or right is None:
        return left is right
    kind = type(left)
    if kind is not type(right) or kind not in (str, int, float, bool):
        raise Defer("equality across types or of containers")
    return bool(left == right)


def _ordering(compare: Callable[[Any, Any], Any]) -> Callable[[Any, Any], bool]:
    """`compare` (`<`, `<=`, `>`, `>=`) where CEL orders the same way: two ints, two doubles or two strings."""
    def checked(left: Any, right: Any) -> bool:
        kind = type(left)
        if kind is not type(right) or kind not in (str, int, float):
            raise Defer("ordering across types")
        return bool(compare(left, right))

    return checked


_lt, _le, _gt, _ge = (_ordering(compare) for compare in (operator.lt, operator.le, operator.gt, operator.ge))


def _in(item: Any, container: Any) -> bool:
    kind = type(container)
    if kind is dict:
        if type(item) is not str:
            raise Defer("a map key that is not a string")
        return item in container
    if kind is list:
        return any(_eq(item, element) for element in container)
    raise Defer("in on a scalar")


def _idx(value: Any, key: Any) -> Any:
    kind = type(value)
    if kind is dict and type(key) is str:
        return value[key]
    if kind is list and type(key) is int and 0 <= key < len(value):
        return value[key]
    raise Defer("index outside maps by string and lists by position")


def _size(value: Any) -> int:
    if type(value) in (str, list, dict):
        return len(value)
    raise Defer("size of a scalar")


def _iter(value: Any) -> list[Any]:
    if type(value) is list:
        return value
    if type(value) is dict:
        return list(value)
    raise Defer("a macro over a scalar")


def _items(value: Any) -> list[Any]:
    if type(value) is list:
        return value
    raise Defer("filter or map over a map (its order is CEL's)")


def _int64(value: Any) -> Any:
    if type(value) is int and not INT_MIN <= value <= INT_MAX:
        raise Defer("int64 overflow")
    return value


def _add(left: Any, right: Any) -> Any:
    kind = type(left)
    if kind is not type(right) or kind not in (int, float, str, list):
        raise Defer("+ across types")
    return _int64(left + right)


def _mul(left: Any, right: Any) -> Any:
    kind = type(left)
    if kind is not type(right) or kind not in (int, float):
        raise Defer("* across types")
    return _int64(left * right)


def _double(value: Any) -> float:
    if type(value) in (int, float):
        return float(value)
    raise Defer("double of a non-number")


_HELPERS: dict[str, Any] = {
    "_b": _b, "_eq": _eq, "_lt": _lt, "_le": _le, "_gt": _gt, "_ge": _ge, "_in": _in,
    "_idx": _idx, "_size": _size, "_iter": _iter, "_items": _items, "_add": _add, "_mul": _mul, "_double": _double,
    "_matches": quick_matches,  # raises UnsupportedRegex outside its subset: CEL's matches then
}
