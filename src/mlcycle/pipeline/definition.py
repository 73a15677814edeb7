"""The training pipeline's wiring: it reads like the data-flow diagram in docs/."""

from kfp import dsl

from mlcycle.config import Resources
from mlcycle.pipeline import components as c

PIPELINE_NAME = "mlcycle-training"


def build_pipeline(resources: Resources | None = None, image: str | None = None):
    """The pipeline; `resources` sizes each step's machine on Vertex AI (not used locally),
    `image` replaces every step's container image (Vertex AI, kfp.local's DockerRunner)."""

    @dsl.pipeline(
        name=PIPELINE_NAME,
        description="Ingest, validate, clean, split, train, evaluate, gate and register.",
    )
    def training_pipeline(
        root: str,
        config: str,
        incoming_fingerprint: str,
        champion_version: str = "",
        git_commit: str = "",
        code_version: str = "",
    ) -> dsl.Artifact:
        ingest = c.ingest(
            config=config,
            root=root,
            incoming_fingerprint=incoming_fingerprint,
            code_version=code_version,
        ).set_display_name("ingest")
        validate = c.validate(
            config=config,
            root=root,
            champion_version=champion_version,
            code_version=code_version,
            snapshot=ingest.outputs["snapshot"],
            ingest_report=ingest.outputs["report"],
        ).set_display_name("validate")
        types = validate.outputs["Output"]
        clean = c.clean(
            config=config,
            feature_types=types,
            code_version=code_version,
            snapshot=ingest.outputs["snapshot"],
        ).set_display_name("clean")
        split = c.split(
            config=config, code_version=code_version, cleaned=clean.outputs["cleaned"]
        ).set_display_name("split")
        train = c.train(
            config=config,
            feature_types=types,
            code_version=code_version,
            train_set=split.outputs["train_set"],
        ).set_display_name("train")
        evaluate = c.evaluate(
            config=config,
            feature_types=types,
            root=root,
            champion_version=champion_version,
            code_version=code_version,
            model=train.outputs["model"],
            test_set=split.outputs["test_set"],
        ).set_display_name("evaluate")
        register = c.register(
            config=config,
            feature_types=types,
            root=root,
            champion_version=champion_version,
            data_hash=ingest.outputs["Output"],
            git_commit=git_commit,
            run_id=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
            code_version=code_version,
            snapshot=ingest.outputs["snapshot"],
            model=train.outputs["model"],
            cleaned=clean.outputs["cleaned"],
            test_set=split.outputs["test_set"],
            evaluation=evaluate.outputs["evaluation"],
            candidates=train.outputs["candidates"],
            validation_report=validate.outputs["report"],
            changes=clean.outputs["changes"],
            roc_curve=evaluate.outputs["roc_curve"],
            confusion_matrix=evaluate.outputs["confusion_matrix"],
        ).set_display_name("gate-and-register")
        # The registry is state outside the pipeline: never answer this step from the cache.
        register.set_caching_options(enable_caching=False)
        for task in (ingest, validate, clean, split, train, evaluate, register):
            if resources:
                task.set_cpu_limit(resources.cpu).set_memory_limit(resources.memory)
            if image:
                task.set_container_image(image)
        return register.outputs["registration"]

    return training_pipeline
