"""Huajia's one settings object: environment (`HUAJIA_*`), then `huajia.toml`, then defaults.

Built once at start-up by the command line and passed down; nothing else reads the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from huajia.engine.models import ModelSpec, builtin_models, resolve_model
from huajia.errors import InvalidRequest

OffloadMode = Literal["none", "model", "sequential", "auto"]
AuthMode = Literal["auto", "keys", "open-local"]
DeviceName = Literal["auto", "cuda", "cpu", "mps"]

# Shorter webhook secrets are guessable; an empty one would sign every webhook with ''.
MIN_WEBHOOK_SECRET = 16


class Settings(BaseSettings):
    """Everything configurable about one Huajia process."""

    model_config = SettingsConfigDict(
        env_prefix="HUAJIA_",
        env_nested_delimiter="__",
        toml_file="huajia.toml",
        extra="ignore",
    )

    data_dir: Path = Field(Path("huajia-data"), description="Database, images and tiny models.")
    model: str = Field(
        "z-image-turbo",
        description="The model served when `models` lists none: a registry name or a folder.",
    )
    models: list[str | ModelSpec] | dict[str, ModelSpec] = Field(
        default_factory=dict,
        description="A list: the models served (names, folders or inline specs; the first is "
        "the default). A table ([models.NAME]): extra named models, `model` the one served.",
    )
    model_residency: Literal["all", "lru"] = Field(
        "all",
        description="A worker holding several models: all keeps every one loaded; lru keeps "
        "`resident_models` loaded and unloads the least recently used to load another.",
    )
    resident_models: int = Field(
        1, ge=1, description="lru: how many models one worker keeps loaded at once."
    )
    model_switch_after: int = Field(
        4,
        ge=1,
        description="lru: after this many batches in a row of loaded models, a task waiting "
        "for an unloaded one goes first (no model starves).",
    )
    device: DeviceName = "auto"
    gpus: list[str] = Field(
        default_factory=list, description="`huajia serve` starts one worker per GPU listed."
    )
    offload: OffloadMode = "auto"
    cuda_alloc_conf: str = Field(
        "expandable_segments:True",
        description="PYTORCH_CUDA_ALLOC_CONF, set before CUDA starts "
        "(for example expandable_segments:True or max_split_size_mb:128).",
    )
    vae_tiling_min_pixels: int = Field(
        1536 * 1536, description="Decode images at least this large with VAE tiling."
    )
    # Optional accelerations (huajia.engine.accel), each off by default.
    compile_blocks: bool = Field(
        False, description="torch.compile the transformer blocks (first images slow to compile)."
    )
    attention_backend: str | None = Field(
        None, description="diffusers attention backend, e.g. 'flash' or 'sage' (kernels needed)."
    )
    step_cache: bool = Field(
        False, description="Reuse transformer residuals across similar steps (cache-dit)."
    )
    step_cache_threshold: float = Field(
        0.08, gt=0, description="Step cache: the change below which a step reuses the cache."
    )
    step_cache_warmup_steps: int = Field(
        3, ge=1, description="Step cache: the first steps always computed in full."
    )
    weights: Path | None = Field(None, description="Fine-tuned transformer .safetensors.")
    weights_min_match: float = Field(
        0.9, ge=0.0, le=1.0, description="Refuse weights matching fewer of the model's keys."
    )
    loras: dict[str, Path] = Field(default_factory=dict, description="LoRA name -> file.")
    lora_allow_partial: bool = False
    weights_dirs: list[Path] = Field(
        default_factory=list,
        description="Folders weights files may be reloaded from through the admin API "
        "(POST /api/v1/admin/reload). Default: data_dir/weights.",
    )
    lora_dirs: list[Path] = Field(
        default_factory=list,
        description="Folders admins may register LoRA files from (POST /api/v1/loras with a "
        "path); uploads are saved in the first. Default: data_dir/loras.",
    )

    database_url: SecretStr | None = Field(None, description="Default: SQLite in data_dir.")
    database_pool_size: int = Field(
        5,
        ge=1,
        description="Database connections each process keeps open (claimer threads, "
        "API requests and watchers share them).",
    )
    database_max_overflow: int = Field(
        10, ge=0, description="Extra connections a process may open at a peak beyond the pool."
    )
    host: str = "127.0.0.1"
    port: int = 8000
    auth: AuthMode = Field(
        "auto",
        description="keys: every call needs an API key. open-local: callers on this machine "
        "need none. auto: open-local until the first key is created, keys from then on.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or networks of reverse proxies whose X-Forwarded-* are believed.",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host header values answered (default: loopback names, public_url's host "
        "and the listening address); '*' answers any.",
    )
    max_json_bytes: int = Field(
        64 * 1024, ge=1024, description="Largest JSON request body (413 beyond, before parsing)."
    )
    max_upload_bytes: int = Field(
        32 * 1024 * 1024, ge=1024, description="Largest upload body (images, masks, batches)."
    )
    max_source_pixels: int = Field(
        4096 * 4096,
        ge=64 * 64,
        description="Largest image to edit (width × height), checked before its pixels decode.",
    )
    max_source_side: int = Field(8192, ge=64, description="Longest side of an image to edit.")
    source_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts an image to edit may be fetched from by URL (names, addresses or "
        "networks); empty turns image URLs off. A listed name must still resolve to a public "
        "address: list an address or network (e.g. 10.0.0.0/8) to reach an internal one.",
    )
    source_allow_http: bool = Field(False, description="Image URLs may use http:// too.")
    source_timeout_seconds: float = Field(
        15.0, gt=0, description="Deadline for fetching one image URL, connect to last byte."
    )
    header_timeout_seconds: float = Field(
        10.0, gt=0, description="A client must send its request headers within this time."
    )
    keep_alive_seconds: float = Field(5.0, gt=0, description="Idle keep-alive connections close.")
    max_streams_per_key: int = Field(
        16, ge=1, description="Concurrent event streams (SSE) one API key may hold open."
    )
    queue_max: int = Field(1000, ge=1, description="Pending tasks beyond this answer 429.")
    lease_seconds: float = Field(
        30.0, gt=0, description="A task whose worker stops renewing for this long runs again."
    )
    max_attempts: int = Field(3, ge=1)
    watch_fallback_seconds: float = Field(
        2.0,
        gt=0,
        description="Event streams (SSE) are pushed when a worker reports; each followed task "
        "is also read this often in case a notice was lost (e.g. a pooler dropping LISTEN).",
    )
    idle_fallback_seconds: float = Field(
        2.0,
        gt=0,
        description="An idle worker wakes when a task is queued for its model, and also "
        "checks the queue this often in case a notice was lost.",
    )
    progress_interval_seconds: float = Field(
        0.1,
        ge=0,
        le=10,
        description="A worker writes a running task's steps at most this often (its first "
        "step at once); steps in between go together, each still its own SSE progress event.",
    )
    drain_seconds: float = Field(
        60.0,
        ge=0,
        description="On SIGTERM, how long a worker may finish its batch before "
        "handing the tasks back to the queue.",
    )
    daily_image_quota: int | None = Field(
        None, ge=1, description="Images an editor key may request per 24 hours (admins: no limit)."
    )
    review_required: bool = Field(
        False,
        description="Every generated image waits for a reviewer's approval before editors "
        "may fetch, insert or publish it.",
    )
    retention_days: float | None = Field(
        None, gt=0, description="Finished tasks, their images and bytes are deleted after this."
    )
    purge_interval_seconds: float = Field(
        300.0, gt=0, description="How often an API process runs the retention purge."
    )
    batch_max_images: int = Field(
        4, ge=1, le=36, description="Compatible tasks share one GPU batch up to this many images."
    )
    png_compress_level: int = Field(
        4,
        ge=0,
        le=9,
        description="zlib level of stored PNG files, lossless at every level: 1 encodes a "
        "1024² image about twice as fast as 4 for a file about 10 % larger; 6 (Pillow's "
        "default) takes about twice as long as 4 for 1 % less.",
    )
    preview_every_steps: int = Field(
        2,
        ge=0,
        le=1000,
        description="Live previews: one small image of each running task's images every this "
        "many steps, made only while an event stream asked for them (?previews=true); "
        "0 turns them off for every client.",
    )
    storage: Literal["local", "s3"] = Field(
        "local", description="Image bytes: a folder in data_dir, or an S3-compatible bucket."
    )
    s3_bucket: str | None = None
    s3_prefix: str = "huajia"
    s3_endpoint_url: str | None = Field(None, description="For MinIO, Ceph, R2 ...")
    s3_region: str | None = None
    s3_access_key: SecretStr | None = Field(None, description="Default: boto3's own sources.")
    s3_secret_key: SecretStr | None = None
    public_url: str | None = Field(
        None, description="Base URL for links in webhooks (default http://HOST:PORT)."
    )
    webhook_secret: SecretStr | None = Field(
        None,
        description="Signs webhooks (HMAC-SHA256); requests may set webhook_url once set. "
        f"At least {MIN_WEBHOOK_SECRET} characters; unset, webhooks are off.",
    )
    webhook_timeout_seconds: float = Field(
        10.0, gt=0, description="Deadline for one delivery, connect to last byte."
    )
    webhook_concurrency: int = Field(8, ge=1, description="Deliveries in flight at once.")
    host_lookup_seconds: float = Field(
        3.0,
        gt=0,
        le=30,
        description="Deadline for looking up an outbound host's addresses (webhooks, images "
        "fetched by URL); a host whose DNS does not answer in time is refused (422 url_refused).",
    )
    host_lookups: int = Field(
        4,
        ge=1,
        le=64,
        description="Host lookups running at once, on threads of their own (webhooks; images "
        "fetched by URL on as many again); a lookup waits for a free one within "
        "host_lookup_seconds; with four times as many outstanding, another is refused at once.",
    )
    webhook_allow_http: bool = Field(False, description="Allow http:// (not only https://).")
    webhook_allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names, addresses or networks a webhook may reach although they are "
        "loopback, private or link-local (e.g. cms.internal or 10.0.0.0/8).",
    )
    webhook_max_attempts: int = Field(8, ge=1)
    webhook_retry_seconds: float = Field(10.0, gt=0, description="First retry; doubles after.")
    presets_file: Path | None = None
    fonts_dir: Path | None = Field(
        None, description="Extra fonts for text overlays (Noto CJK from Debian is found itself)."
    )
    label_producer: str = Field(
        "Huajia",
        min_length=1,
        description="ContentProducer in the TC260 (GB 45438) label: a name or code.",
    )
    label_secret: SecretStr | None = Field(
        None,
        description="Key of the label's integrity value (HMAC-SHA256 of the pixels). Default: "
        "a random one kept in data_dir/label-secret; machines sharing work must share it.",
    )
    visible_mark: bool = Field(False, description="Draw a visible AI mark on every image.")
    visible_mark_corner: Literal["top-left", "top-right", "bottom-left", "bottom-right"] = Field(
        "bottom-right", description="Where the visible mark goes."
    )
    visible_mark_text: str = Field(
        "AI生成", min_length=1, max_length=40, description="The visible mark's text."
    )
    c2pa_cert_file: Path | None = Field(
        None, description="PEM certificate chain (signer first) for C2PA Content Credentials."
    )
    c2pa_key_file: Path | None = Field(None, description="The C2PA signer's PEM private key.")
    c2pa_tsa_url: str | None = Field(None, description="RFC 3161 time-stamp server for C2PA.")
    cors_origins: list[str] = Field(default_factory=list)
    ckeditor_dist_dir: Path | None = Field(
        None, description="CKEditor 5 browser build for /demo/ckeditor (default: the npm install)."
    )
    tinymce_dist_dir: Path | None = Field(
        None, description="TinyMCE's package folder for /demo/tinymce (default: the npm install)."
    )

    log_format: Literal["auto", "json", "text"] = Field(
        "auto",
        description="Log lines of serve and worker: json (one object per line), text, or auto "
        "(text when stderr is a terminal, json otherwise).",
    )
    api_key_cache_seconds: float = Field(
        10.0,
        ge=0,
        description="A valid API key is looked up again after this long: a key revoked "
        "elsewhere (CLI, another API process) is refused within it; 0 looks up every request.",
    )

    @field_validator("webhook_secret", mode="after")
    @classmethod
    def _strong_webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_WEBHOOK_SECRET:
            raise ValueError(
                f"webhook_secret must be at least {MIN_WEBHOOK_SECRET} characters (it signs "
                "webhooks); leave HUAJIA_WEBHOOK_SECRET unset to turn webhooks off"
            )
        return value

    @property
    def webhooks_enabled(self) -> bool:
        """Whether webhooks are on: a webhook secret is configured."""
        return self.webhook_secret is not None

    @field_validator("data_dir", "weights", "presets_file", mode="after")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    def registry(self) -> dict[str, ModelSpec]:
        """Built-in models overlaid with the configured ones."""
        if isinstance(self.models, dict):
            return {**builtin_models(), **self.models}
        inline = {item.name: item for item in self.models if isinstance(item, ModelSpec)}
        return {**builtin_models(), **inline}

    def served_models(self) -> list[str]:
        """The models this deployment serves (names or folders), the default first."""
        if isinstance(self.models, list) and self.models:
            return [item if isinstance(item, str) else item.name for item in self.models]
        return [self.model]

    def served_specs(self) -> list[ModelSpec]:
        """The served models resolved (registry names or diffusers folders), each name once."""
        registry = self.registry()
        specs = [resolve_model(item, registry) for item in self.served_models()]
        names = [spec.name for spec in specs]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise InvalidRequest(
                f"models named alike: {', '.join(twice)}; list each model once (two tiny "
                "models need two names: huajia model create-tiny DIR --name NAME)"
            )
        return specs

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "huajia.db"

    def resolved_database_url(self) -> str:
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.sqlite_path}"

    def weights_folders(self) -> list[Path]:
        """Where the admin API may take new weights files from."""
        return [path.expanduser() for path in self.weights_dirs] or [self.data_dir / "weights"]

    def lora_folders(self) -> list[Path]:
        """Where registered LoRA files may live (uploads go to the first)."""
        return [path.expanduser() for path in self.lora_dirs] or [self.data_dir / "loras"]

    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    def ckeditor_dist(self) -> Path | None:
        if self.ckeditor_dist_dir is not None:
            return self.ckeditor_dist_dir
        checkout = Path(__file__).resolve().parents[2]
        candidate = checkout / "integrations/ckeditor5/node_modules/ckeditor5/dist/browser"
        return candidate if candidate.is_dir() else None

    def tinymce_dist(self) -> Path | None:
        if self.tinymce_dist_dir is not None:
            return self.tinymce_dist_dir
        checkout = Path(__file__).resolve().parents[2]
        candidate = checkout / "integrations/tinymce/node_modules/tinymce"
        return candidate if candidate.is_dir() else None

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with command-line flags applied (None means 'not given')."""
        given = {key: value for key, value in changes.items() if value is not None}
        return self.model_copy(update=given)
