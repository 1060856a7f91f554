"""`huajia serve` (API + supervised GPU worker) and `huajia worker` (a worker on its own)."""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import signal
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from huajia.cli.common import configure_logging, load_settings, one_line_errors
from huajia.errors import HuajiaError
from huajia.settings import Settings

if TYPE_CHECKING:
    from huajia.engine.models import ModelSpec
    from huajia.engine.zimage import ZImageEngine
    from huajia.jobs.revisions import ModelRevision
    from huajia.jobs.store import TaskStore
    from huajia.worker.loop import Worker
    from huajia.worker.presence import Presence
    from huajia.worker.shelf import ModelShelf
    from huajia.worker.supervisor import WorkerSupervisor

log = logging.getLogger("huajia.serve")

# A draining worker gets drain_seconds to finish its batch, then this long to hand it back.
WORKER_EXIT_GRACE_S = 15.0

ModelOpt = Annotated[
    list[str] | None,
    typer.Option("--model", help="Model name or diffusers folder; repeat it to serve several."),
]
DataOpt = Annotated[Path | None, typer.Option("--data-dir", help="Database and images folder.")]


def serve(
    model: ModelOpt = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    data_dir: DataOpt = None,
    worker: Annotated[bool, typer.Option(help="Start the embedded GPU worker(s).")] = True,
    gpus: Annotated[
        str | None, typer.Option(help="One worker per GPU, e.g. 0,1 (CUDA_VISIBLE_DEVICES).")
    ] = None,
    verbose: Annotated[bool, typer.Option("-v", "--verbose")] = False,
) -> None:
    """Start the HTTP API and its GPU worker (SQLite and a local folder by default)."""
    loaded = load_settings()
    settings = loaded.with_overrides(
        **_models_given(model, loaded), host=host, port=port, data_dir=data_dir,
        gpus=[gpu.strip() for gpu in gpus.split(",") if gpu.strip()] if gpus else None,
    )  # fmt: skip
    configure_logging(True, settings)
    with one_line_errors():
        _serve(settings, worker, verbose)


def _models_given(models: list[str] | None, settings: Settings) -> dict[str, object]:
    """`--model A --model B`: these models, the first the default (none given: the settings').
    A name the settings configure ([models.NAME] or an inline spec) keeps its spec: its own
    defaults and limits."""
    if not models:
        return {}
    registry = settings.registry()
    return {"model": models[0], "models": [registry.get(name, name) for name in models]}


def _serve(settings: Settings, with_worker: bool, verbose: bool) -> None:
    from huajia.worker.supervisor import WorkerSupervisor

    # The workers start first: loading a model takes longest, and the API's own imports and
    # migrations then run beside it instead of before it (3–4 s less to ready on 2 cores).
    supervisors = []
    if with_worker:
        args = ["--data-dir", str(settings.data_dir), "--supervised"]
        for name in settings.served_models():  # each worker holds every served model
            args += ["--model", name]
        # One worker per listed GPU, each seeing only its own; else one that sees them all.
        envs = [{"CUDA_VISIBLE_DEVICES": gpu} for gpu in settings.gpus] or [{}]
        supervisors = [WorkerSupervisor(args, env) for env in envs]
        for supervisor in supervisors:
            supervisor.start()
    wait = settings.drain_seconds + WORKER_EXIT_GRACE_S
    try:
        _serve_api(settings, supervisors, wait, verbose)
    finally:  # also when the API could not start: no worker outlives it
        for supervisor in supervisors:
            supervisor.stop(timeout=wait)


def _serve_api(settings: Settings, supervisors: list[WorkerSupervisor], wait: float,
               verbose: bool) -> None:  # fmt: skip
    import uvicorn

    from huajia.api.app import create_app
    from huajia.api.hosts import AllowedHosts
    from huajia.api.http_protocol import deadline_protocol
    from huajia.api.shutdown import CLOSE_SECONDS, DrainingServer
    from huajia.auth.gate import check_auth_at_start
    from huajia.composition import build_services

    started = time.monotonic()
    services = build_services(settings)
    try:
        log.info("database ready in %.2f s", time.monotonic() - started)
        check_auth_at_start(settings.auth, services.store.keys, settings.data_dir)
        spec = services.generation.model.spec
        if spec.is_random_weights:
            log.warning("model %s has random weights: it draws noise (tests and demos only)",
                        spec.name)  # fmt: skip
        if AllowedHosts.from_settings(settings).any_host:
            log.warning(
                "listening on every address without public_url or allowed_hosts: any Host "
                "header is answered; set allowed_hosts to the names this service is reached by"
            )
        log.info("Huajia on http://%s:%d (docs at /docs)", settings.host, settings.port)
        app = create_app(services)
        config = uvicorn.Config(
            app, host=settings.host, port=settings.port,
            proxy_headers=False,  # only trusted_proxies are believed (create_app adds them)
            http=deadline_protocol(settings.header_timeout_seconds),  # closes stalled clients
            # Typed int by uvicorn, but only ever handed to loop.call_later: seconds as float.
            timeout_keep_alive=settings.keep_alive_seconds,  # type: ignore[arg-type]
            timeout_graceful_shutdown=CLOSE_SECONDS,
            # Our handlers and format; one access line per request comes from RequestLog.
            log_config=None, log_level="info" if verbose else "warning", access_log=False,
        )  # fmt: skip

        def drain() -> None:
            threads = [threading.Thread(target=s.stop, args=(wait,)) for s in supervisors]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

        try:
            DrainingServer(config, app, drain).run()
        finally:
            for supervisor in supervisors:
                supervisor.stop(timeout=wait)
    finally:
        services.store.close()
    log.info("stopped")


def worker(
    model: ModelOpt = None,
    data_dir: DataOpt = None,
    supervised: Annotated[bool, typer.Option(hidden=True)] = False,
    verbose: Annotated[bool, typer.Option("-v", "--verbose")] = False,
) -> None:
    """Run one GPU worker: claim tasks from the shared store, generate, store, report."""
    loaded = load_settings()
    settings = loaded.with_overrides(**_models_given(model, loaded), data_dir=data_dir)
    configure_logging(True, settings)
    with one_line_errors():
        _work(settings, supervised)


def _work(settings: Settings, supervised: bool) -> None:
    from huajia.composition import image_store, labeler, open_task_store
    from huajia.engine.memory import pick_device
    from huajia.worker.loop import Worker
    from huajia.worker.presence import Presence

    labels = labeler(settings)  # a bad C2PA key fails here, before the model loads
    specs = settings.served_specs()  # an unknown model or two of one name fail here too
    stop = threading.Event()
    running: list[Worker] = []
    _on_stop_signals(stop, running, settings.drain_seconds)
    store = open_task_store(settings)
    worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    names = [spec.name for spec in specs]
    presence = Presence(
        store, worker_id, names[0], parent_pid=os.getppid() if supervised else None, models=names
    )
    presence.start(stop)
    started = time.monotonic()
    shelf = _hold_models(specs, settings, presence, stop, store)
    if shelf is None:
        return
    presence.ready(shelf.describe)
    log.info("worker %s ready: %s (loaded: %s, residency %s), in %.1f s", worker_id,
             ", ".join(names), ", ".join(shelf.resident()), shelf.residency,
             time.monotonic() - started)  # fmt: skip
    loop = Worker(
        # No engine of its own: the shelf holds them, so an unloaded one frees its memory.
        store, None, image_store(settings), worker_id, settings.lease_seconds,
        batch_max_images=settings.batch_max_images, model=names[0], labeler=labels,
        shelf=shelf, preview_every_steps=settings.preview_every_steps,
        poll_seconds=settings.idle_fallback_seconds,
        report_interval=settings.progress_interval_seconds,
        requeue_seconds=max(1.0, settings.lease_seconds / 3),  # a lease outlives 3 checks
        # Storing batch N beside batch N+1 pays on a GPU; on the CPU both want the same cores
        # and each task is completed later (measured on 2 cores: its finishing took about 2x).
        overlap_storing=pick_device(settings.device) != "cpu",
    )  # fmt: skip
    running.append(loop)
    try:
        loop.run_forever(stop)
    finally:
        presence.stop()
        store.close()
    log.info("worker %s stopped", worker_id)


def _hold_models(specs: list[ModelSpec], settings: Settings, presence: Presence,
                 stop: threading.Event, store: TaskStore) -> ModelShelf | None:  # fmt: skip
    """Every served model at its current revision; those the residency policy keeps loaded
    are loaded now (the default first), the others on demand. None when told to stop."""
    from huajia.worker.revisions import ServedRevision
    from huajia.worker.shelf import ModelShelf

    keep = len(specs) if settings.model_residency == "all" else settings.resident_models
    held = []
    for index, spec in enumerate(specs):
        weights = settings.weights if index == 0 else None  # fine-tuned weights: the default's
        revision: ModelRevision | None = _revision_to_serve(store, spec, weights)
        engine = None
        if index < keep:
            loaded = _load_engine(spec, settings, presence, stop, revision, store, weights)
            if loaded is None:
                return None
            engine, revision = loaded
        held.append(ServedRevision(
            store, spec.name, revision, engine,
            load=functools.partial(_engine_for, spec, settings, weights=weights),
        ))  # fmt: skip
    return ModelShelf(held, settings.model_residency, settings.resident_models,
                      settings.model_switch_after)  # fmt: skip


def _on_stop_signals(stop: threading.Event, running: list[Worker], drain_seconds: float) -> None:
    """SIGTERM or SIGINT: claim nothing more and finish the batch, handing it back to the
    queue after `drain_seconds`; a second signal hands it back at once."""

    def hand_back() -> None:
        for loop in running:
            loop.hand_back()

    def on_signal(signum: int, _frame: object) -> None:
        if stop.is_set():
            hand_back()
            return
        stop.set()
        for loop in running:
            loop.wake()  # an idle worker stops now, not at its next fallback check
        log.info("%s: worker draining (up to %g s)", signal.Signals(signum).name, drain_seconds)
        timer = threading.Timer(drain_seconds, hand_back)
        timer.daemon = True
        timer.start()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)


def _revision_to_serve(store: TaskStore, spec: ModelSpec, weights: Path | None
                       ) -> ModelRevision:  # fmt: skip
    """The current model revision (the settings' one recorded first if they changed)."""
    from huajia.generation.reload import seed_revision

    return seed_revision(store, spec, weights)


def _engine_for(spec: ModelSpec, settings: Settings, revision: ModelRevision | None,
                weights: Path | None = None) -> ZImageEngine:  # fmt: skip
    """An engine on the revision's weights (`weights` when there is no revision)."""
    from huajia.cli.engine import engine_options
    from huajia.engine.zimage import ZImageEngine

    options = dataclasses.replace(engine_options(settings), weights=weights)
    if revision is not None:
        chosen = Path(revision.weights) if revision.weights else None
        options = dataclasses.replace(options, weights=chosen)
    engine = ZImageEngine.load(spec, options)
    if settings.preview_every_steps > 0:
        engine.prepare_previews()
    return engine


def _load_engine(spec: ModelSpec, settings: Settings, presence: Presence, stop: threading.Event,
                 revision: ModelRevision | None = None, store: TaskStore | None = None,
                 weights: Path | None = None,
                 ) -> tuple[ZImageEngine, ModelRevision | None] | None:  # fmt: skip
    """Load the model; while it fails, say so in the store (health shows it) and try again.
    A reloaded revision whose file is refused is marked failed, and the one before it loads."""
    from huajia.errors import ModelFileRejected

    backoff = 2.0
    while not stop.is_set():
        try:
            return _engine_for(spec, settings, revision, weights), revision
        except HuajiaError as error:
            reloaded = revision is not None and revision.source == "reload"
            if isinstance(error, ModelFileRejected) and store is not None and reloaded:
                assert revision is not None
                log.error("model revision %s refused: %s; loading the one before", revision.id,
                          error.message)  # fmt: skip
                store.revisions.failed(revision.id, error.message, None)
                revision = store.revisions.current(spec.name)
                continue
            log.error(
                "could not load %s: %s; retrying in %.0f s", spec.name, error.message, backoff
            )
            presence.failed(error.code)
            stop.wait(backoff)
            backoff = min(60.0, backoff * 2)
    return None
