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

    # data/ checks uploads against the plain JSON form of the schema
    return Registry(root).get(champion_version).feature_schema.to_json()


def ingest(*, config_json: str, root: str, snapshot_path: str, report_path: str) -> str:
    """Read every incoming file into one Parquet snapshot; returns its content hash."""
    from mlcycle.data.incoming import incoming_uri
    from mlcycle.data.ingest import content_hash
    from mlcycle.data.ingest import ingest as ingest_files
    from mlcycle.data.quarantine import quarantine
    from mlcycle.data.report import DataRejected

    config = DatasetConfig.from_json(config_json)
    declared = [c for c, kind in config.column_types.items() if kind == "categorical"]
    try:
        frame, report = ingest_files(
            storage.list_files(incoming_uri(root)), config.limits, declared
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
    point = result.operating_point
    _write_json(
        candidates_path,
        {
            "chosen": result.chosen,
            "scoring": result.scoring,
            "calibration": result.calibration,
            "candidates": result.candidates,
            "operating_point": point.to_json() if point else None,
        },
    )
    return result.chosen


def evaluate(
    *,
    config_json: str,
    types_json: str,
    root: str,
    champion_version: str,
    model_path: str,
    candidates_path: str,
    test_path: str,
    evaluation_path: str,
    roc_path: str,
    confusion_path: str,
    calibration_path: str,
) -> dict[str, Any]:
    """Score the challenger and (if any) the champion on the same test split, each labelled at
    its own operating point; draw the plots."""
    import joblib
    import pandas as pd

    from mlcycle.model.evaluate import evaluate_model
    from mlcycle.model.plots import confusion_png, reliability_png, roc_png
    from mlcycle.model.registry import Registry
    from mlcycle.model.version import OperatingPoint

    config = DatasetConfig.from_json(config_json)
    test = pd.read_parquet(test_path)
    point = _read_json(candidates_path).get("operating_point")
    challenger = evaluate_model(
        joblib.load(model_path),
        test,
        json.loads(types_json),
        config.label,
        config.positive_class,
        OperatingPoint.model_validate(point) if point else None,
    )
    champion = None
    if champion_version:
        registry = Registry(root)
        meta = registry.get(champion_version)
        scored = evaluate_model(
            registry.load_model(champion_version, meta),
            test,
            meta.feature_schema.feature_types(),
            config.label,
            config.positive_class,
            meta.operating_point,  # none before operating points: the most probable class
        )
        champion = {"version": champion_version, "metrics": scored.metrics}
    Path(roc_path).write_bytes(roc_png(challenger))
    Path(confusion_path).write_bytes(confusion_png(challenger))
    Path(calibration_path).write_bytes(reliability_png(challenger))
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
    train_path: str,
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
    none), the reference statistics of the training split (for drift), `artifacts` (file
    name -> local path: the plots) and the HTML model report, which is also written to
    `report_path`. A model already in the registry (a cached rerun) is not
    registered twice. The rules are mlcycle.model.registration's.
    """
    import joblib
    import pandas as pd

    from mlcycle.model.registration import Candidate, register_candidate
    from mlcycle.model.registry import Registry
    from mlcycle.pipeline.lifeline import require_owner

    candidate = Candidate(
        config=DatasetConfig.from_json(config_json),
        types=json.loads(types_json),
        model=joblib.load(model_path),
        model_bytes=Path(model_path).read_bytes(),
        cleaned=pd.read_parquet(cleaned_path),
        test=pd.read_parquet(test_path),
        train=pd.read_parquet(train_path),
        evaluation=_read_json(evaluation_path),
        training=_read_json(candidates_path),
        validation=_read_json(validation_path),
        cleaning=_read_json(changes_path),
        lineage=lineage,
        images={name: Path(path).read_bytes() for name, path in artifacts.items()},
    )
    summary, report = register_candidate(
        Registry(root), candidate, champion_version, before_write=require_owner
    )
    Path(report_path).write_bytes(report)
    result = summary.to_json()
    _write_json(registration_path, result)
    return result
