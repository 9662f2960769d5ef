"""Unmodified third-party clients through loopgate: python-websockets (Debian's 10.4) and
Node's `ws` (tests/integration/node, installed with `npm ci`). Both run the same cases
against the test gateway's echo and report what they saw in the same shape; the
assertions here judge both.

The Node client is a separate process (node/ws_client.mjs) that prints one JSON object."""

import asyncio
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import websockets

NODE_DIR = Path(__file__).resolve().parent / "node"
NODE_CLIENT = NODE_DIR / "ws_client.mjs"
CASE_TIMEOUT = 30.0

UNICODE_TEXT = "héllo, wörld ✓ {\"type\":\"req\"}"


# ---- python-websockets: the same cases and report shapes as node/ws_client.mjs ----

async def py_text(url):
    async with websockets.connect(url) as ws:
        await ws.send(UNICODE_TEXT)
        reply = await ws.recv()
    return {"sent": UNICODE_TEXT, "received": reply, "binary": isinstance(reply, bytes)}


async def py_binary(url):
    sent = os.urandom(4096)
    async with websockets.connect(url) as ws:
        await ws.send(sent)
        reply = await ws.recv()
    return {"sent_hex": sent.hex(), "received_hex": bytes(reply).hex(), "binary": isinstance(reply, bytes)}


async def py_empty(url):
    async with websockets.connect(url) as ws:
        await ws.send("")
        text = await ws.recv()
        await ws.send(b"")
        binary = await ws.recv()
    return {
        "text": {"length": len(text), "binary": isinstance(text, bytes)},
        "binary": {"length": len(binary), "binary": isinstance(binary, bytes)},
    }


async def py_fragmented(url):
    async with websockets.connect(url) as ws:
        pongs = []

        async def fragments_with_a_ping_between():
            yield "first fragment, "
            pongs.append(await ws.ping(b"between"))
            yield "last fragment"

        await ws.send(fragments_with_a_ping_between())
        message = await ws.recv()
        # The reader handles frames in wire order: a pong that came between the fragments
        # is already recorded when the message completes.
        events = ["pong:between"] if pongs[0].done() else []
        events.append(f"message:{message}")
        if not pongs[0].done():
            await pongs[0]
            events.append("pong:between")
    return {"events": events}


async def py_large(url):
    sent = os.urandom(16 << 20)
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(sent)
        reply = await ws.recv()
    return {
        "sent_length": len(sent),
        "received_length": len(reply),
        "sent_sha256": hashlib.sha256(sent).hexdigest(),
        "received_sha256": hashlib.sha256(reply).hexdigest(),
        "identical": sent == reply,
        "binary": isinstance(reply, bytes),
    }


async def py_subprotocol(url):
    async with websockets.connect(url, subprotocols=["p1", "p2"]) as ws:
        return {"protocol": ws.subprotocol}


async def py_close(url):
    ws = await websockets.connect(url)
    await ws.close(4001, "bye")
    return {"code": ws.close_code, "reason": ws.close_reason}


PYTHON_CASES = {
    "text": py_text, "binary": py_binary, "empty": py_empty, "fragmented": py_fragmented,
    "large": py_large, "subprotocol": py_subprotocol, "close": py_close,
}


def run_python(url, case):
    return asyncio.run(asyncio.wait_for(PYTHON_CASES[case](url), CASE_TIMEOUT))


# ---- Node's ws ----

def node_ready():
    """Fails (not skips) when the Node client cannot run: these tests are part of the suite."""
    if shutil.which("node") is None:
        pytest.fail("node is not installed (tools install it; Node 18+ is needed)")
    if not (NODE_DIR / "node_modules" / "ws").is_dir():
        pytest.fail(f"npm package ws is missing: run `npm ci` in {NODE_DIR}")


def run_node(url, case):
    node_ready()
    done = subprocess.run(["node", str(NODE_CLIENT), url, case], capture_output=True, text=True,
                          timeout=CASE_TIMEOUT)
    assert done.returncode == 0, f"node client failed ({done.returncode}): {done.stderr.strip()}"
    return json.loads(done.stdout)[case]


@pytest.fixture(params=["python-websockets", "node-ws"])
def client(request):
    """Runs one named case with the parametrized client against a URL; returns its report."""
    return run_python if request.param == "python-websockets" else run_node


def test_text_message_echoes_unchanged(client, loopgate):
    report = client(loopgate.url("/echo"), "text")
    assert report == {"sent": UNICODE_TEXT, "received": UNICODE_TEXT, "binary": False}


def test_binary_message_echoes_byte_exact(client, loopgate):
    report = client(loopgate.url("/echo"), "binary")
    assert report["binary"] is True
    assert len(report["sent_hex"]) == 2 * 4096
    assert report["received_hex"] == report["sent_hex"]


def test_empty_text_and_binary_messages_echo_as_empty(client, loopgate):
    report = client(loopgate.url("/echo"), "empty")
    assert report == {"text": {"length": 0, "binary": False}, "binary": {"length": 0, "binary": True}}


def test_fragmented_message_with_ping_between_arrives_whole_after_the_pong(client, loopgate):
    report = client(loopgate.url("/echo"), "fragmented")
    assert report["events"] == ["pong:between", "message:first fragment, last fragment"]


def test_16_mib_random_binary_message_echoes_byte_exact(client, loopgate):
    report = client(loopgate.url("/echo"), "large")
    assert report["sent_length"] == report["received_length"] == 16 << 20
    assert report["received_sha256"] == report["sent_sha256"]
    assert report["identical"] is True
    assert report["binary"] is True


def test_subprotocol_offer_reaches_gateway_and_its_choice_reaches_the_app(client, loopgate):
    report = client(loopgate.url("/echo"), "subprotocol")
    assert report == {"protocol": "p1"}
    # The gateway saw the app's whole offer, in order (clients differ on the space after
    # the comma): loopgate did not choose for it.
    loopgate.gateway.process.wait_for(r"request path=/echo .*protocol=p1, ?p2 status=101", stream="stdout",
                                      timeout=5)


def test_app_close_code_and_reason_come_back_unchanged(client, loopgate):
    report = client(loopgate.url("/echo"), "close")
    assert report == {"code": 4001, "reason": "bye"}
