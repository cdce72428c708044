"""Babel's extraction for this code: gettext's markers, plus the texts discord.py sends as
command descriptions, which carry no marker (babel.cfg names this as the method for *.py).

Beside everything Babel's Python extractor finds (`_`, `N_`, `ngettext`), it yields:
a slash command's docstring (its description, shortened as discord.py shortens it), and the
literal texts of `describe(...)`, `Choice(name=...)`, `Group(description=...)`, a GroupCog's
`group_description=` and a `ContextMenu(name=...)`.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

from babel.messages.extract import extract_python as babel_python

DESCRIPTION_MAX = 100  # Discord's limit; discord.py shortens longer docstrings to it
Extracted = tuple[Any, ...]  # (line, function, message(s), comments), as Babel's methods yield


def shorten_description(text: str) -> str:
    """A docstring as discord.py makes it a description (app_commands.commands._shorten)."""
    text = inspect.cleandoc(text).split("\n\n", 1)[0].replace("\n", " ")
    return text if len(text) <= DESCRIPTION_MAX else text[: DESCRIPTION_MAX - 3] + "..."


def extract_python(
    fileobj: IO[bytes],
    keywords: Mapping[str, Any],
    comment_tags: Collection[str],
    options: Any,
) -> Iterator[Extracted]:
    """Babel's extract_python, then the command texts of the same file."""
    yield from babel_python(fileobj, keywords, comment_tags, options)
    fileobj.seek(0)
    tree = ast.parse(fileobj.read())
    for node in ast.walk(tree):
        yield from _command_texts(node)


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _literal(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _command_texts(node: ast.AST) -> Iterator[Extracted]:
    if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef):
        commands = [d for d in node.decorator_list if isinstance(d, ast.Call)]
        docstring = ast.get_docstring(node, clean=False)
        if docstring and any(_name(d.func) == "command" for d in commands):
            yield node.lineno, "", shorten_description(docstring), []
    elif isinstance(node, ast.ClassDef):
        for keyword in node.keywords:
            text = _literal(keyword.value)
            if keyword.arg == "group_description" and text:
                yield node.lineno, "", text, []
    elif isinstance(node, ast.Call):
        yield from _call_texts(node)


def _call_texts(call: ast.Call) -> Iterator[Extracted]:
    name = _name(call.func)
    wanted = {
        "describe": None,  # every keyword
        "Choice": "name",
        "Group": "description",
        "ContextMenu": "name",
    }
    if name not in wanted:
        return
    for keyword in call.keywords:
        text = _literal(keyword.value)
        if text and (wanted[name] is None or keyword.arg == wanted[name]):
            yield call.lineno, "", text, []
