#!/usr/bin/env python3
"""A plain WebSocket client (python-websockets, unmodified) for the demo:
sends a few messages through loopgate and prints what comes back."""

import asyncio
import sys

import websockets


async def main(url):
    async with websockets.connect(url, max_size=None) as ws:
        print(f"client: connected to {url} (plain ws:// on loopback; loopgate does the TLS)")
        for message in ["hello through loopgate", "second message", b"\x00\x01binary"]:
            await ws.send(message)
            reply = await ws.recv()
            print(f"client: sent {message!r}, got back {reply!r}")
            if reply != message:
                raise SystemExit("demo: the echo differs from what was sent")
        await ws.close(1000, "demo done")
        print(f"client: closed with {ws.close_code} {ws.close_reason!r}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "ws://127.0.0.1:18789/echo"))
