"""loopgate in front of a WebSocket server that is not ours (python-websockets),
with permessage-deflate negotiated end to end: loopgate must pass the
extension through and let RSV1-marked (compressed) frames through both ways."""

import asyncio
import os
import sys
from pathlib import Path

import pytest
import websockets

from conftest import Process

PEER = Path(__file__).parent / "peers" / "websockets_echo_server.py"


@pytest.fixture
def websockets_upstream(tmp_path, certs):
    process = Process(["/usr/bin/python3", PEER, certs / "server.pem", certs / "server.key"], tmp_path, "wsserver")
    match = process.wait_for(r"listening on [\d.]+:(\d+)", stream="stdout")[0]
    yield int(match.group(1))
    process.stop()


@pytest.fixture
def loopgate_to_websockets(start_loopgate, websockets_upstream, certs):
    return start_loopgate({"routes": [{
        "name": "thirdparty",
        "listen": "127.0.0.1:0",
        "upstream": f"wss://localhost:{websockets_upstream}",
        "tls": {"ca_file": str(certs / "ca.pem")},
    }]})


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_permessage_deflate_is_negotiated_end_to_end_and_compressed_frames_pass(loopgate_to_websockets):
    async def scenario():
        async with websockets.connect(loopgate_to_websockets.url("/"), max_size=None) as ws:
            extensions = [type(e).__name__ for e in ws.extensions]
            # Highly compressible and random data, text and binary, small and large.
            messages = ["hello " * 1000, os.urandom(70_000), "é" * 5000, b"\x00" * (4 << 20)]
            replies = []
            for message in messages:
                await ws.send(message)
                replies.append(await ws.recv())
            return extensions, messages, replies

    extensions, messages, replies = run(scenario())
    assert extensions == ["PerMessageDeflate"]
    assert replies == messages


def test_subprotocol_chosen_by_a_third_party_server_reaches_the_app(loopgate_to_websockets):
    async def scenario():
        async with websockets.connect(loopgate_to_websockets.url("/"), subprotocols=["chat.v1", "chat.v2"]) as ws:
            await ws.send("x")
            return ws.subprotocol, await ws.recv()

    # The server prefers its own order (chat.v2 first) among what the app offered.
    assert run(scenario()) == ("chat.v2", "x")


def test_close_from_the_app_is_answered_by_the_third_party_server(loopgate_to_websockets):
    async def scenario():
        ws = await websockets.connect(loopgate_to_websockets.url("/"))
        await ws.send("bye")
        await ws.recv()
        await ws.close(4100, "done here")
        return ws.close_code, ws.close_reason

    assert run(scenario()) == (4100, "done here")
    summary = loopgate_to_websockets.process.wait_for(r'msg="connection closed".*close_code=4100')
    assert summary
