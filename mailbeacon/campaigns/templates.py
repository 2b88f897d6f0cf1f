"""Campaign templates: one HTML (and optional text) body and a subject, personalised per contact.

Jinja2 in a sandbox (a template is written in the dashboard, so it must not reach
Python internals), autoescaped for HTML (contact fields are data: `<script>` in a
first name arrives as text) and not for text. Undefined fields render empty, so
`{{ contact.first_name | default("there") }}` works. Everything that can be found
before sending is found at load time, with the line: syntax errors, unknown
names, internals, includes. Every copy carries an unsubscribe link, kept out of
click tracking (`data-notrack`): a footer is added when the template has none.

>>> t = CampaignTemplate.from_strings("<p>Hi {{ contact.first_name | default('there') }}</p>", subject="Hello")
>>> t.render(Recipient("bob@example.com"), "https://t.example/u/x").html[:15]
'<p>Hi there</p>'
"""

from __future__ import annotations

import threading
from html import escape
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import jinja2
import markupsafe
from jinja2 import meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import SandboxedEnvironment

from mailbeacon.campaigns.budget import (
    INT_BITS,
    BudgetedCodeGenerator,
    BudgetExceeded,
    RenderBudget,
    WrittenBuffer,
    check_filter,
    check_format,
    check_method,
    check_value,
    iterate,
    meter,
    metered,
    over_budget,
    size_limit,
    weight,
)
from mailbeacon.errors import MailbeaconError
from mailbeacon.instrument.html import scan_html
from mailbeacon.instrument.links import unescape_attribute

NAMES = frozenset({"contact", "unsubscribe_url"})
"""What a template may use besides Jinja's own globals."""
MAX_REPEAT = 100_000
"""Longest string or list `*` may build, and so the largest a template can make a copy grow by repetition."""

HTML_FOOTER = (
    '<p style="margin:24px 0 0;font-size:12px;color:#666666;text-align:center">'
    'Don\'t want these emails? <a href="{url}" data-notrack style="color:#666666">Unsubscribe</a>.</p>\n'
)
TEXT_FOOTER = "\n\n---\nUnsubscribe: {url}\n"


class TemplateError(MailbeaconError):
    """A template cannot be loaded or rendered; the message names the template, the line and the cause."""


class Personal(Protocol):
    """What a template knows of a contact (a store.ContactRow is one)."""

    @property
    def email(self) -> str: ...

    @property
    def fields(self) -> Mapping[str, str]: ...


@dataclass(frozen=True, slots=True)
class Recipient:
    """A contact that is not in the store (tests, previews of an address)."""

    email: str
    fields: Mapping[str, str] = field(default_factory=dict)


MARK_OPEN, MARK_CLOSE = "\ue000", "\ue001"
"""Private-use characters around the number of each output in a marked render."""


@dataclass(frozen=True, slots=True)
class Marked:
    """One contact's HTML with each `{{ ... }}` output replaced by MARK_OPEN + its number + MARK_CLOSE.

    Contacts whose copies differ only in those outputs share `skeleton`, so the copy maker scans
    it once and puts `values` (escaped as the plain render escapes them) in after tracking."""

    skeleton: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    """One line: whitespace (newlines included) is collapsed, so no field can add a header."""
    html: str
    text: str | None


class _Sandbox(SandboxedEnvironment):
    """Unsafe access raises at once instead of rendering empty; repetition, arithmetic, time and output
    are bounded (`budget`: every loop, call, filter, operator and write is metered)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = BudgetedCodeGenerator
    budget_buffer = WrittenBuffer
    """What `BudgetedCodeGenerator`'s buffers are made of (`environment.budget_buffer()`)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: _metered_filter(name, f) for name, f in self.filters.items()}

    def unsafe_undefined(self, obj: Any, attribute: str) -> jinja2.Undefined:
        raise SecurityError(f"access to attribute {attribute!r} of a {type(obj).__name__!r} object is not allowed")

    def call_binop(self, context: jinja2.runtime.Context, op: str, left: Any, right: Any) -> Any:
        _tick()
        numbers = isinstance(left, int) and isinstance(right, int)
        if op == "**" and isinstance(right, (int, float)) and abs(right) > 100:
            raise SecurityError(f"exponent {right} is too large")
        if op == "**" and numbers and right > 0 and left.bit_length() * right > INT_BITS:
            raise SecurityError(f"the power would have more than {INT_BITS:,} bits")
        if op == "*":
            if numbers and left.bit_length() + right.bit_length() > INT_BITS:
                raise SecurityError(f"the product would have more than {INT_BITS:,} bits")
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(times, int):
                    if len(seq) * times > MAX_REPEAT:
                        raise SecurityError(f"repeating a value {times} times makes more than {MAX_REPEAT} items")
                    if weight(seq) * max(times, 0) > size_limit():  # [long_text] * 1000 is one item a time
                        over_budget(f"the repetition would pass the size budget of {size_limit():,} characters")
        if op == "+" and not numbers and weight(left) + weight(right) > size_limit():
            over_budget(f"the sum would be larger than the size budget of {size_limit():,} characters")
        if op == "%":
            check_format(left, right if isinstance(right, tuple) else (right,))
        return check_value(self.binop_table[op](left, right), "a result")

    def call(__self, __context: jinja2.runtime.Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _tick()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            args = check_method(getattr(__obj, "__name__", ""), owner, args, kwargs)
        return check_value(super().call(__context, __obj, *args, **kwargs), "a call's result")

    def budget_iterate(self, iterable: Any) -> Any:
        """Every `for` loop's iterable, wrapped by `BudgetedCodeGenerator`."""
        return iterate(iterable)

    def budget_concat(self, context: jinja2.runtime.Context, values: tuple[Any, ...]) -> Any:
        """`a ~ b`, weighed before it is made."""
        check_value(list(values), "a concatenation")
        return markup_join(values) if context.eval_ctx.autoescape else str_join(values)


def _tick() -> None:
    running = meter()
    if running is not None:
        running.tick()


def _metered_filter(name: str, f: Callable[..., Any]) -> Callable[..., Any]:
    """`f` with the budget's checks around it; Jinja's pass_context/pass_eval_context mark is kept."""
    passed = 1 if getattr(f, "jinja_pass_arg", None) is not None else 0

    def metered_filter(*args: Any, **kwargs: Any) -> Any:
        _tick()
        if len(args) > passed:
            value = check_filter(name, args[passed], args[passed + 1:], kwargs)
            args = (*args[:passed], value, *args[passed + 1:])
        return check_value(f(*args, **kwargs), f"the {name} filter's result")

    if passed:
        metered_filter.jinja_pass_arg = f.jinja_pass_arg  # type: ignore[attr-defined]
    return metered_filter


def _checked_output(value: Any) -> Any:
    """Jinja's finalize: a value is weighed before it is written (a list's text can be far larger than the list)."""
    return check_value(value, "an output")


_HTML = _Sandbox(
    autoescape=True, undefined=jinja2.ChainableUndefined, keep_trailing_newline=True, finalize=_checked_output
)
_recording = threading.local()


def _mark(value: Any) -> Any:
    """Jinja's finalize in marked renders: record the output as the plain render writes it, emit its mark.

    Outside a render (Jinja folds constant outputs when it compiles) and for the unsubscribe
    placeholder (handled apart), the value passes unchanged."""
    value = _checked_output(value)
    recorder: list[str] | None = getattr(_recording, "values", None)
    if recorder is None or value == getattr(_recording, "keep", None):
        return value
    recorded = str(markupsafe.escape(value))
    running = meter()
    if running is not None:
        running.wrote(len(recorded))  # written in the end, as the plain render would (issue #12)
    recorder.append(recorded)
    return f"{MARK_OPEN}{len(recorder) - 1}{MARK_CLOSE}"


_HTML_MARKED = _Sandbox(
    autoescape=True, undefined=jinja2.ChainableUndefined, keep_trailing_newline=True, finalize=_mark
)
_TEXT = _Sandbox(
    autoescape=False, undefined=jinja2.ChainableUndefined, keep_trailing_newline=True, finalize=_checked_output
)


class _ContactView:
    """`contact.first_name` / `contact["first_name"]` read fields only: no dict methods (a column named
    `items` or `keys` stays a field) and nothing else to reach."""

    __slots__ = ("_values",)

    def __init__(self, contact: Personal) -> None:
        self._values = {**contact.fields, "email": contact.email}

    def __getattr__(self, name: str) -> str:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> str:
        return self._values[name]

    def __str__(self) -> str:
        return self._values["email"]


@dataclass(frozen=True, slots=True)
class _Part:
    name: str
    template: jinja2.Template
    links_unsubscribe: bool
    """The source uses `unsubscribe_url`; else a footer carries it."""

    def render(self, values: dict[str, Any]) -> str:
        """The text, counted against the render's budget (the caller's `metered`); TemplateError if it fails."""
        running = meter()
        chunks = []
        try:
            for chunk in self.template.generate(values):
                if running is not None:
                    running.wrote(len(chunk))
                chunks.append(chunk)
            return "".join(chunks)
        except BudgetExceeded as exc:  # issue #12: stopped, and the message names the budget
            raise TemplateError(
                f"{self.name}{_line(exc.__traceback__, self.name)}: stopped rendering for {values['contact']}: "
                f"{exc}"
            ) from None
        except Exception as exc:  # a template is user code: any error it raises is the template's
            raise TemplateError(
                f"{self.name}{_line(exc.__traceback__, self.name)}: cannot render for {values['contact']}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc


class CampaignTemplate:
    """A loaded, checked template; `render` gives one contact's copy."""

    def __init__(
        self, html: _Part, text: _Part | None, subject: _Part, marked: _Part | None = None,
        budget: RenderBudget = RenderBudget(),
    ) -> None:
        """`budget`: what each render of a copy (`render`, `render_marked`) may take (issue #12)."""
        self._html, self._text, self._subject, self._marked = html, text, subject, marked
        self.budget = budget

    @classmethod
    def load(
        cls, html_path: Path, text_path: Path | None = None, *, subject: str, budget: RenderBudget = RenderBudget()
    ) -> CampaignTemplate:
        """Read and check the template files; TemplateError with the file and line if one is wrong."""
        return cls.from_strings(
            read_source(html_path), read_source(text_path) if text_path is not None else None, subject=subject,
            html_name=str(html_path), text_name=str(text_path), budget=budget,
        )

    @classmethod
    def from_strings(
        cls, html: str, text: str | None = None, *, subject: str, html_name: str = "the HTML template",
        text_name: str = "the text template", budget: RenderBudget = RenderBudget(),
    ) -> CampaignTemplate:
        marks = MARK_OPEN in html or MARK_CLOSE in html
        return cls(
            _compile(_HTML, html, html_name),
            _compile(_TEXT, text, text_name) if text is not None else None,
            _compile(_TEXT, subject, "the subject"),
            None if marks else _compile(_HTML_MARKED, html, html_name),
            budget,
        )

    def render(self, contact: Personal, unsubscribe_url: str, *, html: bool = True) -> Rendered:
        """The copy; with `html=False` its HTML is left empty (the caller took `render_marked`'s).
        TemplateError naming the budget if the render goes over it."""
        values = {"contact": _ContactView(contact), "unsubscribe_url": unsubscribe_url}
        with metered(self.budget):
            body = self.finish_html(self._html.render(values), unsubscribe_url) if html else ""
            text = None
            if self._text is not None:
                text = self._text.render(values)
                if not self._text.links_unsubscribe:
                    text = text.rstrip("\n") + TEXT_FOOTER.format(url=unsubscribe_url)
            subject = " ".join(self._subject.render(values).split())
        return Rendered(subject, body, text)

    def render_marked(self, contact: Personal, unsubscribe_url: str) -> Marked | None:
        """The HTML with its outputs marked (see `Marked`), before `finish_html`; None if the template
        itself holds the mark characters. `unsubscribe_url` is written as in `render`."""
        if self._marked is None:
            return None
        values: list[str] = []
        _recording.values, _recording.keep = values, unsubscribe_url
        try:
            with metered(self.budget):
                skeleton = self._marked.render({"contact": _ContactView(contact), "unsubscribe_url": unsubscribe_url})
        finally:
            _recording.values = _recording.keep = None
        return Marked(skeleton, tuple(values))

    def finish_html(self, html: str, unsubscribe_url: str) -> str:
        """Mark the unsubscribe links to stay untracked, or add the footer that carries one."""
        if self._html.links_unsubscribe:
            return mark_unsubscribe_links(html, unsubscribe_url)
        # the footer's link is marked already; a scan of the copy is 0.2 ms of a 21 KB newsletter
        return _with_footer(html, HTML_FOOTER.format(url=escape(unsubscribe_url)))


def mark_unsubscribe_links(html: str, url: str) -> str:
    """Add `data-notrack` to every link to `url`, so click tracking leaves the unsubscribe link as it is.

    >>> mark_unsubscribe_links('<a href="https://t.example/u/x">Leave</a> <a href="https://a.example/">A</a>',
    ...                        "https://t.example/u/x")
    '<a data-notrack href="https://t.example/u/x">Leave</a> <a href="https://a.example/">A</a>'
    """
    spots = [
        tag.start + 1 + len(tag.name)
        for tag in scan_html(html).links
        if "data-notrack" not in tag.attrs
        and "href" in tag.attrs
        and unescape_attribute(tag.attrs["href"].value).strip() == url
    ]
    for spot in reversed(spots):
        html = f"{html[:spot]} data-notrack{html[spot:]}"
    return html


def read_source(path: Path) -> str:
    """A template file's text (UTF-8, a BOM dropped); TemplateError naming the file."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise TemplateError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise TemplateError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise TemplateError(f"{path}: cannot read it: {exc.strerror}") from None


def _compile(env: _Sandbox, source: str, name: str) -> _Part:
    try:
        tree = env.parse(source, name=name)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{name}, line {exc.lineno}: {exc.message}") from None
    for statement in tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
        raise TemplateError(f"{name}, line {statement.lineno}: templates cannot include or import other templates")
    for access in tree.find_all((nodes.Getattr, nodes.Getitem)):
        key: object = None
        if isinstance(access, nodes.Getattr):
            key = access.attr
        elif isinstance(access, nodes.Getitem) and isinstance(access.arg, nodes.Const):
            key = access.arg.value
        if isinstance(key, str) and key.startswith("_"):
            raise TemplateError(f"{name}, line {access.lineno}: {key!r} is not allowed: templates cannot reach internals")
    undeclared = meta.find_undeclared_variables(tree)
    unknown = undeclared - NAMES - set(env.globals)
    for used in tree.find_all(nodes.Name):
        if used.name in unknown:
            raise TemplateError(
                f"{name}, line {used.lineno}: unknown name {used.name!r}; a template knows "
                "contact (contact.email, contact.first_name, ...) and unsubscribe_url"
            )
    template = env.template_class.from_code(env, env.compile(tree, name, name), env.make_globals(None), None)
    return _Part(name, template, "unsubscribe_url" in undeclared)


def _with_footer(html: str, footer: str) -> str:
    at = scan_html(html).body_close
    return html + footer if at is None else html[:at] + footer + html[at:]


def _line(tb: TracebackType | None, name: str) -> str:
    """", line N" of the deepest frame Jinja attributes to the template, "" if none."""
    found = ""
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == name:
            found = f", line {tb.tb_lineno}"
        tb = tb.tb_next
    return found
