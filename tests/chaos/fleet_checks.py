"""Checks across processes (tests/chaos/invariants.py runs them with the others): the caps
toward WisGate, the owner's cap, and a killed process's jobs ended by a survivor in time.

* WisGate never had more image calls at once than MAX_CONCURRENT_JOBS: the fake counts them
  as they arrive (FakeWisGate.over_cap); per member (MAX_JOBS_PER_MEMBER) and per guild
  (MAX_JOBS_PER_GUILD) they are counted here from the calls' times, each call's job known by
  its prompt's tag. A call's recorded span (its body read until its handler ended) lies
  inside its real one, so these counts never exceed the truth.
* The owner's daily cap (OPERATOR_DAILY_USD, set in the PostgreSQL mode), the one counter
  every process charges, whatever the guild: never above it, and equal to the day's charges.
* A process killed without a restart: every job it had open at the kill was taken by a
  survivor (its owner now another's) and ended (settled or refunded) within TAKEOVER_BOUND
  seconds of the kill: a survivor reclaims once the dead lease is LEASE old, at its next
  reclaim (every LEASE), and ends the jobs at once.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from bot.ledger.leases import LEASE
from tests.chaos.driver import MAX_JOBS_PER_GUILD, MAX_JOBS_PER_MEMBER
from tests.chaos.records import Run, db_rows, prompt_of, tag_index

TAKEOVER_BOUND = 3 * LEASE + 1.0  # seconds from the kill: up to 2 leases, and slack for load


def check_caps(run: Run) -> tuple[list[str], Counter[str]]:
    """Violations of the caps toward WisGate, and the most calls seen at once."""
    wisgate = run.wisgate
    tally: Counter[str] = Counter()
    tally["most WisGate calls at once"] = wisgate.max_in_flight
    failures = [f"WisGate: {line}" for line in wisgate.over_cap[:5]]
    spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for record in wisgate.requests:
        index = tag_index(prompt_of(record))
        if index is None or record.ended is None:
            continue
        job = run.plan.jobs[index]
        spans[f"member{job.member:02d}"].append((record.time, record.ended))
        if not job.in_dm:
            spans[f"guild {run.guild_of(job.member).id}"].append((record.time, record.ended))
    for key, found in sorted(spans.items()):
        per = "member" if key.startswith("member") else "guild"
        cap = MAX_JOBS_PER_MEMBER if per == "member" else MAX_JOBS_PER_GUILD
        most = _most_at_once(found)
        name = f"most WisGate calls at once per {per}"
        tally[name] = max(tally[name], most)
        if most > cap:
            failures.append(f"{key} had {most} WisGate calls at once, above its cap {cap}")
    return failures, tally


def _most_at_once(spans: list[tuple[float, float]]) -> int:
    # An end sorts before a start at the same instant: touching spans do not overlap.
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def check_owner_cap(run: Run) -> tuple[list[str], Counter[str]]:
    """The owner's daily cap (OPERATOR_DAILY_USD), which every process charges: never above
    it, and equal to the day's charges over all jobs, nothing left held."""
    if run.owner_daily_usd is None:
        return [], Counter()
    cap = round(run.owner_daily_usd * 1_000_000)
    days = dict(
        db_rows(run.database, "SELECT day, SUM(cost_charged_micros) FROM jobs GROUP BY day")
    )
    failures: list[str] = []
    tally: Counter[str] = Counter()
    for period, charged, held in db_rows(
        run.database, "SELECT period, charged_micros, held_micros FROM operator_spend"
    ):
        if period not in days:
            continue  # the month's row: the monthly cap is off
        tally["owner's daily spend (micro-USD)"] = charged
        if charged > cap:
            failures.append(
                f"the owner's spend on {period}: ${charged}e-6, above the cap ${cap}e-6"
            )
        if charged != days[period] or held:
            failures.append(
                f"the owner's spend on {period}: ${charged}e-6 charged and ${held}e-6 held; "
                f"its jobs were charged ${days[period]}e-6"
            )
    if any(days.values()) and not tally:
        failures.append(f"jobs were charged on {sorted(days)}, but the owner's spend has no day")
    return failures, tally


def check_takeovers(run: Run) -> tuple[list[str], Counter[str]]:
    """Violations of the takeover of killed processes' jobs, and what was taken."""
    failures: list[str] = []
    tally: Counter[str] = Counter()
    for takeover in run.takeovers:
        tally["jobs taken over from the killed process"] += len(takeover.jobs)
        ended = takeover.ended_after
        for name, after in (("ended", ended), ("told and delivered", takeover.cleared_after)):
            if after is not None:
                tally[f"ms from the kill until its jobs were {name}"] = round(after * 1000)
        if ended is None or ended > TAKEOVER_BOUND:
            failures.append(
                f"the jobs {takeover.jobs} of killed process {takeover.pid} were not all "
                f"ended within {TAKEOVER_BOUND:.0f} s of the kill (took {ended})"
            )
        owners = dict(db_rows(run.database, "SELECT id, owner FROM jobs"))
        left = [id_ for id_ in takeover.jobs if f":{takeover.pid}:" in owners[id_]]
        if left:
            failures.append(f"jobs {left} of killed process {takeover.pid} were never taken")
    return failures, tally
