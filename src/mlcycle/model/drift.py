"""Drift: live features against a version's training reference, as effect sizes.

For each feature the population stability index (PSI) over the reference's buckets (numeric:
the bins at training quantiles; categorical: the training categories, one bucket for values
training never saw) plus a bucket for missing values:

    PSI = sum over buckets of (live - train) * ln(live / train)

It measures how far the distribution moved, not how sure we are that it moved, so a large
unshifted sample scores near 0 instead of failing a test it is bound to fail (a p-value on
100,000 rows flags any difference at all). The config's `drift` section sets the thresholds
(conventionally 0.1: a shift worth a look, 0.25: a large one). Small samples are the other
way to cry wolf: a PSI must also pass the `noise_quantile` of what sampling alone gives,
chi2(buckets - 1) * (1/live rows + 1/training rows), before it counts. Numeric features also
get the Wasserstein distance to the training percentiles in training standard deviations: how
far values moved, in units a reader knows ("+1.0 std").

Pure functions over pandas Series and the reference; monitor.py reads the log and writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field

from mlcycle.config import Drift
from mlcycle.model.reference import CategoricalReference, NumericReference, Reference
from mlcycle.model.version import Record

if TYPE_CHECKING:  # the API returns a DriftReport without importing pandas or scipy
    import pandas as pd

# Empty buckets get this share, so that a bucket one side never fills has a finite PSI term.
EPSILON = 1e-4
MISSING = "missing"
LIVE_QUANTILES = 1001
UNSEEN = "not seen in training"

FeatureStatus = Literal["ok", "warn", "alert", "not_measured"]
ReportStatus = Literal["ok", "warn", "alert", "too_few_rows"]


class Bucket(Record):
    label: str
    reference: float = Field(description="Share of training rows.")
    live: float = Field(description="Share of live rows.")


class FeatureDrift(Record):
    name: str
    type: Literal["numeric", "categorical"]
    status: FeatureStatus
    rows: int = Field(description="Live rows compared.")
    psi: float | None = None
    noise_floor: float | None = Field(
        None, description="The PSI sampling alone stays under (at the config's noise_quantile)."
    )
    shift_std: float | None = Field(
        None, description="Numeric: Wasserstein distance to training, in training stds."
    )
    mean_shift_std: float | None = Field(
        None, description="Numeric: (live mean - training mean) / training std."
    )
    missing_fraction: float | None = None
    reference_missing_fraction: float | None = None
    note: str | None = None
    buckets: list[Bucket] = Field(default_factory=list)


class DriftReport(Record):
    """One run of the monitor: `monitoring/drift/<name>.json` (and the HTML beside it)."""

    id: str = Field(description="Hash of what was compared: version, log files, thresholds.")
    created_at: str = Field(description="ISO 8601, UTC.")
    version: str = Field(description="The version whose training reference was compared.")
    since: str | None = Field(None, description="Logged predictions from then on (ISO 8601).")
    rows: int = Field(description="Logged rows compared.")
    rows_by_version: dict[str, int] = Field(
        default_factory=dict, description="Of those, how many each version answered."
    )
    status: ReportStatus
    message: str
    thresholds: Drift
    features: list[FeatureDrift] = Field(default_factory=list)

    @property
    def alert(self) -> bool:
        return self.status == "alert"

    def to_json(self) -> dict:
        return self.model_dump(mode="json")


def psi(reference: np.ndarray, live: np.ndarray) -> float:
    """The population stability index of two share vectors over the same buckets."""
    from scipy.special import rel_entr

    ref = np.clip(np.asarray(reference, dtype=float), EPSILON, None)
    cur = np.clip(np.asarray(live, dtype=float), EPSILON, None)
    # (a - e) ln(a / e) = a ln(a/e) + e ln(e/a): the symmetric Kullback-Leibler divergence
    return float(np.sum(rel_entr(cur, ref) + rel_entr(ref, cur)))


def noise_floor(buckets: int, live_rows: int, reference_rows: int, quantile: float) -> float:
    """The PSI two samples of one distribution stay under with probability `quantile`: PSI
    is about chi-square(buckets - 1) * (1/n + 1/m) when nothing moved."""
    from scipy.stats import chi2

    df = max(buckets - 1, 1)
    return float(chi2.ppf(quantile, df) * (1 / max(live_rows, 1) + 1 / max(reference_rows, 1)))


def _status(value: float, floor: float, config: Drift) -> tuple[FeatureStatus, str | None]:
    if value <= floor and value >= config.psi_warn:
        return "ok", f"PSI {value:.3f} is within what this many rows give by chance ({floor:.3f})"
    if value >= config.psi_alert:
        return "alert", None
    if value >= config.psi_warn:
        return "warn", None
    return "ok", None


def _judged(
    feature: FeatureDrift, ref: np.ndarray, live: np.ndarray, ref_rows: int, config: Drift
) -> FeatureDrift:
    value = psi(ref, live)
    used = int(np.count_nonzero((ref > 0) | (live > 0)))
    floor = noise_floor(used, feature.rows, ref_rows, config.noise_quantile)
    status, note = _status(value, floor, config)
    return feature.model_copy(
        update={"psi": value, "noise_floor": floor, "status": status, "note": note}
    )


def _buckets(labels: list[str], train: np.ndarray, live: np.ndarray) -> list[Bucket]:
    """The shares PSI compared, bucket by bucket (the report plots them)."""
    return [
        Bucket(label=label, reference=float(r), live=float(c))
        for label, r, c in zip(labels, train, live, strict=True)
    ]


def _edge_labels(edges: list[float]) -> list[str]:
    if not edges:
        return ["all values"]
    labels = [f"≤ {edges[0]:.4g}"]
    labels += [f"{lo:.4g} – {hi:.4g}" for lo, hi in pairwise(edges)]
    return [*labels, f"> {edges[-1]:.4g}"]


def numeric_drift(ref: NumericReference, values: pd.Series, config: Drift) -> FeatureDrift:
    """A numeric feature's PSI over the reference's bins, and its shift in training stds."""
    import pandas as pd
    from scipy.stats import wasserstein_distance

    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    n = len(numbers)
    present = numbers.dropna().to_numpy()
    missing = float(numbers.isna().mean()) if n else 0.0
    base = FeatureDrift(
        name=ref.name,
        type="numeric",
        status="not_measured",
        rows=n,
        missing_fraction=missing,
        reference_missing_fraction=ref.missing_fraction,
    )
    if not ref.shares:
        return base.model_copy(update={"note": "no value of it in training: nothing to compare"})
    counts = np.bincount(ref.bin_of(present), minlength=len(ref.edges) + 1) if n else None
    live = np.append(counts / n, missing) if n else np.zeros(len(ref.shares) + 1)
    train = np.append(np.asarray(ref.shares) * (1 - ref.missing_fraction), ref.missing_fraction)
    labels = [*_edge_labels(ref.edges), MISSING]
    update: dict = {"buckets": _buckets(labels, train, live)}
    if len(present) and ref.std:
        # A large sample stands in as its permilles: the same distance within 0.1% of the
        # spread, without sorting every value.
        live_values = (
            np.quantile(present, np.linspace(0, 1, LIVE_QUANTILES))
            if len(present) > LIVE_QUANTILES
            else present
        )
        update["shift_std"] = float(wasserstein_distance(ref.percentiles, live_values) / ref.std)
        update["mean_shift_std"] = float((present.mean() - ref.mean) / ref.std)
    return _judged(base.model_copy(update=update), train, live, ref.rows, config)


def categorical_drift(ref: CategoricalReference, values: pd.Series, config: Drift) -> FeatureDrift:
    """A categorical feature's PSI over the training categories, unseen ones and missing."""
    n = len(values)
    text = values.dropna().astype(str)
    missing = 1 - len(text) / n if n else 0.0
    known = list(ref.shares)
    counts = text.value_counts()
    live_known = [float(counts.get(c, 0)) / n if n else 0.0 for c in known]
    unseen = float(counts[~counts.index.isin(known)].sum()) / n if n else 0.0
    live = np.array([*live_known, unseen, missing])
    train = np.array(
        [*(s * (1 - ref.missing_fraction) for s in ref.shares.values()), 0.0, ref.missing_fraction]
    )
    labels = [*known, UNSEEN, MISSING]
    base = FeatureDrift(
        name=ref.name,
        type="categorical",
        status="not_measured",
        rows=n,
        missing_fraction=missing,
        reference_missing_fraction=ref.missing_fraction,
        buckets=_buckets(labels, train, live),
    )
    return _judged(base, train, live, ref.rows, config)


def assess(
    reference: Reference,
    features: Mapping[str, pd.Series],
    config: Drift,
    *,
    rows: int,
    version: str,
) -> tuple[ReportStatus, str, list[FeatureDrift]]:
    """Each reference feature's drift; the overall status and a one-line message.

    `features` maps a feature name to its logged values (a feature the log lacks is not
    measured); `rows` is the number of logged rows; `version` is named in the message.
    """
    if rows < config.min_rows:
        return (
            "too_few_rows",
            f"{rows} logged row{'s' if rows != 1 else ''} to compare; the monitor judges drift "
            f"from {config.min_rows} (drift.min_rows in the config): no verdict",
            [],
        )
    results = []
    for ref in reference.features:
        values = features.get(ref.name)
        if values is None:
            results.append(
                FeatureDrift(
                    name=ref.name,
                    type=ref.type,
                    status="not_measured",
                    rows=0,
                    note="not in the prediction log",
                )
            )
        elif isinstance(ref, NumericReference):
            results.append(numeric_drift(ref, values, config))
        else:
            results.append(categorical_drift(ref, values, config))
    alerts = [f for f in results if f.status == "alert"]
    warns = [f for f in results if f.status == "warn"]
    measured = sum(f.status != "not_measured" for f in results)
    if alerts:
        names = ", ".join(f"{f.name} ({f.psi:.2f})" for f in _by_psi(alerts))
        return (
            "alert",
            f"{len(alerts)} of {measured} features drifted past psi_alert {config.psi_alert} "
            f"from {version}'s training data: {names}",
            results,
        )
    if warns:
        names = ", ".join(f"{f.name} ({f.psi:.2f})" for f in _by_psi(warns))
        return (
            "warn",
            f"{len(warns)} of {measured} features shifted past psi_warn {config.psi_warn} "
            f"(none past psi_alert {config.psi_alert}): {names}",
            results,
        )
    return (
        "ok",
        f"no drift: all {measured} features within psi_warn {config.psi_warn} of {version}'s "
        "training data",
        results,
    )


def _by_psi(features: list[FeatureDrift]) -> list[FeatureDrift]:
    return sorted(features, key=lambda f: -(f.psi or 0.0))
