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


__all__ = ["DailyActivity"]
