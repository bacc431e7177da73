"""Assembles the app: settings → services (lifespan, built by ``app.services.container``) →
middleware → routers. ``app`` at the bottom is what uvicorn serves."""

from __future__ import annotations

import gc

# Importing the app makes ~150 pydantic models, ~100 routes and the SQL tables: hundreds of
# thousands of objects that live until exit, which the cyclic collector would walk again and
# again while they are made (~0.13 s of CPU, a sixth of the import). It is switched back on below
# with them frozen, so later collections skip them too.
gc.disable()

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from app import __version__
from app.api.access import AccessControl, ForwardedClient
from app.api.errors import install_error_handlers
from app.api.routes import (
    auth,
    collections,
    edit,
    events,
    generate,
    health,
    history,
    images,
    layers,
    limits,
    models,
    openai,
    prompts,
    reference_sets,
    tasks,
    tokens,
    uploads,
    usage,
    users,
    webhooks,
)
from app.core.config import Settings
from app.core.logging import configure_logging
from app.core.shutdown import on_stop_signal
from app.services.container import build_services, close_services

logger = logging.getLogger("app")


def _operation_id(route: APIRoute) -> str:
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}"


def create_app(settings: Settings | None = None, *, start_worker: bool | None = None) -> FastAPI:
    settings = settings or Settings()
    run_worker = settings.run_worker if start_worker is None else start_worker

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level, settings.secret_values())
        services = await build_services(settings)
        app.state.services = services
        services.housekeeping.start()
        if run_worker:
            await services.start_worker()
        if (settings.ark_configured or settings.visual_configured) and settings.app_password is None:
            logger.warning(
                "security.no_password",
                extra={"detail": "Credentials are configured but ADMIN_PASSWORD (APP_PASSWORD) is not set: anyone who can reach the port can spend the account's credit."},
            )
        logger.info("app.started", extra={"version": __version__, "worker": run_worker})
        restore_signals = on_stop_signal(services.events.close)
        try:
            yield
        finally:
            restore_signals()
            await close_services(services)

    app = FastAPI(
        title="Volcengine Image Studio API",
        version=__version__,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        description="Text-to-image, image-to-image and group generation with Volcengine models, "
        "durable jobs, stored images and history.",
    )
    install_error_handlers(app)

    # Outermost last: ForwardedClient names the client, CORS answers preflights, then AccessControl.
    app.add_middleware(AccessControl, settings=settings)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
        )
    app.add_middleware(ForwardedClient, trusted=settings.trusted_proxy_networks)

    for router in (
        health.router, models.router, generate.router, edit.router, tasks.router, events.router, history.router, uploads.router,
        usage.router, auth.router, webhooks.router, collections.router, prompts.router, reference_sets.router, limits.router,
        users.router, tokens.router, openai.router, layers.router,
    ):
        app.include_router(router)
    if settings.serve_images:
        app.include_router(images.router)
    else:
        app.add_api_route("/api/v1/images/inspect", images.inspect_image, methods=["POST"], tags=["images"])
        app.add_api_route(
            "/images/{rel_path:path}", images.serve_thumbnail, methods=["GET"], include_in_schema=False
        )
    _document_extra_models(app)
    return app


def _document_extra_models(app: FastAPI) -> None:
    """Add body models that routes reference only through ``openapi_extra`` (JSON-or-multipart
    bodies parsed by hand) so the schema has no dangling ``$ref`` and the TS client gets them."""
    from fastapi.openapi.utils import get_openapi

    from app.schemas.generation import Image2ImageIn

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            extra = Image2ImageIn.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, definition in extra.pop("$defs", {}).items():
                components.setdefault(name, definition)
            components.setdefault("Image2ImageIn", extra)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


app = create_app()
# No collection first: the import leaves ~850 objects of cyclic garbage (~0.1 MB), frozen with the
# rest, where a full collection of ~190,000 objects costs ~0.1 s of start-up.
gc.freeze()
gc.enable()
