"""What Cloud Build checks that check-jsonschema's `vendor.cloudbuild` schema does not.

That schema catches wrong types and unknown keys inside steps, but accepts a step without
`name`, a misspelt top-level key, and a `$VARIABLE` that Cloud Build would refuse at submit
time. These rules follow Cloud Build's documented behaviour.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# The fields of a Build that a config file may set.
TOP_LEVEL = {
    "steps",
    "timeout",
    "queueTtl",
    "logsBucket",
    "options",
    "substitutions",
    "tags",
    "serviceAccount",
    "secrets",
    "availableSecrets",
    "artifacts",
    "images",
}

# Substitutions Cloud Build fills in itself (some are empty outside triggered builds).
BUILT_INS = {
    "PROJECT_ID",
    "PROJECT_NUMBER",
    "BUILD_ID",
    "LOCATION",
    "TRIGGER_NAME",
    "TRIGGER_BUILD_CONFIG_PATH",
    "SERVICE_ACCOUNT",
    "SERVICE_ACCOUNT_EMAIL",
    "COMMIT_SHA",
    "SHORT_SHA",
    "REVISION_ID",
    "BRANCH_NAME",
    "TAG_NAME",
    "REF_NAME",
    "REPO_NAME",
    "REPO_FULL_NAME",
    "_HEAD_BRANCH",
    "_BASE_BRANCH",
    "_HEAD_REPO_URL",
    "_PR_NUMBER",
}

# `$$` is a literal dollar; `$NAME` and `${NAME}` are substitutions.
_TOKEN = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def referenced(text: str) -> set[str]:
    """Every substitution `text` uses, skipping escaped `$$`."""
    return {m.group(1) or m.group(2) for m in _TOKEN.finditer(text) if m.group(0) != "$$"}


def substitute(text: str, values: Mapping[str, str]) -> str:
    """`text` as a build step receives it: `$NAME` and `${NAME}` replaced by their values in
    one pass (a value is never scanned again), `$$` by `$`. KeyError for an unknown name:
    Cloud Build refuses such a build."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return values[match.group(1) or match.group(2)]

    return _TOKEN.sub(one, text)


def build_values(
    config: dict[str, Any], given: Mapping[str, str], built_ins: Mapping[str, str]
) -> dict[str, str]:
    """Every substitution a build of `config` sees: the built-ins, then the config's defaults
    overridden by `given` (a trigger's or `--substitutions`). With dynamicSubstitutions a
    default may use built-ins. Given values are taken as they come."""
    dynamic = config.get("options", {}).get("dynamicSubstitutions", False)
    values = dict(built_ins)
    for key, default in (config.get("substitutions") or {}).items():
        values[key] = substitute(str(default), built_ins) if dynamic else str(default)
    values.update(given)
    return values


SHELLS = {"bash", "sh", "/bin/bash", "/bin/sh"}


def shell_script(step: dict[str, Any]) -> str | None:
    """The script a step hands to a shell (`bash -c SCRIPT`), or None."""
    command = [step["entrypoint"], *step.get("args", [])] if "entrypoint" in step else []
    command = command or list(step.get("args", []))
    if not command or command[0] not in SHELLS:
        return None
    for i, word in enumerate(command[1:-1], start=1):
        if re.fullmatch(r"-[a-z]*c[a-z]*", word):
            return command[i + 1]
    return None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def problems(config: dict[str, Any]) -> list[str]:
    """Everything in a Cloud Build config that Cloud Build would reject (or we forbid)."""
    found = [f"unknown top-level key {key!r}" for key in sorted(set(config) - TOP_LEVEL)]
    steps = config.get("steps") or []
    if not steps:
        found.append("no steps")
    ids: set[str] = set()
    for index, step in enumerate(steps):
        label = step.get("id", f"#{index}")
        if not step.get("name"):
            found.append(f"step {label} has no name")
        if "id" in step:
            if step["id"] in ids:
                found.append(f"step id {step['id']!r} is used twice")
            # waitFor may only name steps defined before it.
            for dep in step.get("waitFor", []):
                if dep != "-" and dep not in ids:
                    found.append(f"step {label} waits for unknown or later step {dep!r}")
            ids.add(step["id"])
        # A substitution pasted into a script is parsed as shell code: an object named
        # `x$(touch pwned).csv` would run. Values go through `env`, read as "$$VAR".
        script = shell_script(step)
        if script is not None and (pasted := referenced(script)):
            names = ", ".join(f"${n}" for n in sorted(pasted))
            found.append(
                f"step {label} pastes {names} into a shell script: pass it through env "
                'and quote it as "$$VAR"'
            )
        secrets = {s["env"] for s in config.get("availableSecrets", {}).get("secretManager", [])}
        for name in step.get("secretEnv", []):
            if name not in secrets:
                found.append(f"step {label} uses secret {name!r} not in availableSecrets")

    defined = set(config.get("substitutions") or {})
    for name in sorted(defined):
        if not re.fullmatch(r"_[A-Z0-9_]+", name):
            found.append(f"substitution {name!r} must match _[A-Z0-9_]+")
    body = {k: v for k, v in config.items() if k != "substitutions"}
    used = {name for text in _strings(body) for name in referenced(text)}
    for name in sorted(used - defined - BUILT_INS):
        found.append(
            f"${name} is neither a built-in nor a defined substitution "
            "(a shell variable must be written $$NAME)"
        )
    # With dynamicSubstitutions, substitution values may use built-ins (not each other).
    for key, value in (config.get("substitutions") or {}).items():
        for name in sorted(referenced(str(value)) - BUILT_INS):
            found.append(f"substitution {key} refers to {name}, which is not a built-in")
        if referenced(str(value)) and not config.get("options", {}).get("dynamicSubstitutions"):
            found.append(f"substitution {key} uses a variable without dynamicSubstitutions")
    for name in sorted(defined - used):
        found.append(f"substitution {name} is defined but never used")

    # The triggers run builds as a user-specified service account, which Cloud Build only
    # accepts with a logging choice other than the default bucket.
    if config.get("options", {}).get("logging") not in ("CLOUD_LOGGING_ONLY", "NONE"):
        found.append("options.logging must be CLOUD_LOGGING_ONLY (user-specified service account)")
    return found


def depends_on(config: dict[str, Any], step_id: str) -> set[str]:
    """Every step that must finish before `step_id` starts (waitFor, transitively).

    A step without waitFor waits for all steps before it, as Cloud Build does.
    """
    steps = config["steps"]
    position = {s["id"]: i for i, s in enumerate(steps) if "id" in s}
    direct: dict[str, set[str]] = {}
    for i, step in enumerate(steps):
        wait = step.get("waitFor")
        if wait is None:
            direct[step["id"]] = {s["id"] for s in steps[:i]}
        else:
            direct[step["id"]] = {w for w in wait if w != "-"}
    seen: set[str] = set()
    todo = list(direct[step_id])
    while todo:
        dep = todo.pop()
        if dep not in seen and dep in position:
            seen.add(dep)
            todo.extend(direct[dep])
    return seen
