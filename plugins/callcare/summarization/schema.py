"""The summary contract: the versioned JSON Schema and prompt template under include/prompts/.

Every backend, offline or LLM, validates against the same schema file, so the pipeline, the lake
and the warehouse can trust a stored summary whichever backend wrote it. Validation errors are
reported as a JSON path and the kind of rule broken, never with the offending value: a value may
be text lifted from a transcript, and these reasons end up in logs and in the registry.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

# plugins/callcare/summarization/schema.py -> the repository (or Airflow home) root
_ROOT = Path(__file__).resolve().parents[3]
# In a checkout include/ sits at the root; on MWAA it is deployed inside the dags folder.
_DEFAULT_DIRS = (_ROOT / "include" / "prompts", _ROOT / "dags" / "include" / "prompts")

MAX_REASONS = 3


class SummaryInvalid(ValueError):
    """A summary that breaks the schema; str() is short and holds no summary text."""


def prompts_dir(override: Path | str | None = None) -> Path:
    """The folder holding the schemas and prompts: the override if given, else the first that exists."""
    if override is not None:
        return Path(override)
    for candidate in _DEFAULT_DIRS:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"no prompts folder found; looked in {[str(d) for d in _DEFAULT_DIRS]}")


@lru_cache(maxsize=16)
def _load_json(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


def load_schema(version: str = "v1", directory: Path | str | None = None) -> dict[str, Any]:
    """The summary JSON Schema of a version (a fresh copy, so callers may not alter the cached one)."""
    path = prompts_dir(directory) / f"summary_{version}.schema.json"
    if not path.is_file():
        raise FileNotFoundError(f"no summary schema for version {version!r} at {path}")
    return json.loads(json.dumps(_load_json(path.resolve())))


@lru_cache(maxsize=16)
def _validator(version: str, directory: str | None) -> Draft202012Validator:
    schema = load_schema(version, directory)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


def load_prompt_template(version: str = "v1", directory: Path | str | None = None) -> tuple[str, str]:
    """(system, user) template texts; the file marks them with <!-- system --> and <!-- user -->."""
    folder = prompts_dir(directory)
    for suffix in (".prompt.md", ".prompt.txt"):
        path = folder / f"summary_{version}{suffix}"
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            break
    else:
        raise FileNotFoundError(f"no prompt template for version {version!r} in {folder}")
    if "<!-- system -->" not in text or "<!-- user -->" not in text:
        raise ValueError(f"{path.name}: needs a '<!-- system -->' and a '<!-- user -->' section")
    system = text.split("<!-- system -->", 1)[1].split("<!-- user -->", 1)[0].strip()
    user = text.split("<!-- user -->", 1)[1].strip()
    return system, user


def _json_path(error: ValidationError) -> str:
    parts = ["$"]
    for item in error.absolute_path:
        parts.append(f"[{item}]" if isinstance(item, int) else f".{item}")
    return "".join(parts)


def _describe(error: ValidationError) -> str:
    """The broken rule in words, built from the schema side only (the instance may hold PII)."""
    kind, rule = error.validator, error.validator_value
    if kind == "required":
        present = error.instance if isinstance(error.instance, dict) else {}
        missing = [name for name in rule if name not in present]
        return f"missing required field(s) {', '.join(missing)}"
    if kind == "additionalProperties":
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(str(k)[:40] for k in error.instance if k not in allowed)
        return f"unexpected field(s) {', '.join(extra)}"
    if kind == "enum":
        return f"must be one of {', '.join(map(str, rule))}"
    if kind == "type":
        wanted = rule if isinstance(rule, str) else " or ".join(rule)
        return f"must be of type {wanted}, got {type(error.instance).__name__}"
    if kind in ("minLength", "maxLength", "minItems", "maxItems"):
        return f"violates {kind}={rule}"
    if kind == "pattern":
        return f"does not match pattern {rule}"
    if kind == "format":
        return f"is not a valid {rule}"
    return f"violates {kind}"


def validate_summary(summary: Any, version: str = "v1", directory: Path | str | None = None) -> None:
    """Raise SummaryInvalid naming up to MAX_REASONS broken rules, the shallowest first."""
    validator = _validator(version, str(directory) if directory is not None else None)
    errors = sorted(validator.iter_errors(summary), key=lambda e: (len(e.absolute_path), _json_path(e)))
    if not errors:
        return
    reasons = [f"{_json_path(e)}: {_describe(e)}" for e in errors[:MAX_REASONS]]
    more = f" (+{len(errors) - MAX_REASONS} more)" if len(errors) > MAX_REASONS else ""
    raise SummaryInvalid("; ".join(reasons) + more)
