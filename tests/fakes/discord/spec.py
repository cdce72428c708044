"""Check request bodies against Discord's published OpenAPI subset (tests/specs/).

The spec is Discord's own (MIT); a few of its types disagree with Discord's documentation
and with what every library sends, so :func:`_patch_quirks` relaxes exactly those before
validating. Everything else is validated as published.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).resolve().parents[2] / "specs" / "discord-v10.openapi.json"
_SPEC_URI = "urn:discord-v10-openapi"
_SNOWFLAKE = "^(0|[1-9][0-9]*)$"


@dataclass(frozen=True)
class Operation:
    """One (method, path template) of the spec and the validator for its JSON body."""

    method: str
    template: str
    operation_id: str
    pattern: re.Pattern[str]
    body_pointer: str | None
    body_required: bool

    def validate(self, body: Any) -> list[str]:
        """Return one readable message per schema error in `body` (empty when valid)."""
        if self.body_pointer is None:
            return []
        if body is None:
            return ["a JSON body is required"] if self.body_required else []
        validator = _validator(self.body_pointer)
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        return [_describe(error) for error in errors]


def find_operation(method: str, path: str) -> Operation | None:
    """The spec operation for `method` on `path` (relative to /api/v10), if the spec has one."""
    for operation in _operations():
        if operation.method == method.upper() and operation.pattern.fullmatch(path):
            return operation
    return None


def error_fields(messages: list[str]) -> dict[str, Any]:
    """Discord's nested `errors` object for a 50035 answer, built from validation messages."""
    return {"_errors": [{"code": "SCHEMA_VALIDATION", "message": m} for m in messages[:10]]}


def _describe(error: jsonschema.ValidationError) -> str:
    error = _deepest(error)
    where = "/".join(str(p) for p in error.absolute_path) or "(body)"
    message = error.message
    if len(message) > 200:
        # The default message repeats the whole instance: name the broken rule instead.
        limit = json.dumps(error.validator_value, default=str)[:80]
        message = f"fails {error.validator!s} {limit}"
    return f"{where}: {message}"


def _deepest(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """Inside anyOf/oneOf, the branch error with the longest path is the one that explains."""
    if not error.context:
        return error
    candidates = [_deepest(sub) for sub in error.context]
    best = max(
        candidates, key=lambda e: (len(e.absolute_path), e.validator not in ("type", "enum"))
    )
    return best if len(best.absolute_path) > len(error.absolute_path) else error


@functools.cache
def _spec() -> dict[str, Any]:
    with SPEC_PATH.open(encoding="utf-8") as handle:
        spec: dict[str, Any] = json.load(handle)
    return _patch_quirks(spec)


def _patch_quirks(spec: dict[str, Any]) -> dict[str, Any]:
    """Relax the places where the spec contradicts Discord's documentation."""
    spec = copy.deepcopy(spec)
    schemas = spec["components"]["schemas"]
    # Snowflakes are documented as strings but Discord accepts integers too, and upload
    # references are plain indices: discord.py sends `attachments: [{"id": 0, ...}]`.
    schemas["SnowflakeType"] = {
        "anyOf": [
            {"type": "string", "pattern": _SNOWFLAKE},
            {"type": "integer", "minimum": 0},
        ]
    }
    # The documentation types permission bit sets as strings (they exceed 2**53); the spec
    # says integer. Accept both.
    for name in ("ApplicationCommandCreateRequest", "ApplicationCommandUpdateRequest"):
        prop = schemas[name]["properties"]["default_member_permissions"]
        schemas[name]["properties"]["default_member_permissions"] = {
            "anyOf": [prop, {"type": "string", "pattern": _SNOWFLAKE}]
        }
    # Discord documents that localization keys are its locales; the spec leaves them open.
    _locales_only(schemas)
    return spec


def _locales_only(node: Any) -> None:
    """Every `*_localizations` object's keys must be Discord locales (AvailableLocalesEnum)."""
    if isinstance(node, list):
        for item in node:
            _locales_only(item)
    if not isinstance(node, dict):
        return
    for name, prop in (node.get("properties") or {}).items():
        if name.endswith("_localizations") and isinstance(prop, dict):
            prop["propertyNames"] = {"$ref": "#/components/schemas/AvailableLocalesEnum"}
    for value in node.values():
        _locales_only(value)


@functools.cache
def _registry() -> Registry[Any]:
    resource: Resource[Any] = Resource.from_contents(_spec(), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(_SPEC_URI, resource)
    return registry


@functools.cache
def _validator(pointer: str) -> Any:
    schema = {"$ref": f"{_SPEC_URI}#{pointer}"}
    return jsonschema.Draft202012Validator(schema, registry=_registry())


@functools.cache
def _operations() -> tuple[Operation, ...]:
    found: list[Operation] = []
    for template, item in _spec()["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            found.append(_operation(template, method, operation))
    # Literal segments (@me, @original) must win over {parameters}.
    found.sort(key=lambda op: op.template.count("{"))
    return tuple(found)


def _operation(template: str, method: str, operation: dict[str, Any]) -> Operation:
    body = operation.get("requestBody", {})
    pointer = None
    if "application/json" in body.get("content", {}):
        escaped = template.replace("~", "~0").replace("/", "~1")
        pointer = f"/paths/{escaped}/{method}/requestBody/content/application~1json/schema"
    regex = re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(template))
    return Operation(
        method=method.upper(),
        template=template,
        operation_id=operation.get("operationId", f"{method} {template}"),
        pattern=re.compile(regex),
        body_pointer=pointer,
        body_required=bool(body.get("required", False)),
    )
