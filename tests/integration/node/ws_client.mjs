// Drives Node's `ws` client against a WebSocket URL (loopgate in front of the test gateway's
// echo) and prints what it observed as one JSON object: {"CASE": {...}, ...}. The Python tests
// decide what is right; this script only reports. It exits non-zero with a message on stderr
// when a case cannot finish (error, unexpected close, or the overall deadline).
//
//   node ws_client.mjs ws://127.0.0.1:PORT/echo [CASE...]     (no CASE: all of them)

import { createHash, randomBytes } from "node:crypto";
import WebSocket from "ws";

const DEADLINE_MS = 20000;

function sha256(buffer) {
  return createHash("sha256").update(buffer).digest("hex");
}

// Opens a connection and hands it to `body`, which resolves with the case's observation.
function withSocket(url, protocols, body) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols);
    ws.on("error", reject);
    ws.on("unexpected-response", (_req, res) => reject(new Error(`upgrade refused with HTTP ${res.statusCode}`)));
    ws.on("open", () => body(ws).then(resolve, reject));
  });
}

function nextMessage(ws) {
  return new Promise((resolve, reject) => {
    const onClose = (code, reason) => reject(new Error(`closed (${code} ${reason}) while waiting for a message`));
    ws.once("close", onClose);
    ws.once("message", (data, isBinary) => {
      ws.off("close", onClose);
      resolve({ data: Buffer.from(data), isBinary });
    });
  });
}

function closeEvent(ws) {
  return new Promise((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
}

async function echoOnce(ws, payload, binary) {
  const reply = nextMessage(ws);
  ws.send(payload, { binary });
  return reply;
}

async function closeNormally(ws) {
  const closed = closeEvent(ws);
  ws.close(1000, "done");
  return closed;
}

const cases = {
  async text(url) {
    return withSocket(url, undefined, async (ws) => {
      const sent = "héllo, wörld ✓ {\"type\":\"req\"}";
      const reply = await echoOnce(ws, sent, false);
      await closeNormally(ws);
      return { sent, received: reply.data.toString("utf8"), binary: reply.isBinary };
    });
  },

  async binary(url) {
    return withSocket(url, undefined, async (ws) => {
      const sent = randomBytes(4096);
      const reply = await echoOnce(ws, sent, true);
      await closeNormally(ws);
      return { sent_hex: sent.toString("hex"), received_hex: reply.data.toString("hex"), binary: reply.isBinary };
    });
  },

  async empty(url) {
    return withSocket(url, undefined, async (ws) => {
      const text = await echoOnce(ws, "", false);
      const binary = await echoOnce(ws, Buffer.alloc(0), true);
      await closeNormally(ws);
      return {
        text: { length: text.data.length, binary: text.isBinary },
        binary: { length: binary.data.length, binary: binary.isBinary },
      };
    });
  },

  // Two fragments of one text message with a ping sent between them on the wire.
  async fragmented(url) {
    return withSocket(url, undefined, async (ws) => {
      const events = [];
      ws.on("pong", (data) => events.push(`pong:${data.toString()}`));
      const reply = nextMessage(ws).then((message) => events.push(`message:${message.data.toString()}`));
      ws.send("first fragment, ", { binary: false, fin: false });
      ws.ping("between");
      ws.send("last fragment", { binary: false, fin: true });
      await reply;
      await closeNormally(ws);
      return { events };
    });
  },

  async large(url) {
    return withSocket(url, undefined, async (ws) => {
      const sent = randomBytes(16 << 20);
      const reply = await echoOnce(ws, sent, true);
      await closeNormally(ws);
      return {
        sent_length: sent.length,
        received_length: reply.data.length,
        sent_sha256: sha256(sent),
        received_sha256: sha256(reply.data),
        identical: sent.equals(reply.data),
        binary: reply.isBinary,
      };
    });
  },

  async subprotocol(url) {
    return withSocket(url, ["p1", "p2"], async (ws) => {
      const protocol = ws.protocol;
      await closeNormally(ws);
      return { protocol };
    });
  },

  async close(url) {
    return withSocket(url, undefined, async (ws) => {
      const closed = closeEvent(ws);
      ws.close(4001, "bye");
      return closed;
    });
  },
};

async function main() {
  const [url, ...requested] = process.argv.slice(2);
  if (!url) throw new Error("usage: node ws_client.mjs URL [CASE...]");
  const names = requested.length > 0 ? requested : Object.keys(cases);
  const results = {};
  for (const name of names) {
    if (!cases[name]) throw new Error(`unknown case ${name}; known: ${Object.keys(cases).join(", ")}`);
    results[name] = await cases[name](url);
  }
  process.stdout.write(JSON.stringify(results) + "\n");
}

const deadline = setTimeout(() => {
  process.stderr.write(`ws_client: no result within ${DEADLINE_MS} ms\n`);
  process.exit(3);
}, DEADLINE_MS);

main().then(
  () => clearTimeout(deadline),
  (error) => {
    process.stderr.write(`ws_client: ${error.message}\n`);
    process.exit(1);
  },
);
