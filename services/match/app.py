"""Match service main: loads profiles and indexes, consumes posts.classified, serves MatchService."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from intentflow import topology
from intentflow.embedding import load_embedder
from intentflow.kafka_io import StreamStage
from intentflow.nlp.linguistics import Linguistics
from intentflow.runtime import ServiceRuntime
from intentflow.service import serve, start_runtime
from intentflow.settings import MatchSettings, from_env
from intentflow.v1 import match_pb2, match_pb2_grpc
from services.match.application import MatchApplication
from services.match.engine import MatchEngine
from services.match.matching.catalog import load_catalog
from services.match.servicer import ROLES, MatchServicer
from services.match.store import open_store
from services.match.subscriptions import SubscriptionHub

SERVICE = topology.MATCH
PRUNE_EVERY_S = 3600
SAVE_EVERY_S = 300
UPGRADE_CHECK_EVERY_S = 60
# How stale another match process's profile edits and job posts may be here (one or two queries when idle).
CATCH_UP_EVERY_S = 5
# gRPC threads kept for unary calls and health beyond the MATCH_MAX_STREAMS Subscribe streams (each stream
# holds a thread for its whole life, and streams beyond the cap are refused), so streams never starve them.
UNARY_WORKERS = 16
FULL_NAME = match_pb2.DESCRIPTOR.services_by_name["MatchService"].full_name
log = logging.getLogger(__name__)


def housekeeping(app: MatchApplication, running: threading.Event) -> threading.Thread:
    """Purge posts past retention, checkpoint the candidate index and catch up with the shared store now and then."""
    def loop() -> None:
        ticks = 0
        while running.is_set():
            time.sleep(1)
            ticks += 1
            if ticks % CATCH_UP_EVERY_S == 0:
                guarded("catching up with the store", app.catch_up)
            if ticks % UPGRADE_CHECK_EVERY_S == 0:
                app.candidates.maybe_upgrade()
                guarded("dropping posts removed elsewhere from the candidate index", app.candidates.reconcile)
            if ticks % SAVE_EVERY_S == 0:
                app.candidates.save()
            if ticks % PRUNE_EVERY_S == 0:
                guarded("purging posts past retention", app.prune)
    thread = threading.Thread(target=loop, name="match-housekeeping", daemon=True)
    thread.start()
    return thread


def guarded(what: str, step: Callable[[], object]) -> None:
    try:
        step()
    except Exception:  # the store away for a moment must not end housekeeping; the next tick retries
        log.warning(f"{what} failed", exc_info=True)


def grpc_workers(settings: MatchSettings) -> int:
    """Threads of the gRPC server: one per Subscribe stream allowed, plus UNARY_WORKERS for the rest."""
    return settings.max_streams + UNARY_WORKERS


def add_match_service(runtime: ServiceRuntime, settings: MatchSettings) -> MatchServicer:
    """Register MatchService with its roles table and stream cap; its `app` is set once loaded."""
    servicer = MatchServicer(runtime.running, settings.max_streams)
    runtime.add_service(FULL_NAME, lambda server: match_pb2_grpc.add_MatchServiceServicer_to_server(servicer, server),
                        roles=ROLES)
    return servicer


def main() -> None:
    settings = from_env(MatchSettings)
    runtime = start_runtime(SERVICE, settings.server, settings.grpc_port, settings.metrics_port,
                            max_workers=grpc_workers(settings))
    servicer = add_match_service(runtime, settings)
    state: dict = {}

    def load() -> StreamStage:
        store = open_store(settings.database_url)
        embedder = load_embedder(settings.model.embedder, settings.model.encoder_threads)
        app = MatchApplication(settings, store, embedder, Linguistics(), SubscriptionHub())
        if settings.profiles_file:
            app.import_catalog(load_catalog(settings.profiles_file))
        app.load()
        state["app"] = servicer.app = app
        housekeeping(app, runtime.running)
        engine = MatchEngine(app)
        return StreamStage(SERVICE, settings.kafka, settings.group_id, settings.kafka.topic_classified,
                           engine.process, runtime.running, engine.dead_letter)

    def on_stop() -> None:
        app = state.get("app")
        if app:
            app.close()

    serve(runtime, settings.kafka, load, on_stop=on_stop)
