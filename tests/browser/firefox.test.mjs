// The dashboard in Firefox (Debian's firefox-esr, headless, through geckodriver and the W3C
// WebDriver protocol): the same page works there too. The full operator flow, with console and
// Content-Security-Policy checks, runs in Chromium (dashboard.test.mjs).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { freePort, output, root, sleep, startStack } from "./stack.mjs";

const firefox = process.env.JOBQ_FIREFOX ?? "/usr/bin/firefox-esr";
const geckodriver = process.env.JOBQ_GECKODRIVER ?? path.join(root, ".tools/bin/geckodriver");
const token = "firefox-test-token";
const ELEMENT = "element-6066-11e4-a52e-4f735466cecf"; // the W3C web element identifier

/** Just the WebDriver commands this test needs. */
class Session {
  static async start() {
    const port = await freePort();
    // Firefox writes its own internal warnings to stderr; WebDriver errors come back in responses.
    const driver = spawn(geckodriver, ["--port", String(port), "--log", "warn"], { stdio: "ignore" });
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ready = await fetch(url + "/status").then(r => r.json()).catch(() => null);
      if (ready?.value?.ready) break;
      assert.ok(Date.now() < deadline, `geckodriver (${geckodriver}) did not start`);
      await sleep(100);
    }
    const prefs = {
      // A closed network: nothing to update, report or check in the background.
      "app.update.disabledForTesting": true,
      "browser.safebrowsing.malware.enabled": false,
      "browser.safebrowsing.phishing.enabled": false,
      "datareporting.policy.dataSubmissionEnabled": false,
      "network.captive-portal-service.enabled": false,
      "network.connectivity-service.enabled": false,
      "toolkit.telemetry.enabled": false,
    };
    const created = await fetch(url + "/session", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ capabilities: { alwaysMatch: {
        browserName: "firefox",
        "moz:firefoxOptions": { binary: firefox, args: ["-headless", "--width=1366", "--height=900"], prefs },
      } } }),
    }).then(r => r.json());
    assert.ok(created.value?.sessionId, `no Firefox session: ${JSON.stringify(created)}`);
    const session = new Session(driver, `${url}/session/${created.value.sessionId}`);
    session.version = created.value.capabilities.browserVersion;
    return session;
  }

  constructor(driver, url) { this.driver = driver; this.url = url; }

  async cmd(method, route, body) {
    const res = await fetch(this.url + route, {
      method, headers: { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await res.json();
    if (!res.ok) throw new Error(`${method} ${route}: ${JSON.stringify(data.value)}`);
    return data.value;
  }

  go(url) { return this.cmd("POST", "/url", { url }); }
  run(script, ...args) { return this.cmd("POST", "/execute/sync", { script, args }); }
  async find(css) {
    const found = await this.cmd("POST", "/element", { using: "css selector", value: css });
    assert.ok(found?.[ELEMENT], `${css}: ${JSON.stringify(found)}`);
    return found[ELEMENT];
  }
  click(id) { return this.cmd("POST", `/element/${id}/click`, {}); }
  type(id, text) { return this.cmd("POST", `/element/${id}/value`, { text }); }
  async screenshot(file) { writeFileSync(file, Buffer.from(await this.cmd("GET", "/screenshot"), "base64")); }
  resize(width, height) { return this.cmd("POST", "/window/rect", { width, height }); }

  /** Poll a script until it returns something truthy. */
  async until(what, script, ...args) {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const value = await this.run(script, ...args);
      if (value) return value;
      assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
      await sleep(200);
    }
  }

  async quit() {
    await fetch(this.url, { method: "DELETE" }).catch(() => {});
    this.driver.kill();
  }
}

let stack, session;

before(async () => {
  stack = await startStack(token);
  mkdirSync(output, { recursive: true });
  session = await Session.start();
});

after(async () => {
  await session?.quit();
  await stack?.stop();
});

test("the dashboard works in Firefox", async () => {
  const { base, api } = stack;
  const recoversAt = Date.now() + 5_000;
  const sleeper = await api("POST", "/jobs", { type: "sleep", payload: { seconds: 6, steps: 30 } });
  const failing = await api("POST", "/jobs", {
    type: "fail", max_attempts: 1, priority: "high",
    payload: { message: "the upstream is down", until: new Date(recoversAt).toISOString() },
  });

  await session.go(base + "/dashboard");
  await session.type(await session.find("#token"), token);
  await session.click(await session.find("#login-form button[type=submit]"));
  await session.until("the first refresh", `return document.getElementById("live").textContent.startsWith("live")`);

  // The page's script ran under its nonce-only policy, and the progress bar moves.
  const bar = `progress[aria-label="Progress of job ${sleeper.id}"]`;
  const value = `return document.querySelector(arguments[0])?.value ?? -1`;
  await session.until("progress", `return (document.querySelector(arguments[0])?.value ?? 0) > 0`, bar);
  const first = await session.run(value, bar);
  await session.until("more progress", `return (document.querySelector(arguments[0])?.value ?? 0) > arguments[1]`, bar, first);

  // Retry the failed job once its dependency is back; it completes.
  const retry = `#failed button[data-retry="${failing.id}"]`;
  await session.until("the failed job", `return document.querySelector(arguments[0]) !== null`, retry);
  await sleep(Math.max(0, recoversAt - Date.now()));
  await session.click(await session.find(retry));
  await session.until("the retried job to complete",
    `return document.querySelector(arguments[0])?.textContent === "completed"`,
    `#recent tr[data-job-id="${failing.id}"] td.status`);

  // Pause and resume the high tier.
  const pauseHigh = `#queues button[data-scope="queue:high"]`;
  await session.click(await session.find(pauseHigh));
  await session.until("paused", `return document.querySelector(arguments[0])?.getAttribute("aria-pressed") === "true"`, pauseHigh);
  assert.ok((await api("GET", "/pause")).paused.includes("queue:high"));
  await session.click(await session.find(pauseHigh));
  await session.until("resumed", `return document.querySelector(arguments[0])?.getAttribute("aria-pressed") === "false"`, pauseHigh);
  assert.deepEqual((await api("GET", "/pause")).paused, []);

  await session.screenshot(path.join(output, "dashboard-firefox.png"));
  await session.resize(390, 844);
  await sleep(300);
  const overflow = await session.run("return document.documentElement.scrollWidth - window.innerWidth");
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than a phone in Firefox ${session.version}`);
});
