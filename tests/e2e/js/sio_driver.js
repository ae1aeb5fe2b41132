// Drives the official socket.io-client for the Python tests.
// argv[2]: server URL (including the /realtime namespace), argv[3]: JSON client options.
// Commands arrive as JSON lines on stdin; observations leave as JSON lines on stdout.
"use strict";
const path = require("path");
const readline = require("readline");
const { io } = require(path.join(process.cwd(), "node_modules", "socket.io-client"));

const url = process.argv[2];
const options = JSON.parse(process.argv[3] || "{}");
const trackOffset = Boolean(options.trackOffset);
delete options.trackOffset;
const socket = io(url, { reconnectionDelay: 100, reconnectionDelayMax: 500, ...options });

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

socket.io.on("open", () => {
  const engine = socket.io.engine;
  out({ type: "engine_open", transport: engine.transport.name });
  engine.once("upgrade", (t) => out({ type: "upgrade", transport: t.name }));
});
socket.on("connect", () => out({ type: "connect", transport: socket.io.engine.transport.name }));
socket.on("connect_error", (err) => out({ type: "connect_error", message: err.message, data: err.data ?? null }));
socket.on("disconnect", (reason) => out({ type: "disconnect", reason }));
socket.onAny((event, ...args) => {
  const last = args[args.length - 1];
  if (trackOffset && last && typeof last === "object" && typeof last.offset === "string") {
    socket.auth = { ...(socket.auth || {}), last_offset: last.offset };
  }
  out({ type: "event", event, args });
});

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  const cmd = JSON.parse(line);
  switch (cmd.cmd) {
    case "emit":
      if (cmd.ack) {
        try {
          const reply = await socket.timeout(cmd.timeout ?? 10000).emitWithAck(cmd.event, ...cmd.args);
          out({ type: "ack", id: cmd.id, reply });
        } catch (err) {
          out({ type: "ack_timeout", id: cmd.id });
        }
      } else {
        socket.emit(cmd.event, ...cmd.args);
        out({ type: "emitted", id: cmd.id });
      }
      break;
    case "auth":
      socket.auth = cmd.auth;
      out({ type: "auth_set", id: cmd.id });
      break;
    case "drop": {
      // Kill the underlying connection abruptly, as a lost network would; the client reconnects.
      const transport = socket.io.engine.transport;
      if (transport.ws) transport.ws.terminate();
      else socket.io.engine.close();
      out({ type: "dropped", id: cmd.id });
      break;
    }
    case "connect":
      socket.connect();
      break;
    case "close":
      socket.disconnect();
      out({ type: "closed", id: cmd.id });
      process.exit(0);
  }
});
rl.on("close", () => process.exit(0));
