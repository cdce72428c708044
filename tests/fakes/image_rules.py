"""The fake WisGate server's request checker: OpenAI's published schema plus per-model rules.

Deliberately written without bot.core.catalogue or bot.wisgate.payload: two independent
implementations of the API's rules check each other (the property tests feed one into the other).

Rules live in a `ModelRegistry`. The module-level `check_generation` / `check_edit` use
`DEFAULT_REGISTRY`, which holds the four built-in models (`KNOWN_MODELS`) and is sealed. To try
a model the API gained later, derive it from a known one where it cannot leak into other tests:
on one fake's registry (`fake.rules`, or `fake.add_model`, which also serves it), or on the
default registry for the length of a `restoring()` block:

    fake.rules.derive("gpt-image-2.5-flare", like="gpt-image-2", transparent=True)
    with image_rules.restoring():
        image_rules.derive("gpt-image-2.5-flare", like="gpt-image-2", transparent=True)

Per-model rules include `transparent`: gpt-image-2 refuses `background: "transparent"` (December
2026) with the API's 400 "Transparent background is not supported for this model."
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import best_match  # type: ignore[import-untyped]
from PIL import Image

SPEC_PATH = Path(__file__).resolve().parents[1] / "specs" / "openai-images.openapi.json"
MIB = 1024 * 1024
GPT_INPUT_LIMIT = 50 * MIB  # each GPT image input: strictly less
SMALL_LIMIT = 4 * MIB  # dall-e-2 input and every mask: strictly less
MAX_PIXELS_FREE = 3840 * 2160
MIN_PIXELS_FREE = 655_360
CONTENT_TYPES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
GPT_ONLY = ("background", "output_format", "output_compression", "moderation", "partial_images")


class RuleViolation(Exception):
    """A request the real API would refuse; `body()` is the API's error JSON."""

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = "invalid_value",
        status: int = 400,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.status = status

    def body(self) -> dict[str, Any]:
        """The error object the API answers with."""
        return {
            "error": {
                "message": self.message,
                "type": "invalid_request_error",
                "param": self.param,
                "code": self.code,
            }
        }


@dataclass(frozen=True)
class FilePart:
    """One file part of a multipart edit request."""

    field: str
    filename: str
    content_type: str | None
    data: bytes


@dataclass(frozen=True)
class _Rules:
    prompt_limit: int
    most_images: int  # n
    sizes: frozenset[str]
    qualities: frozenset[str]
    any_size: bool = False
    edit_inputs: int = 0
    gpt: bool = False
    takes_style: bool = False
    takes_fidelity: bool = False
    transparent: bool = False  # takes background "transparent" (gpt-image-2 no longer does)


_GPT_SIZES = frozenset({"1024x1024", "1536x1024", "1024x1536", "auto"})
_GPT_QUALITY = frozenset({"auto", "low", "medium", "high"})
_DALLE3_SIZES = frozenset({"1024x1024", "1792x1024", "1024x1792"})
_DALLE2_SIZES = frozenset({"256x256", "512x512", "1024x1024"})
# The built-in models, read-only: registries copy them.
_RULES: Mapping[str, _Rules] = MappingProxyType(
    {
        "gpt-image-2": _Rules(
            32000, 10, _GPT_SIZES, _GPT_QUALITY, any_size=True, edit_inputs=16, gpt=True
        ),
        "gpt-image-1": _Rules(
            32000,
            10,
            _GPT_SIZES,
            _GPT_QUALITY,
            edit_inputs=16,
            gpt=True,
            takes_fidelity=True,
            transparent=True,
        ),
        "dall-e-3": _Rules(4000, 1, _DALLE3_SIZES, frozenset({"standard", "hd"}), takes_style=True),
        "dall-e-2": _Rules(1000, 10, _DALLE2_SIZES, frozenset({"standard"}), edit_inputs=1),
    }
)
KNOWN_MODELS: frozenset[str] = frozenset(_RULES)
TRANSPARENCY_REFUSED = "Transparent background is not supported for this model."


def model_not_found(model: str) -> RuleViolation:
    """The API's answer for a model it does not serve (or does not know)."""
    return RuleViolation(
        f"The model `{model}` does not exist or you do not have access to it.",
        param=None,
        code="model_not_found",
        status=404,
    )


class ModelRegistry:
    """Per-model rules by name: the built-in models plus any derived from them at run time.

    Each FakeWisGate holds its own (`fake.rules`), so what one test derives stays in that test.
    A sealed registry (`DEFAULT_REGISTRY`) refuses `derive` outside `restoring()`.
    """

    def __init__(self, rules: Mapping[str, _Rules] = _RULES, *, sealed: bool = False) -> None:
        self._rules: dict[str, _Rules] = dict(rules)
        self.sealed = sealed

    @property
    def names(self) -> frozenset[str]:
        """Every model this registry has rules for."""
        return frozenset(self._rules)

    def __contains__(self, name: object) -> bool:
        return name in self._rules

    def rules(self, name: str) -> _Rules:
        """The rules for `name`; KeyError if there are none."""
        return self._rules[name]

    def derive(self, name: str, *, like: str, **changes: Any) -> _Rules:
        """Give `name` the rules of `like` with `changes` (fields of _Rules), and return them.

        Replaces any rules `name` had (so a built-in model can change its mind, too).
        """
        if self.sealed:
            raise RuntimeError(
                "this registry is sealed: derive inside image_rules.restoring(), or on a fake's"
                " own registry (FakeWisGate.rules / add_model)"
            )
        if like not in self._rules:
            raise KeyError(f"no rules for {like!r} to derive {name!r} from")
        rules = dataclasses.replace(self._rules[like], **changes)  # TypeError for unknown fields
        self._rules[name] = rules
        return rules

    def copy(self) -> ModelRegistry:
        """An unsealed registry with the same rules, independent from this one."""
        return ModelRegistry(self._rules)

    def check_generation(self, body: Mapping[str, Any]) -> None:
        """Raise RuleViolation unless the JSON body of POST /images/generations is acceptable."""
        check_generation(body, registry=self)

    def check_edit(self, fields: Mapping[str, str], files: Sequence[FilePart]) -> None:
        """Raise RuleViolation unless a multipart POST /images/edits is acceptable."""
        check_edit(fields, files, registry=self)


# The four built-in models; what the module-level checks (and the property tests) use.
DEFAULT_REGISTRY = ModelRegistry(sealed=True)


def derive(
    name: str, *, like: str, registry: ModelRegistry | None = None, **changes: Any
) -> _Rules:
    """`registry.derive(...)`, by default on DEFAULT_REGISTRY (only inside `restoring()`)."""
    return (registry or DEFAULT_REGISTRY).derive(name, like=like, **changes)


@contextlib.contextmanager
def restoring(registry: ModelRegistry | None = None) -> Iterator[ModelRegistry]:
    """Let `derive` change a registry (DEFAULT_REGISTRY by default) until the block ends.

    The rules (and the seal) it had before come back afterwards, even if the block raises.
    """
    target = registry or DEFAULT_REGISTRY
    saved, sealed = dict(target._rules), target.sealed
    target.sealed = False
    try:
        yield target
    finally:
        target._rules, target.sealed = saved, sealed


def _openapi_to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` is not JSON Schema: spell it as an allowed null."""
    if isinstance(node, list):
        return [_openapi_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _openapi_to_json_schema(value) for key, value in node.items()}
    if out.pop("nullable", None) is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        if "anyOf" in out:
            out["anyOf"] = [*out["anyOf"], {"type": "null"}]
    return out


@functools.cache
def _components() -> dict[str, Any]:
    document = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    components: dict[str, Any] = _openapi_to_json_schema(document["components"])
    return components


@functools.cache
def _validator(schema_name: str) -> Any:
    # `#/components/...` refs resolve against this root, which carries the whole components map.
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": _components()}
    Draft202012Validator.check_schema(root)
    return Draft202012Validator(root)


def _properties(schema_name: str) -> dict[str, Any]:
    properties: dict[str, Any] = _components()["schemas"][schema_name]["properties"]
    return properties


def _json_types(schema: Mapping[str, Any]) -> set[str]:
    """Every JSON type a property schema allows, following anyOf and local refs."""
    if "$ref" in schema:
        schema = _components()["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    declared = schema.get("type", [])
    types = {declared} if isinstance(declared, str) else set(declared)
    for branch in schema.get("anyOf", []):
        types |= _json_types(branch)
    return types


def _check_schema(instance: Mapping[str, Any], schema_name: str) -> None:
    unknown = sorted(set(instance) - set(_properties(schema_name)))
    if unknown:
        raise RuleViolation(
            f"Unknown parameter: '{unknown[0]}'.", param=unknown[0], code="unknown_parameter"
        )
    error = best_match(_validator(schema_name).iter_errors(dict(instance)))
    if error is None:
        return
    param = str(error.absolute_path[0]) if error.absolute_path else None
    code = {"type": "invalid_type", "required": "missing_required_parameter"}.get(
        error.validator, "invalid_value"
    )
    raise RuleViolation(f"Invalid request: {error.message}", param=param, code=code)


def _rules_for(params: Mapping[str, Any], registry: ModelRegistry) -> tuple[str, _Rules]:
    model = params.get("model")
    if model is None:
        # The API would fall back to a default model; the bot must always name one.
        raise RuleViolation(
            "Missing required parameter: 'model'.", param="model", code="missing_required_parameter"
        )
    if model not in registry:
        raise model_not_found(model)
    return model, registry.rules(model)


def _size_allowed(rules: _Rules, size: str) -> bool:
    if size in rules.sizes:
        return True
    match = re.fullmatch(r"([1-9][0-9]*)x([1-9][0-9]*)", size) if rules.any_size else None
    if match is None:
        return False
    width, height = int(match[1]), int(match[2])
    long_side, short_side = max(width, height), min(width, height)
    return (
        width % 16 == 0
        and height % 16 == 0
        and long_side <= 3 * short_side
        and long_side <= 3840
        and MIN_PIXELS_FREE <= width * height <= MAX_PIXELS_FREE
    )


def _check_common(model: str, rules: _Rules, params: Mapping[str, Any]) -> None:
    """Rules both endpoints share; `params` holds only non-null values."""
    prompt = params["prompt"]
    if not prompt.strip():
        raise RuleViolation("Invalid 'prompt': empty string.", param="prompt")
    if len(prompt) > rules.prompt_limit:
        raise RuleViolation(
            f"Invalid 'prompt': string too long. Expected at most {rules.prompt_limit} characters.",
            param="prompt",
            code="string_above_max_length",
        )
    if not 1 <= params.get("n", 1) <= rules.most_images:
        raise RuleViolation(f"Invalid 'n': {model} supports 1 to {rules.most_images}.", param="n")
    if "size" in params and not _size_allowed(rules, params["size"]):
        raise RuleViolation(f"Invalid size '{params['size']}' for {model}.", param="size")
    if "quality" in params and params["quality"] not in rules.qualities:
        raise RuleViolation(f"Invalid quality '{params['quality']}' for {model}.", param="quality")
    _check_extras(model, rules, params)


def _check_extras(model: str, rules: _Rules, params: Mapping[str, Any]) -> None:
    if rules.gpt and "response_format" in params:
        raise RuleViolation(
            "Unknown parameter: 'response_format'.",
            param="response_format",
            code="unknown_parameter",
        )
    if not rules.gpt:
        offending = [name for name in GPT_ONLY if name in params]
        offending += ["stream"] if params.get("stream") else []
        if offending:
            raise RuleViolation(
                f"'{offending[0]}' is not supported with {model}.", param=offending[0]
            )
    if "style" in params and not rules.takes_style:
        raise RuleViolation(f"'style' is not supported with {model}.", param="style")
    output_format = params.get("output_format", "png")
    compression = params.get("output_compression")
    if compression is not None and not 0 <= compression <= 100:
        raise RuleViolation("output_compression must be 0-100.", param="output_compression")
    if compression is not None and output_format not in ("jpeg", "webp"):
        raise RuleViolation(
            "output_compression needs output_format jpeg or webp.", param="output_compression"
        )
    if params.get("background") == "transparent" and not rules.transparent:
        raise RuleViolation(TRANSPARENCY_REFUSED, param="background")
    if params.get("background") == "transparent" and output_format not in ("png", "webp"):
        raise RuleViolation("Transparent background needs png or webp.", param="background")


def check_generation(body: Mapping[str, Any], *, registry: ModelRegistry | None = None) -> None:
    """Raise RuleViolation unless the JSON body of POST /images/generations is acceptable.

    Models are those of `registry` (DEFAULT_REGISTRY unless given).
    """
    if not isinstance(body, Mapping):
        raise RuleViolation("The body must be a JSON object.", code="invalid_json")
    _check_schema(body, "CreateImageRequest")
    model, rules = _rules_for(body, registry or DEFAULT_REGISTRY)
    _check_common(model, rules, {key: value for key, value in body.items() if value is not None})


def _coerce(name: str, raw: str) -> Any:
    """Multipart fields are text: read them as the schema's integer or boolean where they fit."""
    types = _json_types(_properties("CreateImageEditRequest").get(name, {}))
    if "integer" in types and re.fullmatch(r"-?[0-9]+", raw):
        return int(raw)
    if "boolean" in types and raw in ("true", "false"):
        return raw == "true"
    return raw


@dataclass(frozen=True)
class _Decoded:
    field: str
    format: str
    width: int
    height: int
    alpha: bool
    size: int


def _decode(part: FilePart) -> _Decoded:
    declared = (part.content_type or "").split(";")[0].strip().lower()
    if declared not in CONTENT_TYPES:
        raise RuleViolation(
            f"Invalid file '{part.field}': unsupported mimetype ('{declared}'). Supported file "
            "formats are 'image/jpeg', 'image/png', and 'image/webp'.",
            param=part.field,
            code="unsupported_file_mimetype",
        )
    try:
        with Image.open(io.BytesIO(part.data)) as image:
            image.load()
            actual = "JPEG" if image.format == "MPO" else str(image.format)
            alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
            width, height = image.size
    except Exception as error:
        raise RuleViolation(
            f"Invalid image file '{part.filename}': {error}", param=part.field, code="invalid_image"
        ) from None
    if actual != CONTENT_TYPES[declared]:
        raise RuleViolation(
            f"File '{part.filename}' says {declared} but holds {actual}.",
            param=part.field,
            code="invalid_image_format",
        )
    return _Decoded(part.field, actual, width, height, alpha, len(part.data))


def _check_files(model: str, rules: _Rules, files: Sequence[FilePart]) -> None:
    images = [_decode(part) for part in files if part.field in ("image", "image[]")]
    masks = [_decode(part) for part in files if part.field == "mask"]
    if not images:
        raise RuleViolation(
            "Missing required parameter: 'image'.", param="image", code="missing_required_parameter"
        )
    if len({part.field for part in files} - {"mask"}) > 1 or len(masks) > 1:
        raise RuleViolation("Send images as 'image' or 'image[]', one mask at most.", param="image")
    if len(images) > rules.edit_inputs:
        raise RuleViolation(f"{model} takes at most {rules.edit_inputs} images.", param="image")
    for image in images:
        _check_input(model, rules, image)
    if masks:
        _check_mask(masks[0], images[0])


def _check_input(model: str, rules: _Rules, image: _Decoded) -> None:
    if rules.gpt and image.size >= GPT_INPUT_LIMIT:
        raise RuleViolation("Each image must be less than 50MB.", param=image.field)
    if not rules.gpt and (
        image.format != "PNG" or image.size >= SMALL_LIMIT or image.width != image.height
    ):
        raise RuleViolation(f"{model} needs one square PNG under 4MB.", param=image.field)


def _check_mask(mask: _Decoded, first: _Decoded) -> None:
    if mask.format != "PNG" or mask.size >= SMALL_LIMIT:
        raise RuleViolation("The mask must be a PNG under 4MB.", param="mask")
    if not mask.alpha:
        raise RuleViolation("The mask must have an alpha channel.", param="mask")
    if (mask.width, mask.height) != (first.width, first.height):
        raise RuleViolation("The mask and the image must have the same dimensions.", param="mask")


def check_edit(
    fields: Mapping[str, str],
    files: Sequence[FilePart],
    *,
    registry: ModelRegistry | None = None,
) -> None:
    """Raise RuleViolation unless a multipart POST /images/edits (fields + files) is acceptable.

    Models are those of `registry` (DEFAULT_REGISTRY unless given).
    """
    unknown = [part.field for part in files if part.field not in ("image", "image[]", "mask")]
    if unknown:
        raise RuleViolation(
            f"Unknown parameter: '{unknown[0]}'.", param=unknown[0], code="unknown_parameter"
        )
    for name in ("image", "image[]", "mask"):
        if name in fields:
            raise RuleViolation(f"'{name}' must be a file upload.", param=name.rstrip("[]"))
    params = {name: _coerce(name, value) for name, value in fields.items()}
    images = [part for part in files if part.field in ("image", "image[]")]
    instance: dict[str, Any] = dict(params)
    if images:
        instance["image"] = "<file>" if len(images) == 1 else ["<file>"] * len(images)
    if any(part.field == "mask" for part in files):
        instance["mask"] = "<file>"
    _check_schema(instance, "CreateImageEditRequest")
    model, rules = _rules_for(params, registry or DEFAULT_REGISTRY)
    if not rules.edit_inputs:
        raise RuleViolation(f"{model} does not support image edits.", param="model")
    if "input_fidelity" in params and not rules.takes_fidelity:
        raise RuleViolation(
            f"'input_fidelity' is not supported with {model}.", param="input_fidelity"
        )
    _check_common(model, rules, params)
    _check_files(model, rules, files)
