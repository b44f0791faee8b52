"""When things run on their own: an hourly build, a daily prune, a daily compaction."""

import datetime as dt

from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    ScheduleEvaluationContext,
    schedule,
)

from orchestration.build_range import build_run_config
from orchestration.maintenance import compaction, prune, prune_run_config


@schedule(
    job_name="pipeline",
    cron_schedule="7 * * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Hourly: rebuild yesterday and today (the lookback re-reads late data).",
)
def hourly_build(context: ScheduleEvaluationContext) -> RunRequest:
    today = context.scheduled_execution_time.astimezone(dt.UTC).date()
    return RunRequest(run_config=build_run_config(today - dt.timedelta(days=1), today))


@schedule(
    job=prune,
    cron_schedule="30 3 * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Daily: apply retention as of today, then republish.",
)
def daily_prune(context: ScheduleEvaluationContext) -> RunRequest:
    today = context.scheduled_execution_time.astimezone(dt.UTC).date()
    return RunRequest(run_config=prune_run_config(today))


@schedule(
    job=compaction,
    cron_schedule="0 3 * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Daily: compact yesterday's and older small raw files.",
)
def daily_compaction(context: ScheduleEvaluationContext) -> RunRequest:
    return RunRequest()
