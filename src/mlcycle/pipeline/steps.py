"""What each pipeline component does, as plain functions over artifact paths.

KFP components call exactly one of these; tests and benchmarks call them directly. Imports
are inside the functions that need them: each component runs in a fresh process and should
pay only for its own step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlcycle import storage
from mlcycle.config import DatasetConfig


def _write_json(path: str, obj: Any) -> None:
    Path(path).write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def _read_json(path: str) -> Any:
    return json.loads(Path(path).read_text())


def _champion_schema(root: str, champion_version: str) -> dict[str, Any] | None:
    if not champion_version:
        return None
    from mlcycle.model.registry import Registry

    return Registry(root).get(champion_version)["schema"]


def ingest(*, config_json: str, root: str, snapshot_path: str, report_path: str) -> str:
    """Read every incoming file into one Parquet snapshot; returns its content hash."""
    from mlcycle.data.incoming import incoming_uri
    from mlcycle.data.ingest import content_hash
    from mlcycle.data.ingest import ingest as ingest_files
    from mlcycle.data.quarantine import quarantine
    from mlcycle.data.report import DataRejected

    try:
        frame, report = ingest_files(
            storage.list_files(incoming_uri(root)), DatasetConfig.from_json(config_json).limits
        )
    except DataRejected as exc:
        quarantine(root, exc.report)  # the unreadable files leave incoming
        _write_json(report_path, exc.report.to_dict())
        raise
    data_hash = content_hash(frame)
    report.info["data_hash"] = data_hash
    frame.to_parquet(snapshot_path, index=False)
    _write_json(report_path, report.to_dict())
    return data_hash


def validate(
    *,
    config_json: str,
    root: str,
    champion_version: str,
    snapshot_path: str,
    ingest_report_path: str,
    report_path: str,
) -> str:
    """Check the snapshot; raise DataRejected on errors, after moving the files at fault to
    data/rejected/. Returns the feature types as JSON."""
    import pandas as pd

    from mlcycle.data.quarantine import quarantine
    from mlcycle.data.report import DataRejected
    from mlcycle.data.validate import validate as validate_frame

    config = DatasetConfig.from_json(config_json)
    frame = pd.read_parquet(snapshot_path)
    files = _read_json(ingest_report_path)["info"]
    report = validate_frame(
        frame,
        files["columns_by_file"],
        config,
        _champion_schema(root, champion_version),
        files["empty_columns_by_file"],
        files.get("rows_by_file"),
        files.get("value_kinds_by_file"),
    )
    report.info["rows_by_file"] = files.get("rows_by_file", {})
    if not report.passed:
        quarantine(root, report)
    _write_json(report_path, report.to_dict())
    if not report.passed:
        raise DataRejected(report)
    return json.dumps(report.info["types"])


def clean(
    *, config_json: str, types_json: str, snapshot_path: str, cleaned_path: str, changes_path: str
) -> None:
    import pandas as pd

    from mlcycle.data.clean import clean as clean_frame

    config = DatasetConfig.from_json(config_json)
    cleaned, changes = clean_frame(pd.read_parquet(snapshot_path), config, json.loads(types_json))
    cleaned.to_parquet(cleaned_path, index=False)
    _write_json(changes_path, changes)


def split(
    *, config_json: str, cleaned_path: str, train_path: str, test_path: str
) -> dict[str, int]:
    import pandas as pd

    from mlcycle.data.split import split_data

    train, test = split_data(pd.read_parquet(cleaned_path), DatasetConfig.from_json(config_json))
    train.to_parquet(train_path, index=False)
    test.to_parquet(test_path, index=False)
    return {"train_rows": len(train), "test_rows": len(test)}


def train(
    *, config_json: str, types_json: str, train_path: str, model_path: str, candidates_path: str
) -> str:
    """Tune every candidate by CV; save the best. Returns the chosen candidate's name."""
    import joblib
    import pandas as pd

    from mlcycle.model.train import train_model

    result = train_model(
        pd.read_parquet(train_path), DatasetConfig.from_json(config_json), json.loads(types_json)
    )
    joblib.dump(result.model, model_path)
    _write_json(
        candidates_path,
        {"chosen": result.chosen, "scoring": result.scoring, "candidates": result.candidates},
    )
    return result.chosen


def evaluate(
    *,
    config_json: str,
    types_json: str,
    root: str,
    champion_version: str,
    model_path: str,
    test_path: str,
    evaluation_path: str,
    roc_path: str,
    confusion_path: str,
) -> dict[str, Any]:
    """Score the challenger and (if any) the champion on the same test split; draw the plots."""
    import joblib
    import pandas as pd

    from mlcycle.model.evaluate import evaluate_model
    from mlcycle.model.plots import confusion_png, roc_png
    from mlcycle.model.registry import Registry

    config = DatasetConfig.from_json(config_json)
    test = pd.read_parquet(test_path)
    challenger = evaluate_model(
        joblib.load(model_path), test, json.loads(types_json), config.label, config.positive_class
    )
    champion = None
    if champion_version:
        registry = Registry(root)
        meta = registry.get(champion_version)
        types = {f["name"]: f["type"] for f in meta["schema"]["features"]}
        scored = evaluate_model(
            registry.load_model(champion_version, meta),
            test,
            types,
            config.label,
            config.positive_class,
        )
        champion = {"version": champion_version, "metrics": scored.metrics}
    Path(roc_path).write_bytes(roc_png(challenger))
    Path(confusion_path).write_bytes(confusion_png(challenger))
    result = {**challenger.to_dict(), "champion": champion, "test_rows": len(test)}
    _write_json(evaluation_path, result)
    return result


def register(
    *,
    config_json: str,
    types_json: str,
    root: str,
    champion_version: str,
    lineage: dict[str, Any],
    model_path: str,
    cleaned_path: str,
    test_path: str,
    evaluation_path: str,
    candidates_path: str,
    validation_path: str,
    changes_path: str,
    artifacts: dict[str, str],
    registration_path: str,
    report_path: str,
) -> dict[str, Any]:
    """Gate the challenger, register it as a version either way, then switch the champion.

    The version holds the model, its ONNX export (checked on the test split; or why there is
    none), `artifacts` (file name -> local path: the plots) and the HTML model report, which
    is also written to `report_path`. A model already in the registry (a cached rerun) is not
    registered twice.
    """
    from mlcycle.model.registry import ChampionChangedError, Registry, sha256
    from mlcycle.pipeline.lifeline import require_owner

    config = DatasetConfig.from_json(config_json)
    registry = Registry(root)
    evaluation = _read_json(evaluation_path)
    validation = _read_json(validation_path)
    gate, lost = _gate(config, registry, champion_version, evaluation)

    model_bytes = Path(model_path).read_bytes()
    meta = registry.find_by_model(sha256(model_bytes))
    registered = meta is None
    if registered:
        files = {
            "model.joblib": model_bytes,
            **{name: Path(path).read_bytes() for name, path in artifacts.items()},
        }
        meta = registry.new_metadata(
            files,
            {
                "dataset": config.name,
                "gate": gate,
                "metrics": evaluation["metrics"],
                "evaluation": {k: evaluation[k] for k in ("classes", "confusion", "test_rows")},
                "champion_at_evaluation": evaluation["champion"],
                "training": _read_json(candidates_path),
                "data": {
                    "validation": {k: validation[k] for k in ("warnings", "info")},
                    "cleaning": _read_json(changes_path),
                },
                "lineage": {**lineage, "parameters": config.model_dump(mode="json")},
            },
        )
        _describe_model(
            meta, files, config, json.loads(types_json), model_path, cleaned_path, test_path
        )
        require_owner()  # a run stopped mid-way registers nothing
        registry.remove_incomplete()  # what a killed registration left
        meta = registry.register(files, meta)
    if gate["promote"]:
        require_owner()
        try:  # a compare-and-swap: of two runs promoting at once, one wins
            registry.promote(meta["version"], gate["reasons"], expected=champion_version or None)
        except ChampionChangedError as exc:
            lost = True
            gate = {**gate, "decision": "rejected", "promote": False}
            gate["reasons"] = [*gate["reasons"], str(exc)]
            if registered:  # the version's own record says it was not promoted, and why
                meta = _record_gate(registry, meta, gate)
    _copy_report(registry, meta, report_path)
    summary = {
        "version": meta["version"],
        "registered": registered,
        "promoted": gate["promote"],
        # Another run changed the champion while this one ran: it compared with a stale one.
        "lost": lost,
        "gate": gate,
        "metrics": evaluation["metrics"],
        "champion_before": evaluation["champion"],
        "champion": registry.champion_version(),
        "candidate": meta["model"].get("candidate"),
        "warnings": validation["warnings"],
        "onnx": meta.get("onnx"),  # how the API will serve it: onnxruntime, or why not
    }
    _write_json(registration_path, summary)
    return summary


def _gate(
    config: DatasetConfig, registry: Any, champion_version: str, evaluation: dict[str, Any]
) -> tuple[dict[str, Any], bool]:
    """The gate's decision, refused if the champion changed while this run was going
    (then also True: this run lost to another)."""
    from mlcycle.model.gate import decide

    champion = evaluation["champion"]
    decision = decide(evaluation["metrics"], champion and champion["metrics"], config.gate)
    promote, reasons = decision.promote, list(decision.reasons)
    current = registry.champion_version() or ""
    lost = current != champion_version
    if lost:
        promote = False
        reasons.append(
            f"the champion changed during this run ({champion_version or 'none'} -> "
            f"{current or 'none'}); not promoted, run again to compare with the new champion"
        )
    gate = {
        "decision": "promoted" if promote else "rejected",
        "promote": promote,
        "reasons": reasons,
    }
    return gate, lost


def _record_gate(registry: Any, meta: dict[str, Any], gate: dict[str, Any]) -> dict[str, Any]:
    """Rewrite a version's gate decision (and its report) after it lost the promotion."""
    from mlcycle.model.registry import REPORT_FILE
    from mlcycle.model.report import IMAGES, render_report

    meta = {**meta, "gate": gate}
    files = {}
    if REPORT_FILE in meta.get("artifacts", []):
        images = {
            name: registry.read_artifact(meta["version"], name)
            for name in IMAGES
            if name in meta["artifacts"]
        }
        files[REPORT_FILE] = render_report(meta, images).encode()
    return registry.amend(meta, files)


def _describe_model(
    meta: dict[str, Any],
    files: dict[str, bytes],
    config: DatasetConfig,
    types: dict[str, str],
    model_path: str,
    cleaned_path: str,
    test_path: str,
) -> None:
    """Add the feature schema, the ONNX export and the report to a new version."""
    import joblib
    import pandas as pd

    from mlcycle.data.schema import build_feature_schema
    from mlcycle.model.export import ONNX_FILE, export_onnx
    from mlcycle.model.registry import REPORT_FILE
    from mlcycle.model.report import IMAGES, render_report

    meta["schema"] = build_feature_schema(pd.read_parquet(cleaned_path), types, config)
    meta["model"]["candidate"] = meta["training"]["chosen"]
    exported = export_onnx(joblib.load(model_path), pd.read_parquet(test_path), types)
    meta["onnx"] = exported.record
    if exported.onnx is not None:
        files[ONNX_FILE] = exported.onnx
    images = {name: files[name] for name in IMAGES if name in files}
    files[REPORT_FILE] = render_report(meta, images).encode()


def _copy_report(registry: Any, meta: dict[str, Any], report_path: str) -> None:
    from mlcycle.model.registry import REPORT_FILE

    if REPORT_FILE in meta.get("artifacts", []):
        Path(report_path).write_bytes(registry.read_artifact(meta["version"], REPORT_FILE))
    else:  # a version registered before reports existed
        Path(report_path).write_text(f"<p>Version {meta['version']} has no report.</p>")
