"""Running schedules: which occurrence is due, and one run per (schedule, scheduled time).

A run holds its schedule's row lock from the choice of the occurrence to the commit of
its run row and batch, and the run row is unique per (schedule, scheduled_for): a tick
delivered twice, two beats, or a restarted beat make one batch. A transient storage
failure rolls everything back, so the next tick tries the same occurrence again; other
failures are recorded as a failed run. Only the latest missed occurrence is run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from access.grants import scope_for
from common import metrics
from common.retrying import describe, is_transient
from media.clients import media_client
from media.listing import list_entries
from schedules.models import Schedule, ScheduleRun
from schedules.occurrences import latest_occurrence
from schedules.selection import Selection, TooManyObjects, select
from tasks.batches import keyscope
from tasks.batches.issuing import StorageUnavailable, create_batch
from tasks.batches.quotas import QuotaExceeded
from tasks.batches.spec import BatchInputError, BatchRequest
from tasks.models import Batch

log = logging.getLogger(__name__)
Outcome = ScheduleRun.Outcome


@dataclass(frozen=True)
class RunResult:
    run: ScheduleRun
    created: bool  # False: this scheduled time had run already


class RunFailed(Exception):
    """The run cannot make its batch; recorded as a failed run."""


def due_occurrence(schedule: Schedule, now: datetime) -> datetime | None:
    after = max(schedule.covered_until, schedule.created_at)
    return latest_occurrence(schedule.cron, schedule.zone, after, now)


def locked(queryset: QuerySet[Schedule], *, skip_locked: bool) -> Schedule | None:
    return (
        queryset.select_related("crontab")
        .select_for_update(skip_locked=skip_locked, of=("self",))
        .first()
    )


def tick(now: datetime) -> list[RunResult]:
    """Run every enabled schedule whose latest occurrence up to `now` has not run yet."""
    results = []
    for schedule_id in Schedule.objects.filter(enabled=True).values_list("id", flat=True):
        try:
            result = run_due(schedule_id, now)
        except Exception as error:  # one schedule's trouble must not stop the others
            level = logging.WARNING if is_transient(error) else logging.ERROR
            log.log(level, "schedule %s: run left to the next tick: %s", schedule_id, error)
            continue
        if result is not None:
            results.append(result)
    return results


def run_due(schedule_id: int, now: datetime) -> RunResult | None:
    with transaction.atomic():
        schedule = locked(Schedule.objects.filter(id=schedule_id, enabled=True), skip_locked=True)
        if schedule is None:  # gone, disabled, or being run by another tick right now
            return None
        when = due_occurrence(schedule, now)
        if when is None:
            return None
        result = execute(schedule, when, ScheduleRun.Trigger.BEAT, now)
        Schedule.objects.filter(id=schedule.id).update(covered_until=when)
    return result


def run_now(schedule_id: int, at: datetime) -> RunResult:
    """Run a schedule (enabled or not) for the scheduled time `at`, by hand."""
    with transaction.atomic():
        schedule = locked(Schedule.objects.filter(id=schedule_id), skip_locked=False)
        if schedule is None:
            raise Schedule.DoesNotExist(f"no schedule with id {schedule_id}")
        return execute(schedule, at, ScheduleRun.Trigger.MANUAL, timezone.now())


def find_schedule(name: str, owner: str | None = None) -> Schedule:
    """The schedule of that name (names are unique per owner): of `owner` (a username) when
    given, else the only one so named."""
    found = Schedule.objects.filter(name=name).select_related("owner")
    if owner is not None:
        found = found.filter(owner__username=owner)
    matches = list(found[:10])
    if not matches:
        whose = f" owned by {owner!r}" if owner is not None else ""
        raise Schedule.DoesNotExist(f"no schedule named {name!r}{whose}")
    if len(matches) > 1:
        owners = ", ".join(sorted(str(s.owner or "(no owner)") for s in matches))
        raise Schedule.MultipleObjectsReturned(
            f"several schedules are named {name!r} (owners: {owners}); name the owner"
        )
    return matches[0]


def execute(schedule: Schedule, when: datetime, trigger: str, now: datetime) -> RunResult:
    """In the caller's transaction, with the schedule locked: the run for `when`, once."""
    run = ScheduleRun(
        schedule=schedule, scheduled_for=when, trigger=trigger, started_at=now, outcome=""
    )
    try:
        with transaction.atomic():
            run.save()  # claims the scheduled time; a concurrent claim waits, then fails here
    except IntegrityError:
        return RunResult(ScheduleRun.objects.get(schedule=schedule, scheduled_for=when), False)
    selection = None
    try:
        selection = choose(schedule)
        if selection.keys:
            run.batch = make_batch(schedule, selection, now)
            run.outcome, run.selected = Outcome.BATCH_CREATED, len(selection.keys)
            run.message = f"{count(len(selection.keys))} under {schedule.prefix!r}"
        else:
            run.outcome, run.message = Outcome.EMPTY, empty_message(schedule)
    except RunFailed as error:
        run.outcome, run.message = Outcome.FAILED, str(error)
        log.error("schedule %s, run for %s failed: %s", schedule.name, when.isoformat(), error)
    run.save(update_fields=["outcome", "batch", "selected", "message"])
    record(schedule, run, selection if run.batch else None)
    outcome = str(run.outcome)
    transaction.on_commit(lambda: metrics.SCHEDULE_RUNS.labels(outcome).inc())
    return RunResult(run, created=True)


def choose(schedule: Schedule) -> Selection:
    bucket = settings.AWS_STORAGE_BUCKET_NAME
    if not bucket:
        raise RunFailed("no media bucket is configured (DJANGO_AWS_STORAGE_BUCKET_NAME)")
    owner = schedule.owner
    if owner is not None and not owner.is_active:
        raise RunFailed(f"access ended: the owner {owner.get_username()!r} is deactivated")
    scope = scope_for(owner)  # checked again at each run: grants may change
    try:
        keyscope.check_prefix(scope, schedule.prefix)
    except BatchInputError as error:
        raise RunFailed(error.message) from None
    try:
        entries = list_entries(media_client(), bucket, schedule.prefix)
        return select(
            schedule.selection,
            ([e for e in page if scope.listing_filter(e[0])] for page in entries),
            count=schedule.newest_count,
            mark=schedule.mark,
            limit=settings.LINKS_MAX_BATCH_SIZE,
        )
    except TooManyObjects as error:
        raise RunFailed(str(error)) from None
    except (BotoCoreError, ClientError) as error:
        if is_transient(error):
            raise  # rolled back: the next tick tries again
        raise RunFailed(f"listing {schedule.prefix!r} failed: {describe(error)}") from None


def make_batch(schedule: Schedule, selection: Selection, now: datetime) -> Batch:
    request = BatchRequest(
        keys=selection.keys,
        expires_in=schedule.expires_in,
        filename_from_key=schedule.filename_from_key,
        refresh=schedule.refresh,
        refresh_until=schedule.refresh_until(now),
    )
    try:
        batch = create_batch(request, owner=schedule.owner).batch
    except (BatchInputError, QuotaExceeded, StorageUnavailable) as error:
        raise RunFailed(f"the batch was refused: {error}") from None
    batch.recipients.set(schedule.recipients.all())
    return batch


def count(number: int) -> str:
    return f"{number} object" if number == 1 else f"{number} objects"


def empty_message(schedule: Schedule) -> str:
    if schedule.selection == Schedule.Selection.NEW and schedule.seen_until is not None:
        return (
            f"nothing new under {schedule.prefix!r} since {schedule.seen_until.isoformat()}: "
            "nothing was sent"
        )
    return f"no objects under {schedule.prefix!r}: nothing was sent"


def record(schedule: Schedule, run: ScheduleRun, selection: Selection | None) -> None:
    changes: dict[str, object] = {"last_run_at": run.started_at}
    if selection is not None:
        changes.update(
            last_batch=run.batch,
            seen_until=selection.mark.at,
            seen_keys=sorted(selection.mark.keys),
        )
    Schedule.objects.filter(id=schedule.id).update(**changes)
