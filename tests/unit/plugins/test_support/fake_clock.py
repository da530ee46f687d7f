"""A clock for the unit tests of code that waits (plugins/module_utils/_flink/: cluster.py, sql_job.py,
job_lifecycle.py): time moves only when the code under test sleeps, so a wait of minutes runs at once."""


class FakeClock:
    """``clock()``, ``monotonic()`` or a call read the time; ``sleep(seconds)`` records ``seconds`` in ``sleeps``
    and moves the time on by them, by ``min_step`` at the least (for code that sleeps 0 between polls)."""

    def __init__(self, min_step=0.0):
        self.now = 0.0
        self.sleeps = []
        self.min_step = min_step

    def __call__(self):
        return self.now

    clock = monotonic = __call__

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += max(seconds, self.min_step)
