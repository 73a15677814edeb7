"""`mlcycle monitor`: the prediction log's recent features against a version's training
reference, written as a drift report under `<root>/monitoring/drift/`.

    monitoring/drift/<YYYYMMDD-HHMMSS>-<id>.json   the DriftReport (model/drift.py)
    monitoring/drift/<YYYYMMDD-HHMMSS>-<id>.html   the same as a self-contained page
    monitoring/drift/latest.json                   which report is the newest (written last)
    monitoring/drift/retrained.json                the report a retraining run was started for

The statistics are model/drift.py's and the reference model/reference.py's; this module reads
the log (predictions.py) and the registry and writes the files, for the CLI, the API (which
serves the latest report) and `mlcycle watch --on-drift`.

Rows of every version that answered in the window are compared: drift is about the traffic,
whichever model saw it. Each version's log files are read apart, so a feature one version did
not take is not counted as missing in its rows.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from mlcycle import storage
from mlcycle.model.drift import DriftReport, assess
from mlcycle.model.reference import REFERENCE_FILE, Reference
from mlcycle.model.registry import Registry

if TYPE_CHECKING:  # the API reads the latest report without pandas or pyarrow
    from mlcycle.config import Drift

FOLDER = "monitoring/drift"
LATEST = "latest.json"
RETRAINED = "retrained.json"
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class MonitorError(ValueError):
    """The monitor cannot run: no champion, a version without a reference, a bad window."""


def parse_duration(text: str) -> timedelta:
    """ "30m", "24h", "7d", "2w" as a timedelta."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*", text.lower())
    if not match or float(match[1]) <= 0:
        raise MonitorError(
            f"--since {text!r} is not a duration: a positive number and a unit, m (minutes), "
            "h (hours), d (days) or w (weeks), e.g. 24h or 7d"
        )
    return timedelta(**{UNITS[match[2]]: float(match[1])})


def folder(root: str) -> str:
    return storage.join(root, FOLDER)


def reference_of(registry: Registry, version: str | None) -> tuple[str, Reference]:
    """The version compared (default: the champion) and its training reference."""
    version = version or registry.champion_version()
    if version is None:
        raise MonitorError(
            f"no champion in {registry.models} to compare with: train one (`mlcycle run`) "
            "or name a version with --version"
        )
    meta = registry.get(version)  # RegistryError names an unknown version
    if not meta.has(REFERENCE_FILE):
        raise MonitorError(
            f"version {version} was registered before versions stored the reference "
            f"statistics of their training data ({REFERENCE_FILE}), so its drift cannot be "
            "measured; retrain (`mlcycle run`) to get a version that has them, or pass "
            "--version with a newer one (`mlcycle models` lists them)"
        )
    data = registry.read_artifact(version, REFERENCE_FILE)
    return version, Reference.model_validate_json(data)


def _report_id(version: str, files: list[str], window: str, config: Drift) -> str:
    # The same log files against the same reference and thresholds: the same report, whenever
    # it is made (what `watch --on-drift` retrains once for).
    what = json.dumps([version, sorted(files), window, config.model_dump()], sort_keys=True)
    return hashlib.sha256(what.encode()).hexdigest()[:12]


def measure(
    root: str,
    config: Drift,
    since: timedelta | None = None,
    version: str | None = None,
    now: datetime | None = None,
) -> DriftReport:
    """The drift report of the predictions logged in the last `since` (all: None) against
    `version`'s training reference (default: the champion's). Writes nothing."""
    import pandas as pd

    from mlcycle import predictions

    now = now or datetime.now(UTC)
    registry = Registry(root)
    version, reference = reference_of(registry, version)
    start = now - since if since is not None else None
    listing = predictions.listing(root, start)  # listed once, read a version at a time
    files = [f.uri for f in listing]
    by_version: dict[str, list[str]] = {}
    for log_file in listing:
        by_version.setdefault(log_file.version, []).append(log_file.uri)
    columns: dict[str, list[pd.Series]] = {}
    rows_by_version: dict[str, int] = {}
    for logged, uris in by_version.items():
        frame = predictions.read_files(uris, start)
        frame = frame[frame["time"] <= pd.Timestamp(now)] if len(frame) else frame
        if not len(frame):
            continue
        rows_by_version[logged] = len(frame)
        for name, values in predictions.features(frame).items():
            columns.setdefault(str(name), []).append(values.reset_index(drop=True))
    rows = sum(rows_by_version.values())
    features = {name: pd.concat(parts, ignore_index=True) for name, parts in columns.items()}
    status, message, results = assess(reference, features, config, rows=rows, version=version)
    window = "all" if since is None else str(since.total_seconds())
    return DriftReport(
        id=_report_id(version, files, window, config),
        created_at=now.isoformat(timespec="seconds"),
        version=version,
        since=start.isoformat(timespec="seconds") if start else None,
        rows=rows,
        rows_by_version=rows_by_version,
        status=status,
        message=message,
        thresholds=config,
        features=results,
    )


@dataclass(frozen=True)
class Written:
    json_uri: str
    html_uri: str


def write(root: str, report: DriftReport) -> Written:
    """Store the report (JSON and HTML), then point `latest.json` at it."""
    from mlcycle.model.drift_report import render_drift_report

    stamp = datetime.fromisoformat(report.created_at).strftime("%Y%m%d-%H%M%S")
    name = f"{stamp}-{report.id}"
    base = folder(root)
    written = Written(storage.join(base, f"{name}.json"), storage.join(base, f"{name}.html"))
    storage.write_text(written.json_uri, json.dumps(report.to_json(), indent=2) + "\n")
    storage.write_text(written.html_uri, render_drift_report(report))
    storage.write_json(
        storage.join(base, LATEST),
        {
            "name": name,
            "id": report.id,
            "status": report.status,
            "version": report.version,
            "created_at": report.created_at,
        },
    )
    return written


def latest_name(root: str) -> str | None:
    """The newest report's name (its files are `<name>.json` and `<name>.html`), if any."""
    try:
        pointer = storage.read_json(storage.join(folder(root), LATEST))
    except FileNotFoundError:
        return None
    name = pointer.get("name") if isinstance(pointer, dict) else None
    # Only a name this module writes: the pointer never leads a reader outside the folder.
    return name if isinstance(name, str) and re.fullmatch(r"[\w-]+", name) else None


def read_latest(root: str, kind: str = "json") -> bytes | None:
    """The newest report's JSON or HTML bytes; None when there is none."""
    name = latest_name(root)
    if name is None:
        return None
    try:
        return storage.read_bytes(storage.join(folder(root), f"{name}.{kind}"))
    except FileNotFoundError:
        return None


def claim_retrain(root: str, report: DriftReport) -> bool:
    """True once per alerting report: a retraining run may start for it (and is recorded)."""
    if not report.alert:
        return False
    uri = storage.join(folder(root), RETRAINED)
    with storage.exclusive(uri):
        try:
            done = storage.read_json(uri)
        except (FileNotFoundError, ValueError):
            done = {}
        if isinstance(done, dict) and done.get("id") == report.id:
            return False
        storage.write_json(
            uri,
            {
                "id": report.id,
                "version": report.version,
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        )
    return True
