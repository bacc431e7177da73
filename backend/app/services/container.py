"""Everything the app builds once at start-up and closes at shutdown (no module-level state)."""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp

from app.core.config import Settings
from app.core.db import Database
from app.jobs.events import TaskEvents
from app.jobs.worker import Worker
from app.providers.catalog import Catalog
from app.providers.registry import ProviderRegistry
from app.services.auth import AuthService, SlidingWindow
from app.services.tasks import TaskService
from app.storage.files import ImageStore


@dataclass(slots=True)
class Services:
    settings: Settings
    db: Database
    store: ImageStore
    catalog: Catalog
    events: TaskEvents
    session: aiohttp.ClientSession
    registry: ProviderRegistry
    tasks: TaskService
    auth: AuthService
    generation_limiter: SlidingWindow
    worker: Worker | None = None
    started: bool = field(default=False)
