"""The Jinja2 templates of job files: sandboxed, and limited so that none hangs or fills memory.

Jinja2's immutable sandbox keeps templates away from Python internals and from changing the
values they are given. On top of it, each rendering of one template may use at most:

* ``MAX_STEPS`` loop iterations, and ``MAX_STEPS`` items of ``range()`` in all;
* ``MAX_CALLS`` calls of functions, methods, filters and macros;
* ``MAX_TEXT`` characters (or items) in its output and in any value it makes: ``*``, ``+``,
  ``~`` and ``%``, and the filters and methods whose arguments size their result (``center``,
  ``indent``, ``ljust``, ``replace``, ``join``, ``format``, ``lipsum``…) are checked before
  they run;
* integers of ``MAX_INT_DIGITS`` digits (``**`` and ``*`` are checked before they run).

A job file renders at most ``MAX_JOB_TEXT`` characters in all. A template that breaks a limit
fails like any other template error.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import string
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, cast

import jinja2
from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum
from jinja2.visitor import NodeTransformer

from .located_yaml import MAX_INT_DIGITS

MAX_STEPS = 100_000
MAX_CALLS = 100_000
MAX_TEXT = 1_000_000
MAX_JOB_TEXT = 100_000_000

_MAX_INT_BITS = int(MAX_INT_DIGITS * math.log2(10))
_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")
_NUMBER = re.compile(r"\d+")


@dataclass
class _Budget:
    """What one rendering has used so far."""

    steps: int = 0
    range_items: int = 0
    calls: int = 0

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise _limit(f"loops ran more than {MAX_STEPS:,} times")

    def take_range(self, items: int) -> None:
        self.range_items += items
        if self.range_items > MAX_STEPS:
            raise _limit(f"range() made more than {MAX_STEPS:,} items")

    def call(self) -> None:
        self.calls += 1
        if self.calls > MAX_CALLS:
            raise _limit(f"more than {MAX_CALLS:,} calls")


_BUDGET: ContextVar[_Budget | None] = ContextVar("template_budget", default=None)


def _budget() -> _Budget:
    # Outside a rendering (Jinja2 folds constant filter calls when it compiles) nothing counts.
    return _BUDGET.get() or _Budget()


def _limit(message: str) -> SecurityError:
    return SecurityError(f"over a template limit: {message}")


class Templates:
    """Compiles and renders the templates of one job file, each source compiled once."""

    def __init__(self) -> None:
        self._compiled: dict[str, jinja2.Template | str] = {}
        self._rendered = 0

    def problem(self, source: str) -> str | None:
        """Why ``source`` does not compile, or None."""
        compiled = self._compile(source)
        return compiled if isinstance(compiled, str) else None

    def render(self, source: str, values: Mapping[str, Any]) -> str:
        """``source`` rendered with ``values``. Raises ValueError saying why it failed."""
        template = self._compile(source)
        if isinstance(template, str):
            raise ValueError(template)
        token = _BUDGET.set(_Budget())
        try:
            text = _bounded_output(template.generate(values))
        except jinja2.UndefinedError as exc:
            known = ", ".join(values) if values else "none; the job has no matrix"
            raise ValueError(f"template error: {exc.message} (variables: {known})") from None
        except Exception as exc:  # whatever the template did wrong, it is the template's error
            raise ValueError(f"template error: {type(exc).__name__}: {str(exc)[:200]}") from None
        finally:
            _BUDGET.reset(token)
        self._rendered += len(text)
        if self._rendered > MAX_JOB_TEXT:
            raise ValueError(
                f"the job file's templates render more than {MAX_JOB_TEXT:,} characters in all"
            )
        return text

    def _compile(self, source: str) -> jinja2.Template | str:
        if source not in self._compiled:
            self._compiled[source] = _compile(source)
        return self._compiled[source]


def _compile(source: str) -> jinja2.Template | str:
    try:
        tree = _ENVIRONMENT.parse(source)
        tree = _Counted().visit(tree)
        tree.set_environment(_ENVIRONMENT)
        code = _ENVIRONMENT.compile(tree)
    except jinja2.TemplateSyntaxError as exc:
        return f"template syntax error on template line {exc.lineno}: {exc.message}"
    except Exception as exc:  # nesting Python cannot compile, a literal it cannot hold
        return f"template syntax error: {type(exc).__name__}: {str(exc)[:200]}"
    return _ENVIRONMENT.template_class.from_code(
        _ENVIRONMENT, code, _ENVIRONMENT.make_globals(None), None
    )


def _bounded_output(chunks: Iterator[str]) -> str:
    parts: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_TEXT:
            raise _limit(f"the output is longer than {MAX_TEXT:,} characters")
        parts.append(chunk)
    return "".join(parts)


class _Counted(NodeTransformer):
    """Routes every loop through a step counter and every ``~`` through a size check."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _environment_call("counted", [cast(nodes.Expr, node.iter)], node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _environment_call(
            "joined", [nodes.List(node.nodes, lineno=node.lineno)], node.lineno
        )


def _environment_call(name: str, arguments: list[nodes.Expr], lineno: int) -> nodes.Call:
    function = nodes.EnvironmentAttribute(name, lineno=lineno)
    return nodes.Call(function, arguments, [], None, None, lineno=lineno)


class _LimitedSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self) -> None:
        super().__init__(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
        self.globals["range"] = _counted_range
        self.globals["lipsum"] = _limited_lipsum
        self.filters = {name: _limited_filter(name, f) for name, f in self.filters.items()}

    def counted(self, iterable: Iterable[Any]) -> Iterator[Any]:
        budget = _budget()
        for item in iterable:
            budget.step()
            yield item

    def joined(self, items: list[Any]) -> str:
        parts = [str(item) for item in items]
        _check_size(sum(map(len, parts)), "~")
        return "".join(parts)

    def call_binop(
        self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any
    ) -> Any:
        _check_operation(operator, left, right)
        return _checked(super().call_binop(context, operator, left, right))

    # The parameters' double underscores are Jinja2's: a template's keyword arguments pass through.
    def call(
        __self,
        __context: jinja2.runtime.Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        _budget().call()
        args = _check_method(__obj, args, kwargs)
        return _checked(super().call(__context, __obj, *args, **kwargs))


def _counted_range(*args: int) -> range:
    items = range(*args)
    _budget().take_range(len(items))
    return items


def _limited_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    if n > 100 or max > 1000:
        raise _limit("lipsum() makes at most 100 paragraphs of at most 1,000 words")
    return generate_lorem_ipsum(n, html, min, max)


def _limited_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    passes_first = hasattr(function, "jinja_pass_arg")  # context, eval context or environment

    @functools.wraps(function)
    def limited(*args: Any, **kwargs: Any) -> Any:
        _budget().call()
        given = args[1:] if passes_first else args
        if given:
            given = (_check_filter(name, given[0], given[1:], kwargs), *given[1:])
        full = (args[0], *given) if passes_first else given
        return _checked(function(*full, **kwargs))

    return limited


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_size(size: int, what: str) -> None:
    if size > MAX_TEXT:
        raise _limit(f"{what} would make {size:,} characters or items, more than {MAX_TEXT:,}")


def _checked(result: Any) -> Any:
    if isinstance(result, str | bytes | list | tuple | dict | set):
        _check_size(len(result), "a value")
    return result


def _check_operation(operator: str, left: Any, right: Any) -> None:
    if operator == "**" and _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1:
        if right * math.log10(abs(left)) > MAX_INT_DIGITS:
            raise _limit(f"** would make an integer of more than {MAX_INT_DIGITS:,} digits")
    elif operator == "*" and _is_int(left) and _is_int(right):
        if left.bit_length() + right.bit_length() > _MAX_INT_BITS:
            raise _limit(f"* would make an integer of more than {MAX_INT_DIGITS:,} digits")
    elif operator == "*":
        sized, count = (left, right) if _is_int(right) else (right, left)
        if _is_int(count) and isinstance(sized, Sized):
            _check_size(len(sized) * count, "*")
    elif operator == "+" and isinstance(left, Sized) and isinstance(right, Sized):
        _check_size(len(left) + len(right), "+")
    elif operator == "%" and isinstance(left, str):
        _check_printf(left, right)


def _check_printf(text: str, arguments: Any) -> None:
    """``text % arguments``: widths and precisions may not add up to more than MAX_TEXT."""
    numbers = [int(n) for spec in _PRINTF.findall(text) for n in spec if n.isdigit()]
    if any("*" in spec for spec in _PRINTF.findall(text)):
        given = arguments if isinstance(arguments, tuple) else (arguments,)
        numbers += [abs(n) for n in given if _is_int(n)]
    _check_size(sum(numbers), "%")


def _check_format(text: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """``text.format(...)``: widths, nested ones included, may not add up to more than MAX_TEXT."""
    largest = max((abs(n) for n in (*args, *kwargs.values()) if _is_int(n)), default=0)
    total = 0
    for _, field, spec, _ in string.Formatter().parse(text):
        if field is not None and spec:
            total += sum(int(n) for n in _NUMBER.findall(spec)) + (largest if "{" in spec else 0)
    _check_size(total, "format()")


def _check_method(method: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """Checks a call of a str method whose arguments size its result; the arguments to use."""
    receiver = getattr(getattr(method, "__wrapped__", method), "__self__", None)
    if not isinstance(receiver, str):
        return args
    name = getattr(method, "__name__", "")
    if name in ("format", "format_map"):
        mapping = (
            args[0] if name == "format_map" and args and isinstance(args[0], Mapping) else kwargs
        )
        _check_format(receiver, args, mapping)
    elif name in ("ljust", "rjust", "center", "zfill") and args and _is_int(args[0]):
        _check_size(args[0], name)
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if _is_int(size):
            _check_size(len(receiver) + size * receiver.count("\t"), name)
    elif name == "replace" and len(args) >= 2:
        _check_replace(receiver, *args[:3])
    elif name == "join" and args:
        items = _materialized(args[0])
        _check_size(len(receiver) * len(items) + sum(map(len, map(str, items))), "join")
        return (items, *args[1:])
    return args


def _check_filter(name: str, value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    """Checks a filter call whose arguments size its result; the value to filter."""

    def argument(index: int, key: str, default: Any) -> Any:
        return args[index] if len(args) > index else kwargs.get(key, default)

    if name in ("center", "batch", "slice"):
        size = argument(0, {"center": "width", "batch": "linecount", "slice": "slices"}[name], 0)
        if _is_int(size):
            _check_size(size, name)
    elif name == "indent":
        width = argument(0, "width", 4)
        size = width if _is_int(width) else len(str(width))
        _check_size(len(str(value)) + size * (str(value).count("\n") + 1), name)
    elif name == "wordwrap":
        wrapstring = argument(2, "wrapstring", None)
        if isinstance(wrapstring, str):
            _check_size(len(str(value)) * (len(wrapstring) + 1), name)
    elif name == "tojson":
        indent = argument(0, "indent", None)
        if (_is_int(indent) and indent > 64) or (isinstance(indent, str) and len(indent) > 64):
            raise _limit("tojson indents by at most 64")
    elif name == "format" and isinstance(value, str):
        _check_printf(value, tuple(args) or dict(kwargs))
    elif name == "replace" and isinstance(value, str) and len(args) >= 2:
        _check_replace(value, *args[:3])
    elif name == "join":
        value = _materialized(value)
        if isinstance(value, Sized):
            _check_size(len(str(argument(0, "d", ""))) * len(value), name)
    return value


def _check_replace(text: str, old: Any, new: Any, count: Any = None) -> None:
    if not (isinstance(old, str) and isinstance(new, str)):
        return
    found = text.count(old) if old else len(text) + 1
    if _is_int(count) and count >= 0:
        found = min(found, count)
    _check_size(len(text) + found * (len(new) - len(old)), "replace")


def _materialized(items: Any) -> Any:
    """``items`` as a list when it is an iterator, taking at most MAX_STEPS of them."""
    if isinstance(items, Sized) or not isinstance(items, Iterable):
        return items
    taken = list(itertools.islice(items, MAX_STEPS + 1))
    if len(taken) > MAX_STEPS:
        raise _limit(f"more than {MAX_STEPS:,} items to join")
    return taken


_ENVIRONMENT = _LimitedSandbox()
