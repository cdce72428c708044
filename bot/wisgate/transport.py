"""HTTP toward WisGate: authentication, retries with backoff, typed errors, image downloads.

The part of the client every call shares (bot/wisgate/client.py holds the calls themselves).
Only rate limits and failures that happened before an answer began are retried: a request
whose answer was under way may have been billed upstream.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
from pydantic import SecretStr
from yarl import URL

from bot.core.models import GeneratedImage
from bot.wisgate.errors import (
    MalformedResponse,
    RateLimited,
    RequestTimedOut,
    ServerError,
    WisGateError,
    error_from_response,
)
from bot.wisgate.pacer import Pacer
from bot.wisgate.stream import PendingUrl, sniff_image

log = logging.getLogger(__name__)

T = TypeVar("T")
_MAX_REDIRECTS = 3


class _Retryable(Exception):
    """Internal: this attempt failed in a way a later attempt may not."""

    def __init__(self, error: WisGateError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class Transport:
    """One WisGate account over one aiohttp session: requests with retries, downloads."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        api_key: SecretStr,
        timeout: float,
        max_retries: int,
        backoff_base: float,
        backoff_cap: float,
        max_download_bytes: int,
        download_schemes: frozenset[str],
        pacer: Pacer | None = None,
    ) -> None:
        self._session = session
        # Fed by every answer; with one, rate limits are the pacer's (the job waits in the
        # queue) and not retried here; without (a bare client), they are retried like 5xx.
        self.pacer = pacer
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._max_retries = max(0, max_retries)
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._max_download = max_download_bytes
        self._schemes = frozenset(download_schemes)
        self._timeout = timeout
        # Connecting should be quick; generating is what takes minutes.
        self._client_timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 15.0))

    def _secret(self) -> str:
        return self._api_key.get_secret_value()

    async def _request(
        self,
        method: str,
        path: str,
        make: Callable[[], Any] | None,
        read: Callable[[aiohttp.ClientResponse], Awaitable[T]],
        *,
        accept: str = "application/json",
    ) -> T:
        attempt = 0
        while True:
            try:
                return await self._attempt(method, path, make, read, accept)
            except _Retryable as retry:
                if attempt >= self._max_retries:
                    raise retry.error from None
                delay = self._backoff(attempt, retry.retry_after)
                attempt += 1
                log.warning(
                    "WisGate %s %s failed (%r); retry %d of %d in %.2fs",
                    method,
                    path,
                    retry.error,
                    attempt,
                    self._max_retries,
                    delay,
                )
                await asyncio.sleep(delay)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            delay = min(self._backoff_cap, max(0.0, retry_after))
        else:
            delay = min(self._backoff_cap, self._backoff_base * 2**attempt)
        # A little jitter so concurrent jobs do not retry in lockstep.
        return delay + random.uniform(0.0, delay * 0.1)

    async def _attempt(
        self,
        method: str,
        path: str,
        make: Callable[[], Any] | None,
        read: Callable[[aiohttp.ClientResponse], Awaitable[T]],
        accept: str,
    ) -> T:
        data = make() if make is not None else None
        headers = {"Authorization": f"Bearer {self._secret()}", "Accept": accept}
        if isinstance(data, bytes):
            headers["Content-Type"] = "application/json"
        started = time.monotonic()
        responded = False
        try:
            async with self._session.request(
                method,
                self._base_url + path,
                data=data,
                headers=headers,
                timeout=self._client_timeout,
            ) as response:
                responded = True
                log.debug(
                    "WisGate %s %s -> %d after %.2fs",
                    method,
                    path,
                    response.status,
                    time.monotonic() - started,
                )
                if response.status >= 400:
                    raise await self._http_error(response)
                if self.pacer is not None:
                    self.pacer.observe(response.status, response.headers)
                return await read(response)
        except TimeoutError as error:
            if not responded and isinstance(error, aiohttp.ConnectionTimeoutError):
                raise _Retryable(ServerError("timed out connecting to WisGate")) from None
            raise RequestTimedOut(
                f"no complete answer within {self._timeout:g}s", code="timeout"
            ) from None
        except aiohttp.ClientError as error:
            what = type(error).__name__
            if not responded and isinstance(error, aiohttp.ClientConnectionError):
                raise _Retryable(ServerError(f"could not reach WisGate ({what})")) from None
            # The answer was under way: the image may be billed, so this is not retried.
            raise ServerError(
                f"connection lost while the answer arrived ({what})", code="connection_lost"
            ) from None

    async def _http_error(self, response: aiohttp.ClientResponse) -> Exception:
        body = bytearray()
        async for chunk in response.content.iter_any():
            body += chunk
            if len(body) >= 64 * 1024:
                break  # error bodies are small: do not wait for (or keep) a huge one
        error = error_from_response(response.status, bytes(body), secret=self._secret())
        if self.pacer is not None:
            self.pacer.observe(response.status, response.headers, error.code)
            if isinstance(error, RateLimited):
                return error  # the job waits for the pacer, without spending a retry
        if response.status >= 500 or isinstance(error, RateLimited):
            return _Retryable(error, _retry_after(response.headers))
        return error

    # -- url results ----------------------------------------------------------------------

    async def _download(self, pending: PendingUrl) -> GeneratedImage:
        target = pending.url
        for _ in range(_MAX_REDIRECTS + 1):
            scheme = target.partition(":")[0].lower()
            if scheme not in self._schemes:
                raise MalformedResponse(f"refused an image URL with scheme {scheme!r}")
            try:
                async with self._session.get(
                    target, timeout=self._client_timeout, allow_redirects=False
                ) as response:
                    location = response.headers.get("Location")
                    if response.status in (301, 302, 303, 307, 308) and location:
                        target = str(response.url.join(URL(location)))
                        continue
                    data = await self._read_capped(response)
            except TimeoutError:
                raise RequestTimedOut("the image download timed out", code="timeout") from None
            except (aiohttp.ClientError, ValueError) as error:
                what = type(error).__name__
                raise MalformedResponse(f"could not download the image ({what})") from None
            return sniff_image(data, pending.revised_prompt)
        raise MalformedResponse("too many redirects for an image URL")

    async def _read_capped(self, response: aiohttp.ClientResponse) -> bytes:
        if response.status != 200:
            raise MalformedResponse(f"the image URL answered HTTP {response.status}")
        length = response.content_length
        if length is not None and length > self._max_download:
            raise MalformedResponse(f"the image at the URL is larger than {self._max_download}")
        buffer = bytearray()
        # Checked while reading so a huge (or endless) answer is cut off early.
        async for chunk in response.content.iter_any():
            buffer += chunk
            if len(buffer) > self._max_download:
                raise MalformedResponse(f"the image at the URL is larger than {self._max_download}")
        return bytes(buffer)


def _retry_after(headers: Any) -> float | None:
    """Seconds to wait from `retry-after-ms` or `retry-after` (seconds), if given."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            continue  # an HTTP date: rare for this API, and the backoff is a fine fallback
    return None
