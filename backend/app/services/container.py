"""The composition root: everything the app builds once at start-up and closes at shutdown.

``build_services`` is the one place parts are wired together; the API (``app.main``) and the
stand-alone worker (``app.worker``) both call it. Importing this module builds nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.billing.prices import PriceTable
from app.core.config import Settings
from app.core.db import Database
from app.core.memory import return_large_blocks_to_os
from app.jobs.events import TaskEvents
from app.jobs.handlers import JobRunner, JobServices
from app.jobs.queue import JobQueue
from app.jobs.worker import Worker
from app.providers.catalog.lookup import Catalog
from app.providers.limits import Limits
from app.providers.upstream import Upstream
from app.services.auth import AuthService, FailureCounter, FailureLedger, SlidingWindow
from app.services.collections import CollectionService
from app.services.edits import EditService
from app.services.health import HealthService
from app.services.housekeeping import Housekeeper
from app.services.image_access import ImageAccess, load_signing_key
from app.services.layers import LayersService
from app.services.lineage import LineageService
from app.services.prompt_history import PromptHistoryService
from app.services.prompt_templates import PromptTemplateService
from app.services.ratelimit import LocalWindow, RateWindow, SharedFailureCounter, SharedWindow
from app.services.rebuild import ensure_history_present
from app.services.reference_sets import ReferenceSetService
from app.services.sessions import SessionStore, password_fingerprint
from app.services.tasks import TaskService
from app.services.tokens import TokenService
from app.services.usage import UsageService
from app.services.users import UserService
from app.services.webhooks import WebhookService
from app.storage.backends import build_store
from app.storage.files import ImageStore
from app.storage.offload import ImageWorkers
from app.storage.reserve import DiskReserve

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from app.jobs.relay import PgRelay


@dataclass(slots=True)
class Services:
    settings: Settings
    db: Database
    store: ImageStore
    images: ImageWorkers
    catalog: Catalog
    events: TaskEvents
    upstream: Upstream
    limits: Limits
    tasks: TaskService
    collections: CollectionService
    prompt_history: PromptHistoryService
    templates: PromptTemplateService
    reference_sets: ReferenceSetService
    usage: UsageService
    auth: AuthService
    users: UserService
    tokens: TokenService
    image_access: ImageAccess
    health: HealthService
    housekeeping: Housekeeper
    generation_limiter: RateWindow
    worker: Worker
    runner: JobRunner
    webhooks: WebhookService
    edits: EditService
    lineage: LineageService
    layers: LayersService
    # PostgreSQL: task events cross replicas by LISTEN/NOTIFY (None on SQLite).
    relay: PgRelay | None = None
    started: bool = field(default=False)

    async def start_worker(self) -> None:
        await self.worker.start()
        # Deliveries are background work like jobs: API-only replicas leave them to the workers.
        self.webhooks.start()
        self.started = True


async def build_services(settings: Settings) -> Services:
    return_large_blocks_to_os()
    store = build_store(settings)
    reserve = DiskReserve(settings.disk_reserve_path, settings.disk_reserve_bytes, min_free=settings.min_free_bytes)
    db = Database(settings.database_url, read_connections=settings.sqlite_read_connections)
    housekeeping = Housekeeper(db, store, reserve, interval=settings.housekeeping_interval_seconds)
    try:
        # Before the database opens: on a full volume the reserve goes first.
        await housekeeping.keep_reserve()
        await db.migrate()
        await ensure_history_present(db, store)
        users = UserService(db)
        # Before anything reads tasks: rows from before accounts get their owner here.
        await users.bootstrap(settings.admin_username)
        signing_key = await load_signing_key(db)
    except BaseException:
        await db.dispose()
        raise
    catalog = Catalog.from_settings(settings)
    events = TaskEvents()
    relay: PgRelay | None = None
    if not db.is_sqlite:
        # Here, not at the top: asyncpg (0.1 s of start-up) is for PostgreSQL only.
        from app.jobs.relay import PgRelay, asyncpg_dsn

        relay = PgRelay(asyncpg_dsn(settings.database_url), events)
        events.attach(relay)
        await relay.start()
    limits = Limits.from_settings(settings)
    upstream = Upstream(settings, catalog, limits)
    prices = PriceTable.load(settings.prices_file)
    _report_price_gaps(prices, catalog)
    images = ImageWorkers(store, settings.image_processes)
    usage = UsageService(db=db, prices=prices, settings=settings)
    runner = JobRunner(
        JobServices(
            db=db,
            store=store,
            images=images,
            events=events,
            provider_for=upstream.provider_for,
            fetch=upstream.fetch,
            prices=prices,
            max_attempts=settings.max_job_attempts,
            job_timeout=settings.job_timeout,
        )
    )
    worker = Worker(
        queue=JobQueue(db, lease_seconds=settings.job_lease_seconds),
        runner=runner,
        max_concurrent=settings.max_concurrent_jobs,
        provider_caps=settings.provider_concurrency,
    )
    collections = CollectionService(db, store)
    tasks = TaskService(
        db=db,
        store=store,
        catalog=catalog,
        events=events,
        notify_worker=worker.notify,
        notify_cancel=worker.notify_cancel,
        max_upload_bytes=settings.max_upload_bytes,
        max_image_pixels=settings.max_image_pixels,
        usage=usage,
        collections=collections,
        reserve=reserve,
    )
    password = settings.app_password
    sessions = SessionStore(db, password_fingerprint(password.get_secret_value()) if password else "")
    # Sessions of an older password (or of none) can never be valid again.
    await sessions.purge()
    users.on_sign_out.append(sessions.forget_user)
    tokens = TokenService(db)
    # Replicas share one count of wrong secrets (PostgreSQL); one process counts in memory.
    failures: FailureLedger = (
        FailureCounter(settings.auth_failures_per_minute, settings.auth_failures_global_per_minute)
        if db.is_sqlite
        else SharedFailureCounter(
            db,
            settings.auth_failures_per_minute,
            settings.auth_failures_global_per_minute,
            key=hmac.new(signing_key, b"wrong-secret marks", hashlib.sha256).digest(),
        )
    )
    auth = AuthService(password, sessions, failures, users, tokens)
    return Services(
        settings=settings,
        db=db,
        store=store,
        images=images,
        catalog=catalog,
        events=events,
        upstream=upstream,
        limits=limits,
        tasks=tasks,
        collections=collections,
        prompt_history=PromptHistoryService(db),
        templates=PromptTemplateService(db),
        reference_sets=ReferenceSetService(db, store, catalog),
        usage=usage,
        auth=auth,
        users=users,
        tokens=tokens,
        image_access=ImageAccess(db, signing_key, ttl=settings.signed_url_seconds),
        health=HealthService(settings, db, store, auth_required=auth.required),
        housekeeping=housekeeping,
        # Replicas share one count (PostgreSQL); one process counts in memory.
        generation_limiter=LocalWindow(SlidingWindow(settings.generation_rate_limit_per_minute, 60.0))
        if db.is_sqlite
        else SharedWindow(db, "generate", settings.generation_rate_limit_per_minute, 60.0),
        worker=worker,
        runner=runner,
        webhooks=WebhookService(db, settings, upstream.session, tasks, events),
        edits=EditService(tasks),
        lineage=LineageService(db, store),
        relay=relay,
        layers=LayersService(db, store),
    )


async def close_services(services: Services) -> None:
    await services.housekeeping.stop()
    if services.started:
        await services.webhooks.stop()
        await services.worker.stop()
    await services.runner.aclose()
    # After the worker and runner: their last stores must finish in the pool first.
    await services.images.aclose()
    if services.relay is not None:
        await services.relay.stop()
    services.health.close()
    services.store.close()  # drops idle connections: nothing to wait for
    await services.upstream.aclose()
    await services.db.dispose()


def _report_price_gaps(prices: PriceTable, catalog: Catalog) -> None:
    """A model added by MODELS_FILE (or ARK_EXTRA_MODELS) without a price still works, counted at
    the default price and shown as unconfirmed; say so once at start-up, where the operator looks."""
    missing, mismatched = prices.gaps({spec.id: spec.price_unit for spec in catalog.all() if not spec.extra})
    if missing:
        logger.warning("prices.missing", extra={"models": missing, "hint": "priced at the default; add them to PRICES_FILE"})
    if mismatched:
        logger.warning("prices.unit_mismatch", extra={"models": mismatched,
                                                      "hint": "prices.toml bills another unit than models.toml says"})
