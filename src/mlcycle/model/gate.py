"""The gate: may the challenger replace the champion?"""

from __future__ import annotations

from mlcycle.config import Gate
from mlcycle.model.metrics import better, passes
from mlcycle.model.version import GateDecision


def decide(
    challenger: dict[str, float], champion: dict[str, float] | None, gate: Gate
) -> GateDecision:
    """Promote only if every threshold passes and the primary metric beats the champion's
    (both scored on the same test split) by more than the margin. Ties keep the champion."""
    reasons = []
    ok = True
    for metric, threshold in gate.thresholds.items():
        value = challenger[metric]
        if passes(metric, value, threshold):
            reasons.append(f"{metric} {value:.4f} passes threshold {threshold}")
        else:
            ok = False
            reasons.append(f"{metric} {value:.4f} fails threshold {threshold}")
    metric = gate.primary_metric
    if champion is None:
        reasons.append("no champion yet")
    else:
        mine, theirs = challenger[metric], champion[metric]
        if better(metric, mine, theirs, gate.min_improvement):
            reasons.append(
                f"{metric} {mine:.4f} beats champion's {theirs:.4f} "
                f"by more than {gate.min_improvement}"
            )
        else:
            ok = False
            reasons.append(
                f"{metric} {mine:.4f} does not beat champion's {theirs:.4f} "
                f"by more than {gate.min_improvement} (ties keep the champion)"
            )
    return GateDecision.of(ok, reasons)
