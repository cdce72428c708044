"""The composition root: open every resource with `async with`, build the ledger's facades,
the runner and the bot once, and wire what each part needs; `python -m bot`'s wiring.

The end-to-end tests build the bot through `build_bot` too, so they run what production runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from decimal import Decimal
from functools import partial
from typing import Any

import aiohttp

from bot.config import Settings
from bot.core.catalogue import load_models
from bot.core.prices import to_micros
from bot.discord.client import ImageBot, ShardedImageBot
from bot.discord.identity import LoginProblem
from bot.discord.interrupted import answer_interrupted
from bot.discord.login import log_in, stay_connected
from bot.discord.redelivery import redeliver_all
from bot.discord.reporter import InteractionReporter
from bot.discord.shards import ShardPlan
from bot.discord.takeover import clear_gone_spools, keep_lease
from bot.images.intake import IntakeLimits
from bot.images.memory import keep_freed_memory
from bot.images.store import ResultStore
from bot.jobs.gateway import follow_gateway, read_listing
from bot.jobs.job import JobEvents
from bot.jobs.recovery import recover, sweep_interactions, sweep_results
from bot.jobs.runner import Runner
from bot.jobs.spool import InputSpool, process_folder
from bot.ledger.admin import LedgerAdmin
from bot.ledger.database import DatabaseError
from bot.ledger.facade import Ledger, OperatorCaps
from bot.ledger.fleet import PostgresLocks, open_fleet
from bot.ledger.leases import Leases
from bot.ledger.moderation import LedgerModeration
from bot.ledger.opener import open_store
from bot.ledger.queue_sql import CHANNEL, QueueTable
from bot.wisgate.client import WisGateClient
from bot.wisgate.decoder import decoder_thread
from bot.wisgate.pacer import Pacer

log = logging.getLogger(__name__)

# Connections open at once toward Discord's REST API. discord.py's default has no limit, so a
# burst of 500 commands opened 500 sockets in one turn of the event loop: stalls of 90-120 ms
# (bench/burst.py). With 32, the rest reuse kept-alive connections: 38-67 ms, and the defers
# were no slower (p99 272-387 ms vs 325-1,090 ms unlimited, same bench). At Discord's ~100 ms
# round trips, 32 connections still acknowledge ~300 interactions a second.
DISCORD_CONNECTIONS = 32
# An image answer is 2-10 MB of JSON. aiohttp's 64 KiB read buffer pauses the socket every
# 128 KiB until the reader catches up, so one answer took ~40 turns of a busy event loop;
# with 2 MiB it arrives in ~256 KiB reads (asyncio's own chunk) without pausing.
WISGATE_READ_BUFFER = 2 * 1024 * 1024
# Declared bytes of members' files being downloaded and checked at once (bot/images/intake.py):
# with at most two decodes of at most 25 Mpx (100 MB each), intake stays within ~330 MB.
INTAKE_BYTES = 128 * 1024 * 1024


class StartFailed(Exception):
    """The bot could not start; the message is one paragraph saying what to do."""


@asynccontextmanager
async def build_bot(
    settings: Settings,
    *,
    sync_globally: bool = False,
    wisgate_options: Mapping[str, Any] | None = None,
    **bot_options: Any,
) -> AsyncIterator[ImageBot]:
    """Yield an ImageBot wired to its session, database, ledger and runner; close all after.

    With sync_globally (`python -m bot sync`, which may run beside a live bot) the bot gets
    no start-up step (no recovery, re-delivery, notices or sweeps) and a scratch SQLite
    database in memory: registering commands reads no ledger, and must not migrate a live
    bot's database. The ledger is on PostgreSQL when DATABASE_URL is set, else SQLite.
    """
    catalogue, prices = load_models(
        settings.models_file, settings.enabled_models, settings.default_model, settings.prices_file
    )
    database = ":memory:" if sync_globally else settings.database_path
    url = None if sync_globally else settings.postgres_url
    async with (
        aiohttp.ClientSession(read_bufsize=WISGATE_READ_BUFFER) as session,
        open_store(database, url) as store,
        open_fleet(url) as locks,
        decoder_thread() as decoder,
        intake_limits(INTAKE_BYTES) as intake,
        result_store(settings) as results,
    ):
        # One pacer for the key's rate limit, shared by every job (bot/wisgate/pacer.py).
        pacer = Pacer(settings.max_concurrent_jobs)
        wisgate = WisGateClient.from_settings(
            session, settings, decoder=decoder, pacer=pacer, **(wisgate_options or {})
        )
        ledger = Ledger(
            store,
            default_daily_images=settings.daily_image_limit,
            prices=prices,
            caps=operator_caps(settings),
            leased=locks.shared,
        )
        # Several processes on one PostgreSQL database share the fair queue and hold leases
        # (README "Running more than one process"); alone on SQLite, neither is needed.
        shared = isinstance(locks, PostgresLocks)
        table = QueueTable(store, ledger.owner) if shared else None
        leases = Leases(store, locks, ledger.owner) if isinstance(locks, PostgresLocks) else None
        # Processes on one machine may share DATABASE_PATH's folder: each spools in its own.
        spool_root = settings.database_path.parent / "spool"
        spool = InputSpool(
            spool_root if leases is None else process_folder(spool_root, ledger.owner),
            settings.input_memory_mb * 1024 * 1024,
        )

        def make_runner(events: JobEvents) -> Runner:
            return Runner(
                wisgate=wisgate,
                ledger=ledger,
                results=results,
                spool=spool,
                catalogue=catalogue,
                events=events,
                max_concurrent=settings.max_concurrent_jobs,
                max_per_member=settings.max_jobs_per_member,
                max_per_guild=settings.max_jobs_per_guild,
                max_queue_wait=settings.max_queue_wait,
                shared_queue=table,
            )

        bot_options.setdefault("connector", aiohttp.TCPConnector(limit=DISCORD_CONNECTIONS))
        shards = ShardPlan.of(settings.shard_count, settings.shard_ids)
        bot_class: type[ImageBot] = ImageBot if shards is None else ShardedImageBot
        bot = bot_class(
            settings=settings,
            session=session,
            catalogue=catalogue,
            wisgate=wisgate,
            ledger=ledger,
            admin=LedgerAdmin(ledger),
            moderation=LedgerModeration(ledger),
            results=results,
            intake=intake,
            make_runner=make_runner,
            reporter_for=partial(InteractionReporter, rate_limited=lambda: pacer.paused() > 0),
            start_up=None if sync_globally else partial(start_up, spool=spool, leases=leases),
            sync_globally=sync_globally,
            shards=shards,
            locks=locks,
            **bot_options,
        )
        if table is not None:
            await locks.listen(CHANNEL, bot.runner.queue_news)
        async with bot:
            yield bot


async def start_up(bot: ImageBot, *, spool: InputSpool, leases: Leases | None = None) -> None:
    """Before taking any job: read which models WisGate serves (and again every few hours);
    charge what a process that is gone had made and kept, refund the rest; tell the members
    of refunds nobody told, on their interactions while the tokens live, else (once connected)
    by a notice; deliver what was charged but not delivered; sweep the results store hourly,
    and the interaction tokens past their life now and every few minutes.

    Runs once logged in (a refused token changes nothing), never for `sync` or `check`."""
    # Alone: the input files of a process that is gone (its jobs are ended below). With leases:
    # this process's own folder only; the others' go once their leases are taken (takeover.py).
    spool.clear()
    bot.catalogue.update_listing(await read_listing(bot.wisgate))
    bot.in_background(follow_gateway(bot.wisgate, bot.catalogue), "model-listing")
    taken = None
    if leases is not None:  # PostgreSQL: only the jobs of processes whose lease ran out
        await leases.register()
        taken = await leases.reclaim()
        await clear_gone_spools(spool, leases)
        bot.in_background(keep_lease(bot, leases, spool=spool), "lease")
    recovered = await recover(bot.ledger, bot.results, taken)
    if recovered.to_deliver:
        bot.in_background(redeliver_all(bot, recovered.to_deliver), "re-delivery")
    bot.in_background(sweep_results(bot.ledger, bot.results), "results-sweep")
    await bot.ledger.forget_interactions()  # past their life: never to be sent to Discord
    bot.in_background(sweep_interactions(bot.ledger), "interaction-sweep")
    owed = await bot.ledger.owed_notices()
    if taken is not None:  # the others' owed notices are theirs to send (or a survivor's)
        owed = [record for record in owed if record.id in set(taken)]
    if owed:
        bot.notices.start_restart_notices(owed, lambda records: answer_interrupted(bot, records))


@asynccontextmanager
async def result_store(settings: Settings) -> AsyncIterator[ResultStore]:
    """The results store of RESULTS_DIR, its thread stopped on exit."""
    store = ResultStore(
        settings.results_path,
        keep_days=settings.results_keep_days,
        max_bytes=settings.results_max_mb * 1024 * 1024,
    )
    try:
        yield store
    finally:
        store.close()


@asynccontextmanager
async def intake_limits(max_bytes: int) -> AsyncIterator[IntakeLimits]:
    """The bounds on members' uploads, with their decode pool stopped on exit."""
    limits = IntakeLimits(max_bytes=max_bytes)
    try:
        yield limits
    finally:
        limits.close()


def operator_caps(settings: Settings) -> OperatorCaps:
    """The operator's ceiling from the settings, in the ledger's micro-dollars."""

    def micros(amount: Decimal | None) -> int | None:
        return None if amount is None else to_micros(amount)

    return OperatorCaps(
        daily_micros=micros(settings.operator_daily_usd),
        monthly_micros=micros(settings.operator_monthly_usd),
        account_daily_micros=micros(settings.account_daily_usd),
        personal_monthly_micros=micros(settings.personal_monthly_usd),
        max_daily_images=settings.max_daily_images,
    )


def stop_on_sigterm() -> None:
    """SIGTERM (`docker stop`, systemd) stops the bot as Ctrl+C does: queued jobs are refunded
    and their members told, jobs WisGate is making get 30 s to finish (their images are paid
    for upstream), instead of all being left to the next start."""
    main = asyncio.current_task()
    if main is None:
        return
    with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows' loop
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)


async def run_bot(settings: Settings, *, sync_globally: bool = False) -> None:
    """Run until stopped; with sync_globally, register the commands everywhere and exit.

    Raises StartFailed when the token, Discord or the database keeps the bot from starting."""
    token = settings.discord_token.get_secret_value()
    keep_freed_memory()
    stop_on_sigterm()
    try:
        async with build_bot(settings, sync_globally=sync_globally, freeze_on_ready=True) as bot:
            # setup_hook runs within the login: the start-up step, the syncs.
            await log_in(bot, token, settings.discord_api_url)
            if not sync_globally:
                await stay_connected(bot)
    except LoginProblem as problem:
        raise StartFailed(str(problem)) from None
    except DatabaseError as error:
        where = (
            "DATABASE_URL is set"
            if settings.database_url is not None
            else f"DATABASE_PATH is {settings.database_path}"
        )
        raise StartFailed(
            f"The bot did not start: its database cannot be used. {error} ({where}; "
            "`python -m bot check` checks it.)"
        ) from None
