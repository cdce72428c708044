"""Attachment downloads: Discord's hosts only, and never a byte beyond the declared size."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bot.core.errors import InvalidRequest
from bot.discord.downloads import attachment_hosts, read_attachment

BODY = b"\x89PNG" + b"x" * 100_000


class Server:
    """A loopback file server that can lie about sizes, stream without end and redirect."""

    def __init__(self) -> None:
        self.sent = 0
        self.requests = 0
        self.url = ""

    async def serve(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        if request.path == "/plain":
            return web.Response(body=BODY)
        if request.path == "/redirect":
            raise web.HTTPFound(request.query["to"])
        response = web.StreamResponse()  # no Content-Length: chunked, endless
        await response.prepare(request)
        try:
            for _ in range(10_000):
                await response.write(b"y" * 65536)
                self.sent += 65536
        except ConnectionError:
            pass
        return response


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server()
    app = web.Application()
    app.router.add_get("/{name}", state.serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    state.url = f"http://127.0.0.1:{port}"
    yield state
    await runner.cleanup()


async def test_reads_a_declared_attachment(server: Server) -> None:
    async with aiohttp.ClientSession() as session:
        data = await read_attachment(
            session, f"{server.url}/plain", filename="a.png", declared_size=len(BODY),
            hosts=frozenset({"127.0.0.1"}),
        )  # fmt: skip
    assert data == BODY


async def test_refuses_hosts_other_than_discords(server: Server) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(InvalidRequest, match="not a Discord attachment"):
            await read_attachment(
                session, f"{server.url}/plain", filename="a.png", declared_size=len(BODY),
                hosts=frozenset({"cdn.discordapp.com"}),
            )  # fmt: skip
    assert server.requests == 0  # refused before any request


async def test_refuses_more_than_declared_by_content_length(server: Server) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(InvalidRequest, match="larger than Discord said"):
            await read_attachment(
                session, f"{server.url}/plain", filename="a.png", declared_size=1000,
                hosts=frozenset({"127.0.0.1"}),
            )  # fmt: skip


async def test_stops_reading_an_endless_body_at_the_declared_size(server: Server) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(InvalidRequest, match="larger than Discord said"):
            await read_attachment(
                session, f"{server.url}/endless", filename="a.png", declared_size=200_000,
                hosts=frozenset({"127.0.0.1"}),
            )  # fmt: skip
    assert server.sent < 64 * 1024 * 1024  # socket buffers aside, far from its 655 MB


def test_default_hosts_are_discords_cdn_and_api_host() -> None:
    hosts = attachment_hosts()
    assert {"cdn.discordapp.com", "media.discordapp.net"} <= hosts
    assert "example.com" not in hosts


async def test_does_not_follow_a_redirect(server: Server) -> None:
    # An allowed host answering 302 to a host the list does not hold (here: by name).
    elsewhere = server.url.replace("127.0.0.1", "localhost")
    async with aiohttp.ClientSession() as session:
        with pytest.raises(InvalidRequest, match=r"could not download a\.png .*HTTP 302"):
            await read_attachment(
                session, f"{server.url}/redirect?to={elsewhere}/plain", filename="a.png",
                declared_size=len(BODY), hosts=frozenset({"127.0.0.1"}),
            )  # fmt: skip
    assert server.requests == 1  # the redirect's target was never asked
