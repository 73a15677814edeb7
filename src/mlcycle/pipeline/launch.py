"""What a pipeline run starts from, wherever it runs (kfp.local, Vertex AI, in-process).

The default data on a first run, and the run's parameters. No KFP import: `mlcycle submit`,
the local runner and the in-process runner all call these.
"""

from __future__ import annotations

from mlcycle import storage
from mlcycle.config import DatasetConfig
from mlcycle.data.incoming import incoming_fingerprint, incoming_uri
from mlcycle.data.quarantine import rejected_uri
from mlcycle.data.seed import seed_incoming
from mlcycle.lineage import code_version, git_commit
from mlcycle.model.registry import Registry, RegistryError


def seed_if_first_run(root: str, config: DatasetConfig) -> str | None:
    """On a first run with an empty root, write the config's default data; returns its URI.

    A root whose only data was rejected (data/rejected/) is not empty: it holds the user's."""
    if not config.seed_data:
        return None
    if any(storage.list_files(uri) for uri in (incoming_uri(root), rejected_uri(root))):
        return None
    if Registry(root).versions():
        return None
    return seed_incoming(incoming_uri(root), config.seed_data)


def champion_to_compare(root: str, config: DatasetConfig) -> str | None:
    """The root's champion, verified, that a run with `config` compares with (None: none).

    RegistryError if it is broken, was trained for another data set or predicts another label:
    the files would be validated against the wrong config and quarantined, and the gate would
    compare unlike with unlike. `mlcycle run` asks before it shows any step;
    `pipeline_arguments` asks too.
    """
    registry = Registry(root)
    champion = registry.verify_champion()
    if not champion:
        return None
    meta = registry.get(champion)
    trained_for = meta.dataset
    if trained_for and trained_for != config.name:  # None: a version from before the field
        raise RegistryError(
            f"the champion at {root} ({champion}) was trained for data set {trained_for!r}, "
            f"and this run's config is for {config.name!r}: give the config it was trained "
            "with (--config, MLCYCLE_CONFIG), or another --root for a new data set"
        )
    if meta.feature_schema.label != config.label:
        raise RegistryError(
            f"the champion at {root} ({champion}) predicts {meta.feature_schema.label!r}, and "
            f"this run's config names the label {config.label!r}: give the label the champion "
            "was trained with, or another --root to predict something else"
        )
    return champion


def pipeline_arguments(root: str, config: DatasetConfig) -> dict[str, str]:
    """The run's parameters. The incoming listing and the champion are inputs, so that new
    data or a new champion is never answered from the cache. RegistryError, before any step
    starts, from `champion_to_compare`."""
    champion = champion_to_compare(root, config)
    return {
        "root": root,
        "config": config.to_json(),
        "incoming_fingerprint": incoming_fingerprint(root),
        "champion_version": champion or "",
        "git_commit": git_commit(),
        "code_version": code_version(),
    }
