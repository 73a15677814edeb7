"""A rejected file leaves the incoming folder with its report; the good ones stay."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mlcycle.config import DatasetConfig
from mlcycle.data.quarantine import quarantine, rejection_advice
from mlcycle.data.report import DataRejected, DataReport, Issue
from mlcycle.model.registry import RegistryError
from mlcycle.pipeline import steps
from mlcycle.pipeline.launch import pipeline_arguments, seed_if_first_run
from support import champion_trained_for


def _root(tmp_path: Path, files: dict[str, str]) -> Path:
    incoming = tmp_path / "data" / "incoming"
    incoming.mkdir(parents=True)
    for name, text in files.items():
        (incoming / name).write_text(text)
    return tmp_path


def test_only_the_files_an_error_names_are_moved(tmp_path: Path) -> None:
    root = _root(tmp_path, {"good.csv": "a,y\n1,p\n", "bad.csv": "a,y\nx,p\n"})
    report = DataReport(
        "validate",
        errors=[
            Issue("wrong_type", "expected numbers, found text", column="a", file="bad.csv"),
            Issue("too_few_rows", "each class needs 10 rows", column="y"),  # no file's fault
        ],
    )
    moves = quarantine(str(root), report)
    rejected = root / "data" / "rejected"
    assert moves == [{"file": "bad.csv", "to": str(rejected / "bad.csv")}]
    assert sorted(p.name for p in (root / "data" / "incoming").iterdir()) == ["good.csv"]
    assert (rejected / "bad.csv").read_text() == "a,y\nx,p\n"
    saved = json.loads((rejected / "bad.csv.report.json").read_text())
    assert saved["errors"][0]["rule"] == "wrong_type"
    assert report.info["quarantined"] == moves


def test_the_advice_says_where_the_file_went_and_whether_there_is_a_champion(
    tmp_path: Path,
) -> None:
    root = _root(tmp_path, {"bad.csv": ""})
    report = DataReport("ingest", errors=[Issue("unreadable_file", "empty", file="bad.csv")])
    quarantine(str(root), report)
    text = rejection_advice(report, str(root), None)
    assert "there is no champion yet" in text and "unchanged" not in text
    assert f"bad.csv -> {root / 'data' / 'rejected' / 'bad.csv'}" in text
    assert "mlcycle data add" in text and "data rm" not in text  # nothing left to remove
    assert "version v7" in rejection_advice(report, str(root), "v7")

    whole = DataReport("validate", errors=[Issue("single_class", "two classes needed")])
    quarantine(str(root), whole)
    text = rejection_advice(whole, str(root), "v7")
    assert "-> " not in text and "data rm" in text


def test_a_config_that_does_not_fit_the_data_is_advised_as_the_config_s_to_fix(
    bc_frame: pd.DataFrame, config: DatasetConfig, tmp_path: Path
) -> None:
    from mlcycle.data.validate import validate

    # The breast-cancer config copied for three classes: its decision is refused, its
    # positive_class warned of, and the fix is the config's, not a file's.
    frame = bc_frame.assign(diagnosis=bc_frame["diagnosis"].where(bc_frame.index % 3 > 0, "x"))
    report = validate(frame, {"new.csv": list(frame.columns)}, config)
    assert {i.rule for i in report.errors} == {"decision"}
    assert "positive_class_unused" in {i.rule for i in report.warnings}
    root = _root(tmp_path, {"new.csv": "a,y\n1,p\n"})
    assert quarantine(str(root), report) == []  # no file's fault: nothing moved
    text = rejection_advice(report, str(root), None)
    assert "The config's decision does not fit the data: change it in the config file" in text
    assert "data rm" not in text


def test_a_rejected_upload_leaves_incoming_and_the_next_run_validates(
    tmp_path: Path, bc_frame: pd.DataFrame, config: DatasetConfig
) -> None:
    """The ingest and validate steps themselves, on a real root (no training)."""
    bad = bc_frame.head(40).astype({"mean_area": object})
    bad.loc[3, "mean_area"] = "big"
    root = _root(tmp_path, {"sklearn_breast_cancer.csv": bc_frame.to_csv(index=False)})
    bad.to_csv(root / "data" / "incoming" / "upload.csv", index=False)

    def run() -> str:
        snapshot, ingested, validated = (str(tmp_path / n) for n in ("s.pq", "i.json", "v.json"))
        cfg = config.to_json()
        steps.ingest(config_json=cfg, root=str(root), snapshot_path=snapshot, report_path=ingested)
        return steps.validate(
            config_json=cfg,
            root=str(root),
            champion_version="",
            snapshot_path=snapshot,
            ingest_report_path=ingested,
            report_path=validated,
        )

    with pytest.raises(DataRejected) as rejected:
        run()
    assert rejected.value.report.info["quarantined"][0]["file"] == "upload.csv"
    assert [p.name for p in (root / "data" / "incoming").iterdir()] == ["sklearn_breast_cancer.csv"]
    assert (root / "data" / "rejected" / "upload.csv.report.json").is_file()
    assert "mean_area" in json.loads(run())  # the next run passes validation


def test_a_root_whose_only_data_was_rejected_is_not_seeded(
    tmp_path: Path, config: DatasetConfig
) -> None:
    rejected = tmp_path / "data" / "rejected"
    rejected.mkdir(parents=True)
    (rejected / "mine.csv").write_text("a,y\n")
    assert seed_if_first_run(str(tmp_path), config) is None
    assert not (tmp_path / "data" / "incoming").exists()


def test_a_run_for_another_data_set_stops_before_any_step(
    tmp_path: Path, config: DatasetConfig
) -> None:
    """A root whose champion was trained for another data set: the user's file would fail
    this config's validation and be quarantined. The run is refused first, naming both."""
    root = _root(tmp_path / "root", {"wine.csv": "alcohol,cultivar\n13.2,a\n"})
    champion_trained_for(root, "wine")
    with pytest.raises(RegistryError, match=r"trained for data set 'wine'.*'breast_cancer'"):
        pipeline_arguments(str(root), config)
    wine = config.model_copy(update={"name": "wine", "label": "cultivar"})
    assert pipeline_arguments(str(root), wine)
    with pytest.raises(RegistryError, match=r"predicts 'cultivar'.*names the label 'grape'"):
        pipeline_arguments(str(root), wine.model_copy(update={"label": "grape"}))
