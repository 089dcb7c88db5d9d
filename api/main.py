"""Builds the HTTP service: one router per resource over one Studio, built in the lifespan.

Run it with `voicekit serve`; `/docs` shows the OpenAPI UI, `/ui` the web interface.
"""
from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

from fastapi import FastAPI

from api import problems
from api.deps import Service
from api.jobs import ThreadDispatch
from api.limits import BodyLimit
from api.routers import audiobooks, audit, health, keys, profiles, singing, songs, speech, ui, voices
from api.settings import ServiceSettings
from api.workers import CeleryDispatch, broker_url

DESCRIPTION = """Voice synthesis behind a consent registry. Every response that carries audio was
watermarked and passed a detector gate; its mark id and signed provenance are in the headers.
Authenticate with `Authorization: Bearer <key>` (keys from `voicekit api-keys create`).
Refusals are `application/problem+json` with a `type` of `urn:voicekit:problem:<reason>`."""


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or ServiceSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = Service.open(settings)
        app.state.service = svc
        if broker := broker_url():
            stores = {"audiobook": svc.narrations, "audit": svc.audits, "song": svc.songs}
            app.state.jobs = CeleryDispatch(broker, stores, svc.studio.clock)
        else:
            app.state.jobs = ThreadDispatch(svc)
        app.state.jobs.start()
        yield
        app.state.jobs.stop()

    app = FastAPI(title="voicekit", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    problems.install(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, timeout_s=settings.body_timeout_s)
    for module in (health, voices, profiles, speech, singing, songs, audiobooks, audit, keys, ui):
        app.include_router(module.router)
    ui.install(app)
    return app
