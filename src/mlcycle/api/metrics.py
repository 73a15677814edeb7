"""Prometheus metrics, in a registry of the app's own (several apps can live in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from mlcycle.api.holder import Refresh, ServedModel
from mlcycle.feedback import LiveMetrics

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "mlcycle_http_requests",
            "HTTP requests by route, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mlcycle_http_request_duration_seconds",
            "Time from request to response, by route and status.",
            ["route", "status"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "mlcycle_predictions",
            "Predicted instances by class and model version.",
            ["label", "model_version"],
            registry=self.registry,
        )
        self.model_info = Gauge(
            "mlcycle_model_loaded_info",
            "1 for the model version being served (and its backend).",
            ["model_version", "backend"],
            registry=self.registry,
        )
        self.refreshes = Counter(
            "mlcycle_model_refreshes",
            "Champion pointer checks that loaded a model or refused one.",
            ["outcome"],
            registry=self.registry,
        )
        for outcome in ("loaded", "refused"):
            self.refreshes.labels(outcome)
        self.log_rows = Counter(
            "mlcycle_prediction_log_rows",
            "Predicted instances the prediction log wrote, dropped (its queue was full) or lost "
            "(a write failed).",
            ["outcome"],
            registry=self.registry,
        )
        # Bound once: `dropped` is counted on the request path.
        self.log_written, self.log_dropped, self.log_lost = (
            self.log_rows.labels(o) for o in ("written", "dropped", "lost")
        )
        self.log_write_failures = Counter(
            "mlcycle_prediction_log_write_failures",
            "Prediction log files that could not be written (each is logged).",
            registry=self.registry,
        )
        self.live = Gauge(
            "mlcycle_live_metric",
            "The champion's accuracy and recall (positive class) on the ground truth received "
            "through POST /v1/feedback.",
            ["model_version", "metric"],
            registry=self.registry,
        )
        self.feedback_rows = Gauge(
            "mlcycle_feedback_rows",
            "Predictions of the champion with ground truth received (POST /v1/feedback).",
            ["model_version"],
            registry=self.registry,
        )

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, str(status)).observe(seconds)

    def count_predictions(self, version: str, classes: list[str], counts: list[int]) -> None:
        for label, n in zip(classes, counts, strict=True):
            if n:
                self.predictions.labels(label, version).inc(n)

    def on_refresh(self, result: Refresh, current: ServedModel | None) -> None:
        if result.outcome in ("loaded", "refused"):
            self.refreshes.labels(result.outcome).inc()
        if result.outcome == "loaded" and current is not None:
            self.model_info.clear()
            self.model_info.labels(current.version, current.predictor.backend).set(1)

    def on_live(self, live: LiveMetrics) -> None:
        """The champion's live metrics, replacing those of any earlier champion."""
        self.live.clear()
        self.feedback_rows.clear()
        self.feedback_rows.labels(live.model_version).set(live.rows)
        for name in ("accuracy", "recall"):
            value = getattr(live, name)
            if value is not None:
                self.live.labels(live.model_version, name).set(value)

    def render(self) -> bytes:
        return generate_latest(self.registry)
