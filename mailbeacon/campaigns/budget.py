"""A render budget for campaign templates: time and output size (issue #12).

Jinja has no time limit, and a template is a user's code: two nested loops over range(100000)
kept a core busy long after the preview's client had left. A render in a killable subprocess
would bound it too, but a campaign renders hundreds of copies a second in process, so the
budget is kept inside the render instead, at every place a sandboxed template can spend time
or grow: each loop iteration (`BudgetedCodeGenerator` wraps every `for` iterable), each call,
filter and intercepted operator (`templates._Sandbox`), and each write of output, into a
macro's or a block's buffer as well as out of the render. Values built by `~`, `+`, `*`, `%`,
filters and calls are weighed before they are made where that is possible, and always after,
so nothing grows past the output budget unseen. A render over budget raises `BudgetExceeded`.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame

DEFAULT_OUTPUT = 5_000_000
SMALL = 10_000
"""No budget is smaller, so a shorter string needs no weighing (most values of a render are)."""
INT_BITS = 100_000
"""Largest integer (in bits) template arithmetic may make: multiplying larger ones takes seconds in one step."""
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class RenderBudget:
    """What one copy's render (its subject, HTML and text) may take."""

    seconds: float = 2.0
    """Wall-clock time; a newsletter of 24 KB renders in about a millisecond."""
    output: int = DEFAULT_OUTPUT
    """Characters written, counting what macros and blocks write into their buffers; also the
    largest string or list a template may build (a 25 MB message would be refused anyway)."""

    def __post_init__(self) -> None:
        if not self.seconds > 0 or self.output < SMALL:
            raise ValueError(f"a render budget needs some time and at least {SMALL:,} characters")


class BudgetExceeded(Exception):
    """A render went over its budget; the message names the budget."""


class Meter:
    """One render's use of its budget; trips for good once over it."""

    __slots__ = ("budget", "deadline", "written", "tripped")

    def __init__(self, budget: RenderBudget) -> None:
        self.budget = budget
        self.deadline = time.monotonic() + budget.seconds
        self.written = 0
        self.tripped: str | None = None

    def tick(self) -> None:
        if self.tripped is not None:
            raise BudgetExceeded(self.tripped)
        if time.monotonic() > self.deadline:
            self.trip(f"it took longer than its time budget of {self.budget.seconds:g} s")

    def wrote(self, characters: int) -> None:
        self.written += characters
        if self.written > self.budget.output:
            self.trip(f"its output passed the size budget of {self.budget.output:,} characters")
        self.tick()

    def trip(self, reason: str) -> None:
        self.tripped = reason
        raise BudgetExceeded(reason)


_current = threading.local()


def meter() -> Meter | None:
    """The meter of the render running in this thread; None outside one (Jinja folding constants)."""
    found: Meter | None = getattr(_current, "meter", None)
    return found


@contextmanager
def metered(budget: RenderBudget) -> Iterator[Meter]:
    """Count what the renders in this block use against one budget."""
    outer = meter()
    _current.meter = running = Meter(budget)
    try:
        yield running
    finally:
        _current.meter = outer


def size_limit() -> int:
    running = meter()
    return running.budget.output if running is not None else DEFAULT_OUTPUT


def weight(value: object, depth: int = 0, seen: dict[int, int] | None = None) -> int:
    """About how many characters `value` becomes when written: a string its length, a container
    the weights of what it holds (each object weighed once), anything else 1."""
    if isinstance(value, str):
        return len(value)
    if not isinstance(value, list | tuple | dict | set | frozenset):
        return 1
    seen = {} if seen is None else seen
    known = seen.get(id(value))
    if known is not None:
        return known
    if depth > 20:
        return size_limit() + 1  # deeper than any template needs: treated as too large
    items: Iterable[object] = (x for pair in value.items() for x in pair) if isinstance(value, dict) else value
    total = len(value) + 2
    for item in items:
        total += weight(item, depth + 1, seen)
        if total > size_limit():
            break
    seen[id(value)] = total
    return total


def check_value(value: Any, what: str = "a value") -> Any:
    """`value` unless it is larger than the output budget (BudgetExceeded)."""
    if isinstance(value, str) and len(value) < SMALL:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > INT_BITS:
        over_budget(f"{what} is a number of more than {INT_BITS:,} bits")
    if weight(value) > size_limit():
        over_budget(f"{what} is larger than the size budget of {size_limit():,} characters")
    return value


def check_format(template: Any, values: tuple[Any, ...]) -> None:
    """`template % values` or `template.format(*values)` with widths past the budget is refused before it runs."""
    _format(template, values)


def check_filter(name: str, value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    """Refuse, before it runs, a filter call that would make a string past the budget in one step
    ('x'|center(10**9), a replacement or a join too large); returns the value to filter (a join's
    items made a list, so they are weighed once)."""
    if name == "replace" and len(args) >= 2:
        _replace(value, args[0], args[1])
    elif name == "join":
        separator = args[0] if args else kwargs.get("d", "")
        return _join(value, separator)
    elif name == "format":
        _format(value, (*args, *kwargs.values()))
    elif name == "center":
        _grows(value, len(_str(value)) + _number(args[0] if args else kwargs.get("width", 80)))
    elif name in ("indent", "wordwrap") and isinstance(value, str):
        spacer = args[0] if args else kwargs.get("width", 4 if name == "indent" else 79)
        if name == "wordwrap":
            spacer = kwargs.get("wrapstring", args[2] if len(args) > 2 else "\n")
            lines = len(value)  # at worst a break after every character
        else:
            lines = value.count("\n") + 1
        _grows(value, len(value) + lines * (len(spacer) if isinstance(spacer, str) else _number(spacer)))
    return value


def check_method(name: str, text: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """The same for a string's own methods (`text.center(...)`, `sep.join(...)`); returns the arguments."""
    if name == "replace" and len(args) >= 2:
        _replace(text, args[0], args[1])
    elif name == "join" and args:
        return (_join(args[0], text), *args[1:])
    elif name in ("format", "format_map"):
        _format(text, (*args, *kwargs.values()))
    elif name in ("center", "ljust", "rjust", "zfill") and args:
        _grows(text, len(text) + _number(args[0]))
    elif name == "expandtabs":
        _grows(text, len(text) + text.count("\t") * _number(args[0] if args else kwargs.get("tabsize", 8)))
    elif name == "translate" and args and isinstance(args[0], Mapping):
        longest = max((len(v) for v in args[0].values() if isinstance(v, str)), default=1)
        _grows(text, len(text) * longest)
    return args


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _number(value: Any) -> int:
    return abs(value) if isinstance(value, int) else 0


def _grows(value: Any, size: int) -> None:
    if size > size_limit():
        over_budget(f"the result would be larger than the size budget of {size_limit():,} characters")


def _replace(text: Any, old: Any, new: Any) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str) and len(new) > len(old):
        found = len(text) + 1 if not old else text.count(old)
        _grows(text, len(text) + found * (len(new) - len(old)))


def _join(items: Any, separator: Any) -> Any:
    if isinstance(items, str | bytes) or not isinstance(items, Iterable):
        return items
    listed = list(items)
    gap = len(separator) if isinstance(separator, str) else 1
    _grows(listed, weight(listed) + gap * len(listed))
    return listed


def _format(template: Any, values: tuple[Any, ...]) -> None:
    """A format string whose widths pass the budget ('%0999999999d', '{:>999999999}'), or that takes a
    width from its values ('%*d', '{:{w}}') one of which passes it, is refused before formatting."""
    if not isinstance(template, str):
        return
    widths = [int(d) for d in _DIGITS.findall(template) if len(d) > 6]
    if "*" in template or re.search(r"\{[^{}]*\{", template):
        widths += [_number(v) for v in values]
    if any(w > size_limit() for w in widths):
        over_budget(f"a format asks for a width beyond the size budget of {size_limit():,} characters")


def over_budget(reason: str) -> NoReturn:
    running = meter()
    if running is not None:
        running.trip(reason)
    raise BudgetExceeded(reason)


def iterate(iterable: Iterable[Any]) -> Iterator[Any]:
    """A template's loop: the budget's clock is read at every iteration."""
    running = meter()
    for item in iterable:
        if running is not None:
            running.tick()
        yield item


class WrittenBuffer(list[str]):
    """The output buffer of a macro, a `{% set %}` or `{% filter %}` block, a call block: counts what is written."""

    def append(self, chunk: str) -> None:
        running = meter()
        if running is not None:
            running.wrote(len(chunk))
        super().append(chunk)

    def extend(self, chunks: Iterable[str]) -> None:
        for chunk in chunks:
            self.append(chunk)


class BudgetedCodeGenerator(CodeGenerator):
    """Jinja's code generator with the budget's hooks (`Environment.code_generator_class`): buffers
    that count, loops that tick, concatenations weighed before they are made."""

    def buffer(self, frame: Frame) -> None:
        frame.buffer = self.temporary_identifier()
        self.writeline(f"{frame.buffer} = environment.budget_buffer()")

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        if not (isinstance(node.iter, nodes.Call) and isinstance(node.iter.node, nodes.EnvironmentAttribute)
                and node.iter.node.name == "budget_iterate"):
            node.iter = nodes.Call(
                nodes.EnvironmentAttribute("budget_iterate", lineno=node.lineno), [node.iter], [], None, None,
                lineno=node.lineno,
            )
        super().visit_For(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.budget_concat(context, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")
