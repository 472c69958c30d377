"""Retry policies (``@app.retry``, function.json ``retry``): the host reruns a failed execution.

As the Functions runtime does: only functions whose trigger plugin declares retry support
(``Trigger.supports_retry``) are rerun; any other trigger with a policy gets the host's warning at load and runs
once. ``max_retry_count`` counts reruns (3 = up to 4
executions), ``-1`` reruns until success. Calls from the admin API and from tests are never retried.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
import traceback
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

from funchost.context import RetryContext, RpcException
from funchost.dotnet import format_timespan, parse_timespan
from funchost.registry import Trigger

if TYPE_CHECKING:
    from funchost.invocation import BoundFunction
    from funchost.registry import InvocationResult

log = logging.getLogger("funchost.retry")
"""Host lines (the runtime's ``Function.<name>`` category): the wait line is Debug, shown with --verbose."""

RANDOMIZATION = 0.2
"""Exponential backoff adds ``minimum * 2^(n-1) * U(0.8, 1.2)`` per retry, as the runtime's strategy does."""

Strategy = Literal["fixed_delay", "exponential_backoff"]

current: contextvars.ContextVar[RetryContext | None] = contextvars.ContextVar("funchost_retry", default=None)
"""The retry state of the invocation running now (read when its ``context`` is built)."""


class RetryPolicyError(ValueError):
    """A retry policy the host would refuse; the message names the property and the fix."""


@dataclass(frozen=True)
class RetryPolicy:
    """One function's retry policy."""

    strategy: Strategy
    max_retry_count: int
    """Reruns after the first failure; -1 = until success."""
    delay_interval: timedelta = timedelta(0)
    minimum_interval: timedelta = timedelta(0)
    maximum_interval: timedelta = timedelta(0)

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> RetryPolicy:
        """Read ``@app.retry`` settings (snake_case) or function.json ``retry`` (camelCase)."""
        values = {str(k).replace("_", "").lower(): v for k, v in raw.items()}
        strategy = str(values.get("strategy") or "").replace("_", "").lower()
        if strategy not in ("fixeddelay", "exponentialbackoff"):
            raise RetryPolicyError(
                f"retry strategy {values.get('strategy')!r} is not supported; use 'fixed_delay' or "
                "'exponential_backoff' (function.json: 'fixedDelay' or 'exponentialBackoff')"
            )
        count_raw = values.get("maxretrycount")
        try:
            count = int(str(count_raw).strip())
        except ValueError:
            raise RetryPolicyError(
                f"retry max_retry_count {count_raw!r} is not an integer; give a count, or -1 to retry until success"
            ) from None
        if count < -1:
            raise RetryPolicyError(
                f"retry max_retry_count {count} is below -1 (-1 means retry until success)"
            )

        def span(name: str, label: str) -> timedelta:
            text = values.get(name)
            if text is None or str(text).strip() == "":
                raise RetryPolicyError(f"retry {label} is required for this strategy; write it as HH:MM:SS")
            try:
                value = parse_timespan(str(text))
            except ValueError:
                raise RetryPolicyError(
                    f"retry {label} {text!r} is not a time span; write it as HH:MM:SS"
                ) from None
            if value < timedelta(0):
                raise RetryPolicyError(f"retry {label} {text!r} is negative")
            return value

        if strategy == "fixeddelay":
            return cls("fixed_delay", count, delay_interval=span("delayinterval", "delay_interval"))
        low, high = span("minimuminterval", "minimum_interval"), span("maximuminterval", "maximum_interval")
        if low > high:
            raise RetryPolicyError(
                f"retry minimum_interval ({format_timespan(low)}) is greater than maximum_interval "
                f"({format_timespan(high)})"
            )
        return cls("exponential_backoff", count, minimum_interval=low, maximum_interval=high)

    def delays(self, rng: random.Random | None = None) -> Iterator[timedelta]:
        """The waits before each rerun."""
        if self.strategy == "fixed_delay":
            while True:
                yield self.delay_interval
        rng = rng or random.Random()
        low, high = self.minimum_interval, self.maximum_interval
        current, exponent = low, 0
        while True:
            if current != high:
                step = low
                if exponent > 0:
                    step = low + low * (
                        rng.uniform(1 - RANDOMIZATION, 1 + RANDOMIZATION) * 2 ** (exponent - 1)
                    )
                if step < high:
                    current, exponent = step, exponent + 1
                else:
                    current = high
            yield current

    def describe(self) -> str:
        count = "until success" if self.max_retry_count == -1 else f"up to {self.max_retry_count} times"
        if self.strategy == "fixed_delay":
            return f"fixed delay {format_timespan(self.delay_interval)}, {count}"
        return (
            f"exponential backoff {format_timespan(self.minimum_interval)}-"
            f"{format_timespan(self.maximum_interval)}, {count}"
        )


class _Host(Protocol):
    @property
    def state(self) -> str: ...


def policies(functions: Iterable[BoundFunction]) -> dict[str, RetryPolicy]:
    """The policies the host applies, by lower-cased function name; a bad policy puts its function in error,
    a policy on a trigger without retry support gets the runtime's warning."""
    found: dict[str, RetryPolicy] = {}
    for bound in functions:
        spec = bound.spec
        if not spec.bindings or spec.errors:
            continue
        raw = spec.retry
        if not raw:
            continue
        try:
            policy = RetryPolicy.parse(raw)
        except RetryPolicyError as exc:
            spec.errors.append(f"{exc}.")
            continue
        trigger = bound.trigger.plugin
        if not (isinstance(trigger, Trigger) and trigger.supports_retry):
            log.warning("Retries are not supported for function 'Functions.%s'.", spec.name)
            continue
        found[spec.name.lower()] = policy
    return found


async def run(
    host: _Host,
    policy: RetryPolicy | None,
    function: str,
    attempt: Callable[[], Awaitable[InvocationResult]],
) -> InvocationResult:
    """Run ``attempt`` and rerun it per ``policy`` until it succeeds, the retries run out or the host stops;
    the last failure (an InvocationError) is raised."""
    if policy is None:
        return await attempt()
    state = RetryContext(0, policy.max_retry_count)
    delays = policy.delays()
    retries = 0
    while True:
        token = current.set(state)
        try:
            return await attempt()
        except Exception as exc:
            failure = exc
        finally:
            current.reset(token)
        if policy.max_retry_count != -1 and retries == policy.max_retry_count:
            log.error("Function execution failed after '%d' retries.", retries)
            raise failure
        retries += 1
        delay = next(delays)
        log.debug(
            "Waiting for `%s` before retrying function execution. Next attempt: '%d'. Max retry count: '%d'.",
            format_timespan(delay),
            retries,
            policy.max_retry_count,
        )
        if not await _wait(host, delay.total_seconds()):
            log.warning("Invocation cancelled - exiting retry loop.")
            raise failure
        state = RetryContext(retries, policy.max_retry_count, _rpc_exception(failure))


async def _wait(host: _Host, seconds: float) -> bool:
    """Sleep, ending early (False) when the host version stops (reload or shutdown)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while host.state in ("Initialized", "Running"):
        left = end - loop.time()
        if left <= 0:
            return True
        await asyncio.sleep(min(left, 0.1))
    return False


def _rpc_exception(failure: BaseException) -> RpcException:
    """The previous attempt's exception as the worker's ``retry_context.exception`` shows it."""
    cause = getattr(failure, "cause", None) or failure
    stack = "".join(traceback.format_tb(cause.__traceback__))
    return RpcException(type(cause).__module__, stack, f"{type(cause).__name__}: {cause}")
