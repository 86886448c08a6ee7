"""The one retry policy for everything that is not an AWS call.

AWS calls are retried by botocore alone (standard mode, `Settings.aws_max_attempts` attempts
in total, configured in core.wiring); adapters add no retry loop of their own. Store writes
and classifier calls that fail with a *transient* error (StoreUnavailableError,
ClassifierUnavailableError) are retried by the use cases with this policy, so one throttled
DynamoDB write is tried at most `retry_attempts x aws_max_attempts` times (3 x 3 = 9 with
the defaults), and a busy SQLite file `retry_attempts` times.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from core.errors import ClassifierUnavailableError, StoreUnavailableError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    base_delay: float = 0.2
    max_delay: float = 2.0
    retry_on: tuple[type[BaseException], ...] = (StoreUnavailableError,
                                                 ClassifierUnavailableError)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)

    def delays(self) -> Iterator[float]:
        """Sleep before each retry: exponential, capped, with full jitter."""
        for n in range(self.attempts - 1):
            yield random.uniform(0, min(self.max_delay, self.base_delay * 2 ** n))

    def call(self, fn: Callable[[], T]) -> T:
        delays = self.delays()
        while True:
            try:
                return fn()
            except self.retry_on:
                delay = next(delays, None)
                if delay is None:
                    raise
                self.sleep(delay)


NO_RETRY = RetryPolicy(attempts=1)
