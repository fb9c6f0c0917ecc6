"""The overview chart's figures per finished day, so the chart never re-reads weeks of runs."""

from __future__ import annotations

from django.db import models


class DailyActivity(models.Model):
    """Runs and changes of one local day that is over and has no run left to settle.

    Written by services/activity.py the first time the chart shows the day (and backfilled
    by migration 0015); today, and a day with a queued, running or held run, are counted
    live instead. Keyed by the time zone too: another TIME_ZONE cuts days differently.
    """

    day = models.DateField()
    time_zone = models.CharField(max_length=64)
    runs = models.PositiveIntegerField(default=0)
    failed_runs = models.PositiveIntegerField(default=0, help_text="Failed or held.")
    changes = models.PositiveIntegerField(default=0, help_text="Change records applied.")
    problems = models.PositiveIntegerField(default=0, help_text="Failed or flagged records.")
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["day"]
        verbose_name_plural = "daily activity"
        constraints = [models.UniqueConstraint(fields=["day", "time_zone"],
                                               name="one_activity_row_per_day")]

    def __str__(self) -> str:
        return f"{self.day}: {self.runs} runs, {self.changes} changes"


class TimeReportMonth(models.Model):
    """One local month (in one time zone) whose time-report sums are kept in TimeReportSum.

    Written by services/time_sums.py the first time the report shows the whole month; from
    then on every write of a time entry adjusts the month's sums (TimeEntry.save/delete), and
    a bulk write through the ORM drops the kept months (they are summed again when shown).
    Keyed by the time zone: another TIME_ZONE cuts months differently."""

    month = models.DateField(help_text="The first day of the month.")
    time_zone = models.CharField(max_length=64)
    built_at = models.DateTimeField()

    class Meta:
        ordering = ["month"]
        constraints = [models.UniqueConstraint(fields=["month", "time_zone"],
                                               name="one_time_report_month_per_zone")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} ({self.time_zone})"


class TimeReportSum(models.Model):
    """Seconds of completed, non-deleted time entries of a kept month, per task (project and
    task), per project, or per person (user and the name the entries carry)."""

    class Level(models.TextChoices):
        TASK = "task"
        PROJECT = "project"
        PERSON = "person"

    month = models.DateField()
    time_zone = models.CharField(max_length=64)
    level = models.CharField(max_length=8, choices=Level.choices)
    project_id = models.CharField(max_length=64, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    user_id = models.CharField(max_length=64, blank=True)
    user_name = models.CharField(max_length=255, blank=True)  # longer names cut
    seconds = models.BigIntegerField(default=0)
    billable_seconds = models.BigIntegerField(default=0)
    entries = models.PositiveIntegerField(default=0, help_text="Entries summed; 0 = gone.")

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["time_zone", "month", "level", "project_id", "task_id", "user_id",
                    "user_name"], name="one_time_report_sum_per_key")]
        indexes = [
            # The page's top tasks of one month: ORDER BY seconds DESC LIMIT n.
            models.Index(fields=["time_zone", "month", "level", "-seconds"],
                         name="timesum_by_seconds"),
        ]

    def __str__(self) -> str:
        key = self.task_id or self.project_id or self.user_id
        return f"{self.month:%Y-%m} {self.level} {key}: {self.seconds} s"


__all__ = ["DailyActivity", "TimeReportMonth", "TimeReportSum"]
