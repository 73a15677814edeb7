"""Quarantine: a file a run rejected leaves the incoming folder, so the next upload can train.

Only a file that is itself at fault moves (an error names it: unreadable, a column missing,
values it cannot hold); it goes to `<root>/data/rejected/` beside `<name>.report.json`, the
report that rejected it. Errors of the whole snapshot (one class only, too few rows) name no
file and move nothing.
"""

from __future__ import annotations

from typing import Any

from mlcycle import storage
from mlcycle.data.incoming import incoming_uri
from mlcycle.data.report import DataReport
from mlcycle.data.validate import CONFIG_RULES

REPORT_SUFFIX = ".report.json"


def rejected_uri(root: str) -> str:
    """Where rejected files go: `<root>/data/rejected/`."""
    return storage.join(root, "data", "rejected")


def files_at_fault(report: DataReport) -> list[str]:
    """The files an error names, in the report's order."""
    return list(dict.fromkeys(i.file for i in report.errors if i.file))


def quarantine(root: str, report: DataReport) -> list[dict[str, str]]:
    """Move each file at fault from incoming to rejected/, with the report beside it.

    Records the moves in `report.info["quarantined"]` ({file, to}); a move that fails is
    recorded in `report.info["quarantine_error"]` and never hides the rejection itself.
    """
    incoming, rejected = incoming_uri(root), rejected_uri(root)
    present = {f.name for f in storage.list_files(incoming)}
    moves = [
        {"file": name, "to": storage.join(rejected, name)}
        for name in files_at_fault(report)
        if name in present
    ]
    report.info["quarantined"] = moves
    try:
        for move in moves:
            source = storage.join(incoming, move["file"])
            storage.write_json(move["to"] + REPORT_SUFFIX, report.to_dict())
            storage.write_bytes(move["to"], storage.read_bytes(source))
            storage.remove(source)
    except Exception as exc:  # the report must still go out
        report.info["quarantine_error"] = f"{type(exc).__name__}: {exc}"
    return moves


def rejection_advice(report: DataReport, root: str, champion: str | None) -> str:
    """What a person does next after a rejection: where the files went, how to get one back."""
    lines = [
        f"The champion (version {champion}) is unchanged."
        if champion
        else "No model was trained, and there is no champion yet."
    ]
    moved: list[dict[str, Any]] = report.info.get("quarantined", [])
    if moved:
        lines.append(
            f"Moved out of {incoming_uri(root)}, each beside its report (*{REPORT_SUFFIX}):"
        )
        lines += [f"  {m['file']} -> {m['to']}" for m in moved]
        lines.append("The next run trains on the files left in the incoming folder.")
        back = (
            "mlcycle data add <the file's path above>"
            if storage.is_local(root)
            else f"gcloud storage mv <the file's URI above> {incoming_uri(root)}/"
        )
        lines.append(f"To bring a file back once fixed: {back}")
    if error := report.info.get("quarantine_error"):
        lines.append(f"Could not move the rejected files ({error}).")
    in_config = sorted({i.rule for i in report.errors if i.rule in CONFIG_RULES})
    in_data = [i for i in report.errors if i.rule not in CONFIG_RULES]
    if any(i.rule == "no_data" for i in in_data):
        lines.append("Add a data file (mlcycle data add FILE) and run again.")
    elif in_data and (not moved or any(i.file is None for i in in_data)):
        lines.append(
            "Fix or remove the file(s) in the incoming folder (mlcycle data list / data rm) "
            "and run again."
        )
    if in_config:
        lines.append(
            f"The config's {' and '.join(in_config)} does not fit the data: change it in the "
            "config file (--config, MLCYCLE_CONFIG) and run again."
        )
    return "\n".join(lines)
