"""The composition root: settings in, wired services out. Nothing else builds singletons."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import SecretStr

from huajia.auth.gate import AuthGate
from huajia.edits import FontLibrary
from huajia.engine.tokens import PromptMeter
from huajia.errors import InvalidRequest
from huajia.generation.batches import BatchService
from huajia.generation.cache import model_identity, weights_identity
from huajia.generation.editing import EditingService
from huajia.generation.purge import Purger
from huajia.generation.reload import ModelReloads, seed_revision
from huajia.generation.review import ReviewService
from huajia.generation.service import GenerationService, ServedModel
from huajia.images.labeler import Labeler
from huajia.images.mark import VisibleMark
from huajia.images.sources import SourceLimits
from huajia.jobs import open_store
from huajia.jobs.database import Pool
from huajia.jobs.store import TaskStore
from huajia.outbound import OutboundPolicy
from huajia.presets.admin import PresetAdmin
from huajia.presets.catalog import load_presets
from huajia.presets.lora_registry import LoraRegistry
from huajia.presets.registry import PresetRegistry
from huajia.settings import Settings
from huajia.storage.base import BlobStore
from huajia.storage.local import LocalBlobStore

if TYPE_CHECKING:
    from huajia.api.deps import Services


def served_model(settings: Settings) -> ServedModel:
    """The default model (the first served)."""
    return served_models(settings)[0]


def served_models(settings: Settings) -> list[ServedModel]:
    """Every served model, the default first; fine-tuned `weights` belong to the default."""
    return [
        ServedModel(
            spec=spec,
            model_id=model_identity(spec.source),
            weights_id=weights_identity(settings.weights) if index == 0 else None,
            meter=PromptMeter.for_source(spec.source),
        )
        for index, spec in enumerate(settings.served_specs())
    ]


def open_task_store(settings: Settings) -> TaskStore:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    pool = Pool(settings.database_pool_size, settings.database_max_overflow)
    return open_store(settings.resolved_database_url(), pool)


def image_store(settings: Settings) -> BlobStore:
    """The local folder by default; an S3-compatible bucket when several machines share work."""
    if settings.storage == "local":
        return LocalBlobStore(settings.data_dir / "images")
    if not settings.s3_bucket:
        raise InvalidRequest("storage = 's3' needs s3_bucket (HUAJIA_S3_BUCKET)")
    from huajia.storage.s3 import S3BlobStore

    return S3BlobStore.connect(
        settings.s3_bucket,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        access_key=_secret(settings.s3_access_key),
        secret_key=_secret(settings.s3_secret_key),
        prefix=settings.s3_prefix,
    )


def visible_mark(settings: Settings) -> VisibleMark | None:
    """The visible AI mark new requests get, unless a preset or key decides otherwise."""
    if not settings.visible_mark:
        return None
    return VisibleMark(text=settings.visible_mark_text, corner=settings.visible_mark_corner)


def labeler(settings: Settings, fonts: FontLibrary | None = None) -> Labeler:
    """Labels for every stored file; checks the C2PA certificate and key once, here."""
    return Labeler.from_settings(settings, fonts or FontLibrary.discover(settings.fonts_dir))


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def build_services(settings: Settings, store: TaskStore | None = None) -> Services:
    """The API process's services. (FastAPI is imported here, not above: a worker and the
    other commands use this module's parts without the HTTP layer.)"""
    from huajia.api.deps import Services

    store = store or open_task_store(settings)
    presets = PresetRegistry(store.presets, load_presets(settings.presets_file))
    presets.seed()
    model, *others = served_models(settings)
    loras = LoraRegistry(
        store, model.spec.source, settings.lora_folders(), settings.lora_allow_partial
    )
    loras.seed(settings.loras)
    reloads = ModelReloads(
        store, model.spec, loras, settings.weights_folders(), [other.spec for other in others]
    )
    reloads.seed(settings.weights)
    for other in others:  # their revisions, so that their work is pinned like the default's
        seed_revision(store, other.spec, None)
    generation = GenerationService(
        store=store,
        model=model,
        presets=presets,
        queue_max=settings.queue_max,
        max_attempts=settings.max_attempts,
        webhooks=OutboundPolicy.for_webhooks(settings) if settings.webhooks_enabled else None,
        daily_image_quota=settings.daily_image_quota,
        review_required=settings.review_required,
        mark=visible_mark(settings),
        mark_style=VisibleMark(
            text=settings.visible_mark_text, corner=settings.visible_mark_corner
        ),
        models=others,
    )
    blobs = image_store(settings)
    fonts = FontLibrary.discover(settings.fonts_dir)
    editing = EditingService(
        store, blobs, generation.model.spec.name, fonts, SourceLimits.from_settings(settings),
        labeler(settings, fonts), mark=generation.mark, policies=generation.policies,
        review_required=settings.review_required,
    )  # fmt: skip
    purger = Purger(store, blobs, settings.retention_days)
    return Services(
        settings=settings,
        review=ReviewService(store, blobs, purger),
        purger=purger,
        store=store,
        blobs=blobs,
        editing=editing,
        generation=generation,
        presets=presets,
        preset_admin=PresetAdmin(store, model.spec.limits),
        loras=loras,
        reloads=reloads,
        batches=BatchService(store, generation, blobs),
        auth=AuthGate(settings.auth, store.keys, settings.api_key_cache_seconds),
    )
