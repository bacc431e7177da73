"""`python -m app.worker`: run the job worker alone (scale-out: API replicas with RUN_WORKER=false)."""

from __future__ import annotations

import asyncio
import signal

from app.core.config import Settings
from app.core.logging import configure_logging
from app.services.container import build_services, close_services


async def run() -> None:
    settings = Settings()
    configure_logging(settings.log_level, settings.secret_values())
    services = await build_services(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    services.housekeeping.start()
    await services.start_worker()
    try:
        await stop.wait()
    finally:
        await close_services(services)


if __name__ == "__main__":
    asyncio.run(run())
