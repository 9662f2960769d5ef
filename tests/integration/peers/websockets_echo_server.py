#!/usr/bin/python3
"""A third-party upstream: python-websockets' own server (TLS, permessage-deflate
on, as websockets enables by default), echoing every message. Prints
"listening on 127.0.0.1:PORT" once ready. Used to check loopgate against a
WebSocket implementation that is not ours."""

import asyncio
import ssl
import sys

import websockets


async def echo(ws, path=None):
    async for message in ws:
        await ws.send(message)


def prefer_own_order(ws, offered):
    """python-websockets 10.4 ranks ties by set order (hash seed dependent): choose
    explicitly, the server's preference first, among what the app offered."""
    for protocol in ("chat.v2", "chat.v1"):
        if protocol in offered:
            return protocol
    return None


async def main(cert, key):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    async with websockets.serve(echo, "127.0.0.1", 0, ssl=context, max_size=None,
                                subprotocols=["chat.v2", "chat.v1"], select_subprotocol=prefer_own_order) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening on 127.0.0.1:{port}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
