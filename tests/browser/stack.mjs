// The local host (target/debug/jobq-local) on a free port, against the emulator that `make test`
// runs, with an API token (or several callers' tokens); and a client for its API.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, "../..");
export const output = path.join(here, "output");
export const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export { freePort };

// `token` is the client's; `tokens`, when given, is the host's JOBQ_API_TOKENS (`token` one of
// them), else `token` is the one admin's JOBQ_API_TOKEN.
export async function startStack(token, { tokens } = {}) {
  const endpoint = process.env.AWS_ENDPOINT_URL;
  assert.ok(endpoint, "AWS_ENDPOINT_URL is not set. Run `make test` (or `make browser-test`): it starts the emulator.");
  const binary = process.env.JOBQ_LOCAL_BIN ?? path.join(root, "target/debug/jobq-local");
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const host = spawn(binary, [], {
    env: {
      ...process.env,
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? "test",
      AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? "test",
      AWS_REGION: process.env.AWS_REGION ?? "us-east-1",
      JOBQ_PREFIX: `b${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}-`,
      JOBQ_PORT: String(port),
      ...(tokens ? { JOBQ_API_TOKENS: tokens } : { JOBQ_API_TOKEN: token }),
      JOBQ_LOCAL_POLL_WAIT_SECONDS: "1",
      JOBQ_LOCAL_VISIBILITY_SECONDS: "10",
      JOBQ_PROGRESS_INTERVAL_MS: "200",
      JOBQ_SHUTDOWN_GRACE_SECONDS: "1",
      RUST_LOG: "warn",
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const log = [];
  host.stderr.on("data", chunk => log.push(chunk.toString()));
  const exited = new Promise(resolve => host.once("exit", code => resolve(code)));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const res = await fetch(base + "/health").catch(() => null);
    if (res && res.ok) break;
    const code = await Promise.race([exited, sleep(200).then(() => undefined)]);
    assert.equal(code, undefined, `jobq-local (${binary}) exited at start:\n${log.join("")}`);
    assert.ok(Date.now() < deadline, `jobq-local did not answer within 60 s:\n${log.join("")}`);
  }

  async function api(method, route, body, as = token) {
    const headers = { Authorization: `Bearer ${as}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(base + route, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const data = await res.json();
    assert.ok(res.ok, `${method} ${route}: ${res.status} ${JSON.stringify(data)}`);
    return data;
  }

  async function stop() {
    if (host.exitCode !== null) return;
    host.kill("SIGTERM");
    await Promise.race([exited, sleep(10_000)]);
    if (host.exitCode === null) host.kill("SIGKILL");
  }

  return { base, api, stop };
}
