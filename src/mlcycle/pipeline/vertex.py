"""Run the training pipeline on Vertex AI Pipelines.

The job is the SDK's own `aiplatform.PipelineJob`, built from the spec `compile_pipeline`
writes (every step in the project's image, sized by the config) and the same run parameters
as a local run. Building it needs no network; `submit_job` is the one call that reaches
Google. The cloud SDK is imported lazily: the API and UI images do not have it.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcycle import storage
from mlcycle.config import DatasetConfig

if TYPE_CHECKING:
    from google.auth.credentials import Credentials
    from google.cloud.aiplatform import PipelineJob


@dataclass(frozen=True)
class VertexTarget:
    """Where and as whom the pipeline runs."""

    project: str
    region: str
    root: str  # gs://bucket/prefix: data, registry and pipeline artifacts
    image: str  # the Dockerfile's `pipeline` target, pushed to Artifact Registry
    service_account: str | None = None

    def __post_init__(self) -> None:
        if not self.root.startswith("gs://"):
            raise ValueError(
                f"--root must be a gs:// bucket URI for Vertex AI, got {self.root!r}: "
                "pipeline steps run in Google's machines and cannot read a local folder"
            )

    @property
    def pipeline_root(self) -> str:
        """Vertex AI writes step artifacts here: beside the data, as `mlcycle run` does."""
        return storage.join(storage.normalize(self.root), "pipeline")

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.region}"


def build_job(
    target: VertexTarget,
    config: DatasetConfig,
    parameters: dict[str, str],
    credentials: Credentials | None = None,
) -> PipelineJob:
    """The PipelineJob, ready to submit. `credentials=None` means the environment's own (ADC)."""
    from google.cloud import aiplatform

    from mlcycle.pipeline.compile import compile_pipeline

    with tempfile.TemporaryDirectory(prefix="mlcycle-spec-") as tmp:
        spec = compile_pipeline(Path(tmp) / "pipeline.yaml", config, target.image)
        # The SDK reads the template here, in the constructor; the file can go afterwards.
        return aiplatform.PipelineJob(
            display_name=f"mlcycle-{config.name}",
            template_path=str(spec),
            pipeline_root=target.pipeline_root,
            parameter_values=parameters,
            project=target.project,
            location=target.region,
            credentials=credentials,
        )


def create_request(job: PipelineJob, target: VertexTarget) -> dict[str, Any]:
    """The CreatePipelineJob request `submit_job` sends, as JSON-ready data.

    `PipelineJob.submit` sets the service account on the resource just before sending it,
    so it is added here the same way.
    """
    resource = job.to_dict()
    if target.service_account:
        resource["serviceAccount"] = target.service_account
    return {"parent": target.parent, "pipelineJobId": job.job_id, "pipelineJob": resource}


def submit_job(job: PipelineJob, target: VertexTarget, wait: bool) -> None:
    """Send the job to Vertex AI; with `wait`, block until it ends (RuntimeError if it failed)."""
    job.submit(service_account=target.service_account)
    if wait:
        job.wait()
