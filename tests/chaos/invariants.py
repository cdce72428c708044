"""What must hold after a chaos run, read from the bot's database and the fakes' records.

Every planned interaction ends one of three ways:
* a job row (its prompt carries the plan's tag) in a final state, never queued or running:
  - `succeeded`: WisGate's images were charged exactly once (images_charged >= 1, cost > 0,
    holds released), and they were delivered (Discord accepted exactly `images_charged`
    files named `<kind>-<job>-<k>`, delivery 'delivered') or wait in the results store for
    the member (delivery 'waiting', the store holding them); never left 'pending', even when
    a SIGKILL cut the delivery off (the next start delivers it, counted as re-delivered);
    `images_sent` equals the files Discord accepted for it;
  - refunded (`failed`, `cancelled`, `expired`, `interrupted`): nothing charged, no hold
    left, no file accepted for it (no free images, ever: images are charged before any
    upload), and the member told: when recovery refunded it, by the next process on the
    interaction itself while its token lived (a private message saying nothing was charged),
    else by its restart notice (a channel message mentioning them or a DM, whose "your N ...
    requests" add up per member to the jobs that process refunded and did not answer so),
    otherwise a private message on the interaction or a DM saying nothing was charged; one
    exception, a SIGKILL landing inside a refund, which the runner's one-line end-of-job log
    (bot/jobs/runner.py `_log_end`) shows:
    killed after the ledger refunded it and before the member was told (Runner._refund
    commits the refund with a notice owed, then reports, then clears it), the next start's
    restart notice must tell them, so it counts among what that notice announces (at least
    the jobs nobody told, at most every refunded job whose end line is missing);
* no job row and a private refusal the member alone sees (their daily limit or the server's
  budget), with no WisGate call;
* no job row, no answer, no WisGate call: only for an interaction injected within
  LOST_WINDOW seconds before a harsh kill (the bot died before holding anything: before or
  after the defer, or while sending a refusal), nothing charged.
And over the whole ledger: per member and day, charged images equal the sum over their
succeeded jobs and stay within their limit plus grants; per guild and month, charged cost
equals the sum over jobs and stays within the budget; no holds remain; the files Discord
accepted are exactly those of charged jobs. Also: no Discord schema violation, no
secret in any request, row or log line, no unexpected error logged, a clean final exit, and
every kill the plan asks for made with jobs in flight. Across processes
(tests/chaos/fleet_checks.py): WisGate never saw more calls at once than the caps allow, and
a process killed for good had its jobs ended by a survivor within a few leases.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bot.ledger.jobs import RECOVERED_REASON
from bot.ledger.models import OPEN_STATUSES
from tests.chaos.driver import refusal_of
from tests.chaos.fleet_checks import check_caps, check_owner_cap, check_takeovers
from tests.chaos.plan import GRANTS
from tests.chaos.records import Injected, Run, db_rows, prompt_of, tag_index
from tests.fakes.discord.model import RecordedRequest
from tests.secrets_guard import find_secrets

LOST_WINDOW = 3.0  # Discord's callback window: older interactions were admitted or refused
RECOVERED = RECOVERED_REASON
FILE = re.compile(r"^(imagine|edit)-(\d+)-(\d+)\.(png|jpg|webp)$")
NOTICE = re.compile(r"The bot restarted before your (?:(\d+) image requests|\S+ request) ")
JOB_COLUMNS = (
    "id, user_id, guild_id, status, images_asked, images_held, images_charged, "
    "cost_held_micros, cost_charged_micros, cost_actual_micros, error, owner, day, month, "
    "params, kind, delivery, images_sent, failure"
)


@dataclass
class Job:
    """One row of the jobs table."""

    id: int
    user_id: int
    scope: int
    status: str
    asked: int
    held: int
    images: int  # charged
    cost_held: int
    charged: int
    actual: int
    error: str | None
    owner: str
    day: str
    month: str
    params: dict[str, Any]
    kind: str
    delivery: str | None
    sent: int
    failure: str | None  # the error's class, for refunded jobs

    @property
    def pid(self) -> int:
        """The process that held it (Ledger owner names are host:pid:random; when a survivor
        took it from a killed process, check() puts the killed one's name back)."""
        return int(self.owner.split(":")[-2])


@dataclass
class Report:
    """Violations (empty when all holds) and tallies for the summary line."""

    violations: list[str] = field(default_factory=list)
    tally: Counter[str] = field(default_factory=Counter)

    def fail(self, text: str) -> None:
        """Record one violation."""
        self.violations.append(text)

    def summary(self) -> str:
        """One line of counts."""
        return ", ".join(f"{key} {value}" for key, value in sorted(self.tally.items()))


@dataclass
class NoticesOwed:
    """Per member, refunds the runner made in a process killed before it logged the job's
    end: those nobody told (a later start's notice must count them) and all of them (it
    may count them: the kill may have come after telling, before the mark was cleared)."""

    untold: Counter[int] = field(default_factory=Counter)
    maybe: Counter[int] = field(default_factory=Counter)
    # Jobs recovery refunded whose member the next start told on the interaction itself.
    answered: set[int] = field(default_factory=set)


def check(run: Run) -> Report:
    """Every check in the module docstring."""
    report = Report()
    jobs = [Job(*row[:14], orjson.loads(row[14]), *row[15:]) for row in _rows(run)]
    for job in jobs:  # a survivor took these from a killed process: judge them as its own
        job.owner = run.taken.get(job.id, job.owner)
    by_index = _index_jobs(run, jobs, report)
    files = _accepted_files(run.discord.requests)
    owed = NoticesOwed()
    _check_jobs(run, by_index, files, owed, report)
    _check_notices(run, jobs, owed, report)
    _check_without_jobs(run, by_index, report)
    _check_ledger(run, jobs, files, report)
    _check_process(run, report)
    for failures, tally in (check_caps(run), check_owner_cap(run), check_takeovers(run)):
        report.violations.extend(failures)
        report.tally.update(tally)
    report.tally["429s from the window"] = run.wisgate.rate_limited
    report.tally["windows filled"] = run.wisgate.windows_filled
    return report


def _rows(run: Run) -> list[tuple[Any, ...]]:
    return db_rows(run.database, f"SELECT {JOB_COLUMNS} FROM jobs ORDER BY id")


def _index_jobs(run: Run, jobs: list[Job], report: Report) -> dict[int, Job]:
    """Job rows by planned index; each row must be one planned job of the right member."""
    members = {user.id: number for number, user in enumerate(run.members)}
    by_index: dict[int, Job] = {}
    for job in jobs:
        index = tag_index(str(job.params.get("prompt", "")))
        if index is None or index in by_index or index >= len(run.plan.jobs):
            report.fail(f"job {job.id}: no planned job, or a second row for one ({index})")
            continue
        by_index[index] = job
        planned = run.plan.jobs[index]
        scope = 0 if planned.in_dm else run.guild_of(planned.member).id
        if members.get(job.user_id) != planned.member or job.scope != scope:
            report.fail(f"job {job.id}: member {job.user_id} scope {job.scope} not as planned")
    return by_index


def _accepted_files(requests: list[RecordedRequest]) -> dict[int, dict[int, RecordedRequest]]:
    """Job id -> image number -> the request whose upload Discord accepted."""
    found: dict[int, dict[int, RecordedRequest]] = defaultdict(dict)
    for request in requests:
        if not request.files or not 200 <= request.status < 300:
            continue
        for upload in request.files:
            match = FILE.match(upload.filename)
            if match:
                found[int(match[2])].setdefault(int(match[3]), request)
    return found


def _check_jobs(
    run: Run,
    by_index: dict[int, Job],
    files: dict[int, dict[int, RecordedRequest]],
    owed: NoticesOwed,
    report: Report,
) -> None:
    """Each job's end against what Discord holds."""
    injected = {item.job.index: item for item in run.injected}
    # pid of a killed process -> the fake's requests before its kill: all of its own.
    killed_by = {e.pid: e.killed_request for e in run.epochs if e.killed_request is not None}
    ended = _ended_in_log(run.log)
    dms = _dm_refund_counts(run)
    dm_needed: dict[int, list[int]] = defaultdict(list)  # member -> refunded job ids
    cut_off: Counter[int] = Counter()  # member -> refunds nobody told before a kill
    for index, job in sorted(by_index.items()):
        item = injected[index]
        sent = files.get(job.id, {})
        report.tally[job.status] += 1
        _check_routes(run, item, job, sent, report)
        if job.status in OPEN_STATUSES:
            report.fail(f"job {job.id} left {job.status}")
            continue
        if job.held or job.cost_held:
            report.fail(f"job {job.id} ({job.status}) still holds {job.held} images")
            continue
        if job.failure == "RateLimited":
            report.fail(f"job {job.id} failed on a 429: rate limits make jobs wait, never fail")
        if job.status == "succeeded":
            _check_charged(run, job, sent, killed_by.get(job.pid), report)
            continue
        if job.images or job.charged:
            report.fail(f"job {job.id} {job.status} yet charged {job.images} images")
            continue
        cut_short = job.pid in killed_by and job.id not in ended  # killed before its end line
        if sent:
            report.fail(f"job {job.id} {job.status} ({job.error}) but {len(sent)} delivered free")
        elif job.error == RECOVERED:
            if _told_on(run, item):
                owed.answered.add(job.id)  # the next start answered it, with its token
            continue  # else told by the restart notice: _check_notices counts those
        elif cut_short:
            # Refunded with a notice owed, then killed: before telling (the next start's
            # notice must count it) or after, before clearing the mark (it may).
            owed.maybe[job.user_id] += 1
            if not _told_on(run, item):
                cut_off[job.user_id] += 1
        elif not _told_on(run, item):
            dm_needed[job.user_id].append(job.id)
    for user_id in dm_needed.keys() | cut_off.keys():
        needed = dm_needed[user_id]
        report.tally["refunds told by DM"] += len(needed)
        if dms[user_id] < len(needed):
            report.fail(
                f"{_who(run, user_id)}: jobs {needed} refunded, not told on their "
                f"interactions, and {dms[user_id]} DMs say nothing was charged"
            )
        spare = max(0, dms[user_id] - len(needed))  # DMs the cut-off ones may have got
        owed.untold[user_id] = max(0, cut_off[user_id] - spare)
        report.tally["cut off between refund and telling"] += cut_off[user_id]


def _check_charged(
    run: Run,
    job: Job,
    sent: dict[int, RecordedRequest],
    killed: int | None,
    report: Report,
) -> None:
    """A charged job: its images delivered, or kept in the store for the member."""
    if not (job.images >= 1 and 0 < job.charged <= job.actual):
        report.fail(f"job {job.id}: succeeded with {job.images} images for ${job.charged}e-6")
    if len(sent) != job.sent:
        report.fail(f"job {job.id}: {job.sent} images recorded sent, Discord accepted {len(sent)}")
    if job.delivery == "delivered":
        if len(sent) != job.images:
            report.fail(f"job {job.id}: delivered, but {len(sent)} of {job.images} arrived")
        if killed is not None and any(request.index >= killed for request in sent.values()):
            report.tally["re-delivered by the next start"] += 1
    elif job.delivery == "waiting":
        report.tally["charged, waiting in the store"] += 1
        if not (run.results / str(job.id) / "manifest.json").exists():
            report.fail(f"job {job.id}: waiting for its member, but not in the results store")
    else:
        report.fail(f"job {job.id}: charged, delivery left {job.delivery}")


def _check_routes(
    run: Run, item: Injected, job: Job, sent: dict[int, RecordedRequest], report: Report
) -> None:
    """Files went to this job's own interaction, or by a fallback; private ones never public."""
    channels = {channel.id for guild in run.guilds for channel in guild.channels}
    for request in sent.values():
        if request.interaction_id not in (None, item.handle.id):
            report.fail(f"job {job.id}: its files went to interaction {request.interaction_id}")
        public = request.path.startswith("/channels/") and _channel_of(request) in channels
        if public and job.params.get("private"):
            report.fail(f"job {job.id} is private but its images were posted in the channel")


def was_told(run: Run, item: Injected) -> bool:
    """Whether the member heard that nothing was charged: on the interaction, by DM, or by a
    restart notice (for scenarios of one job; the chaos run counts per member instead)."""
    user_id = item.handle.user.id
    dms = _dm_channels(run)
    for _, channel, content in _sent_messages(run):
        notice = NOTICE.search(content) and content.startswith(f"<@{user_id}>")
        if notice or (dms.get(channel) == user_id and "charged" in content):
            return True
    return _told_on(run, item)


def _ended_in_log(path: Path) -> set[int]:
    """Jobs whose runner logged its end line: `job <id> <outcome>: member <id> guild ...`."""
    end = re.compile(r" bot\.jobs\.runner: job (\d+) [^:]+: member \d+ guild ")
    return {int(found[1]) for line in _log_lines(path) if (found := end.search(line))}


def _told_on(run: Run, item: Injected) -> bool:
    """The member alone sees, on the interaction itself, that nothing was charged."""
    text = refusal_of(run.discord, item.handle)
    return text is not None and "charged" in text


def _channel_of(request: RecordedRequest) -> int:
    return int(request.path.split("/")[2])


def _sent_messages(run: Run) -> list[tuple[RecordedRequest, int, str]]:
    """Accepted channel and DM messages: (request, channel id, content)."""
    found = []
    for request in run.discord.requests:
        if request.method != "POST" or not 200 <= request.status < 300:
            continue
        if re.fullmatch(r"/channels/\d+/messages", request.path):
            content = str((request.json or {}).get("content") or "")
            found.append((request, _channel_of(request), content))
    return found


def _dm_channels(run: Run) -> dict[int, int]:
    """DM channel id -> member's user id."""
    return {run.discord.state.dm_channel(user).id: user.id for user in run.members}


def _dm_refund_counts(run: Run) -> Counter[int]:
    """Per member: DMs saying nothing was charged (failure reports, not restart notices)."""
    dms = _dm_channels(run)
    counts: Counter[int] = Counter()
    for _, channel, content in _sent_messages(run):
        if channel in dms and "charged" in content and not NOTICE.search(content):
            counts[dms[channel]] += 1
    return counts


def _check_notices(run: Run, jobs: list[Job], owed: NoticesOwed, report: Report) -> None:
    """Per member, the restart notices announce every job recovery refunded, every refund a
    kill kept from being told, and nothing beyond what a kill may have left marked."""
    epoch_of = {epoch.pid: number for number, epoch in enumerate(run.epochs)}
    recovered: Counter[int] = Counter()
    answered: Counter[int] = Counter()  # may be announced too: killed before marked told
    for job in jobs:
        if job.error == RECOVERED:
            epoch = epoch_of.get(job.pid)
            if epoch is None or run.epochs[epoch].killed_at is None:
                report.fail(f"job {job.id} recovered from a process that was not killed")
                continue
            if job.id in owed.answered:
                answered[job.user_id] += 1
                continue
            recovered[job.user_id] += 1
    report.tally["refunds told on the interaction after a restart"] = answered.total()
    dms = _dm_channels(run)
    told: Counter[int] = Counter()
    for _, channel, content in _sent_messages(run):
        notice = NOTICE.search(content)
        if notice is None:
            continue
        mention = re.match(r"<@(\d+)>", content)
        user_id = dms.get(channel) or (int(mention[1]) if mention else 0)
        told[user_id] += int(notice[1] or 1)
    report.tally["refunds told by restart notice"] = sum(told.values())
    for user_id in recovered.keys() | told.keys() | owed.untold.keys():
        least = recovered[user_id] + owed.untold[user_id]
        most = recovered[user_id] + owed.maybe[user_id] + answered[user_id]
        if not least <= told[user_id] <= most:
            report.fail(
                f"{_who(run, user_id)}: restart notices announced {told[user_id]} refunds; "
                f"recovery refunded {recovered[user_id]}, and {owed.untold[user_id]} to "
                f"{owed.maybe[user_id]} more were refunded by a process killed before it "
                "cleared their notice"
            )


def _check_without_jobs(run: Run, by_index: dict[int, Job], report: Report) -> None:
    """Interactions with no job row: refused privately, or lost in a harsh kill."""
    called = {tag_index(prompt_of(record)) for record in run.wisgate.requests}
    for item in run.injected:
        index, handle = item.job.index, item.handle
        if index in by_index:
            _check_acknowledged(run, item, report)
            continue
        if index in called:
            report.fail(f"job {index}: WisGate was called without a job row")
        text = refusal_of(run.discord, handle)
        epoch = run.epochs[item.epoch]
        if text is not None:
            _check_acknowledged(run, item, report)
            kind = (
                "budget" if "budget" in text
                else "owner's cap" if "its owner set" in text
                else "limit" if "today" in text
                else "other"
            )  # fmt: skip
            report.tally[f"refused ({kind})"] += 1
            if kind == "other":
                report.fail(f"job {index}: refused with {text[:200]!r}")
        elif (
            epoch.harsh
            and epoch.killed_at is not None
            and handle.created_at >= epoch.killed_at - LOST_WINDOW
        ):
            report.tally["cut off by a kill before any hold"] += 1
        else:
            report.fail(f"job {index}: never answered (acknowledged: {handle.acknowledged})")


def _check_acknowledged(run: Run, item: Injected, report: Report) -> None:
    """The first request for an answered interaction was its acknowledgement."""
    requests = run.discord.requests_for(item.handle)
    if not item.handle.acknowledged or not requests or "/callback" not in requests[0].path:
        report.fail(f"job {item.job.index}: not acknowledged first")


def _check_ledger(
    run: Run,
    jobs: list[Job],
    files: dict[int, dict[int, RecordedRequest]],
    report: Report,
) -> None:
    """Usage and spend tables against the jobs; limits, grants and the budget."""
    images: Counter[tuple[int, int, str]] = Counter()
    costs: Counter[tuple[int, int, str]] = Counter()
    spend: Counter[tuple[int, str]] = Counter()
    for job in jobs:
        images[(job.scope, job.user_id, job.day)] += job.images
        costs[(job.scope, job.user_id, job.day)] += job.charged
        spend[(job.scope, job.month)] += job.charged
    members = {user.id: number for number, user in enumerate(run.members)}
    usage = db_rows(
        run.database,
        "SELECT guild_id, user_id, day, images_charged, images_held, images_granted, "
        "images_forgiven, cost_charged_micros, cost_held_micros FROM member_usage",
    )
    for scope, user_id, day, charged, held, granted, forgiven, cost, cost_held in usage:
        key = (scope, user_id, day)
        if (charged, cost, held, cost_held) != (images[key], costs[key], 0, 0):
            report.fail(f"usage {key}: {charged} images ${cost}e-6 charged, {held} held; jobs say "
                        f"{images[key]} images ${costs[key]}e-6")  # fmt: skip
        member, who = members[user_id], _who(run, user_id)
        limit = run.plan.limit_of(member, in_dm=scope == 0)
        if charged - forgiven > limit + granted:
            report.fail(f"{who} charged {charged} images, above {limit} + {granted}")
        expected = GRANTS.get(member, 0) if scope else 0
        if granted not in (0, expected):
            report.fail(f"{who} has {granted} granted images, not {expected}")
    budget = round(run.plan.budget_usd * 1_000_000)
    for scope, month, charged, held in db_rows(
        run.database, "SELECT guild_id, month, charged_micros, held_micros FROM guild_spend"
    ):
        if charged != spend[(scope, month)] or held:
            report.fail(f"spend {scope} {month}: ${charged}e-6 charged, ${held}e-6 held")
        if scope and charged > budget:
            report.fail(f"guild spent ${charged}e-6, above its budget ${budget}e-6")
    delivered = sum(len(sent) for sent in files.values())
    report.tally["images delivered"] = delivered
    report.tally["images charged"] = sum(job.images for job in jobs)
    charged = {job.id for job in jobs if job.images}
    if not files.keys() <= charged:
        report.fail(f"files reached Discord for jobs not charged: {sorted(files.keys() - charged)}")


def _check_process(run: Run, report: Report) -> None:
    """Kills with jobs in flight, a clean last exit, schema-valid requests, no secrets."""
    kills = [epoch for epoch in run.epochs if epoch.killed_at is not None]
    report.tally["kills"] = len(kills)
    report.tally["jobs open at kills"] = sum(epoch.open_at_kill for epoch in kills)
    if len(kills) < len(run.plan.kills) or any(epoch.open_at_kill == 0 for epoch in kills):
        report.fail(f"kills with jobs in flight: {[e.open_at_kill for e in kills]}")
    if run.exit_code != 0:
        report.fail(f"the last bot process exited with {run.exit_code}")
    for problem in [*run.discord.violations, *run.discord.unhandled][:5]:
        report.fail(f"Discord: {problem}")
    try:
        run.database.assert_no_secrets(run.discord)
    except AssertionError as leak:
        report.fail(str(leak)[:300])
    for line in _log_lines(run.log):
        if find_secrets(line):
            report.fail("a secret reached the bot's log")
        elif " ERROR " in line or " CRITICAL " in line:
            report.fail(f"logged: {line[:300]}")


def _who(run: Run, user_id: int) -> str:
    """A member's name (member00...) for violation messages."""
    return next((u.username for u in run.members if u.id == user_id), f"user {user_id}")


def _log_lines(path: Path) -> list[str]:
    return path.read_text(errors="replace").splitlines() if path.exists() else []
