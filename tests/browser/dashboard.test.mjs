// The dashboard in a real browser: Debian's headless Chromium driven by playwright-core.
// Starts the local host (target/debug/jobq-local) against the emulator that `make test` runs,
// enqueues jobs through the API, and works the page as an operator would.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { output, sleep, startStack } from "./stack.mjs";

const executablePath = process.env.JOBQ_CHROMIUM ?? "/usr/bin/chromium";
const token = "browser-test-token";
// This machine's network is closed: Chromium must not try to reach Google's services.
const chromiumArgs = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

let stack, base, api, browser;

async function signIn(page, as) {
  await page.getByLabel("This API needs a token (JOBQ_API_TOKENS or JOBQ_API_TOKEN):").fill(as);
  await page.getByRole("button", { name: "Use token" }).click();
  await page.locator("#live", { hasText: "live" }).waitFor();
}

function watchProblems(page) {
  const problems = [];
  page.on("console", message => { if (message.type() === "error") problems.push(message.text()); });
  page.on("pageerror", error => problems.push(String(error)));
  return problems;
}

before(async () => {
  stack = await startStack(token);
  ({ base, api } = stack);
  mkdirSync(output, { recursive: true });
  browser = await chromium.launch({ executablePath, headless: true, args: chromiumArgs });
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

test("an operator watches progress, retries a failed job and pauses a queue", async () => {
  const recoversAt = Date.now() + 5_000;
  const sleeper = await api("POST", "/jobs", { type: "sleep", payload: { seconds: 8, steps: 40 } });
  const second = await api("POST", "/jobs", { type: "sleep", priority: "low", payload: { seconds: 4, steps: 8 } });
  await api("POST", "/jobs/batch", { jobs: [{ type: "noop" }, { type: "noop" }, { type: "echo", payload: { n: 1 } }] });
  const failing = await api("POST", "/jobs", {
    type: "fail", max_attempts: 1, priority: "high",
    payload: { message: "the upstream is down", until: new Date(recoversAt).toISOString() },
  });

  const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  const problems = watchProblems(page);

  // The page asks for the API's token, as any client must present it.
  await page.goto(base + "/dashboard");
  await signIn(page, token);
  // Before the token, the page's requests were refused (401), as they should be; from here on,
  // any console error counts.
  const refused = problems.splice(0);
  assert.ok(refused.length > 0 && refused.every(p => p.includes("401")), `before the token: ${refused}`);

  // A progress bar advances without reloading the page.
  // Rows are rebuilt when their data changes: look the bar up afresh each time.
  const barValue = selector => page.evaluate(sel => document.querySelector(sel)?.value ?? -1, selector);
  const bar = `progress[aria-label="Progress of job ${sleeper.id}"]`;
  await page.waitForFunction(sel => document.querySelector(sel)?.value > 0, bar, { timeout: 30_000 });
  const first = await barValue(bar);
  await page.waitForFunction(([sel, seen]) => document.querySelector(sel)?.value > seen, [bar, first], { timeout: 30_000 });
  const later = await barValue(bar);
  assert.ok(later > first, `progress went from ${first} to ${later}`);
  const step = page.locator(`tr[data-job-id="${sleeper.id}"] .step`);
  assert.match(await step.textContent(), /^step \d+\/40$/);
  // The other sleeper, on the low tier, runs beside it and finishes at 100 %.
  await page.locator(`#recent tr[data-job-id="${second.id}"] td.status`, { hasText: "completed" })
    .waitFor({ timeout: 30_000 });
  assert.equal(await barValue(`progress[aria-label="Progress of job ${second.id}"]`), 100);

  // The failed job shows its error; once its dependency is back, Retry makes it complete.
  const failedRow = page.locator(`#failed tr[data-job-id="${failing.id}"]`);
  await failedRow.waitFor({ timeout: 30_000 });
  assert.equal(await failedRow.locator(".error-text").textContent(), "the upstream is down");
  await sleep(Math.max(0, recoversAt - Date.now()));
  await page.getByRole("button", { name: `Retry job ${failing.id}` }).click();
  await page.locator(`#recent tr[data-job-id="${failing.id}"] td.status`, { hasText: "completed" })
    .waitFor({ timeout: 30_000 });
  await failedRow.waitFor({ state: "detached" });
  assert.equal((await api("GET", `/jobs/${failing.id}`)).status, "completed");

  // Pause and resume a tier: the button, the state and the API agree.
  await page.getByRole("button", { name: "Pause high queue" }).click();
  const resumeHigh = page.getByRole("button", { name: "Resume high queue" });
  await resumeHigh.waitFor();
  assert.equal(await resumeHigh.getAttribute("aria-pressed"), "true");
  assert.ok((await api("GET", "/pause")).paused.includes("queue:high"));
  await resumeHigh.click();
  await page.getByRole("button", { name: "Pause high queue" }).waitFor();
  assert.ok(!(await api("GET", "/pause")).paused.includes("queue:high"));

  // Pause everything from the header, then resume.
  await page.getByRole("button", { name: "Pause all" }).click();
  await page.getByRole("button", { name: "Resume all" }).waitFor();
  assert.deepEqual((await api("GET", "/pause")).paused, ["all"]);
  await page.getByRole("button", { name: "Resume all" }).click();
  await page.getByRole("button", { name: "Pause all" }).waitFor();

  // The batch reaches 100 %, and the status counts follow the table.
  await page.waitForFunction(() => document.querySelector("#batches progress")?.value === 100, null, { timeout: 30_000 });
  await page.locator("#batches td", { hasText: "done" }).waitFor();
  await page.locator('#counts li[data-status="completed"] .n').filter({ hasNotText: /^0$/ }).waitFor();

  await page.screenshot({ path: path.join(output, "dashboard.png"), fullPage: true });

  // On a phone: nothing wider than the screen but the tables' own scroll areas.
  await page.setViewportSize({ width: 390, height: 844 });
  await sleep(300);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than a phone`);
  await page.screenshot({ path: path.join(output, "dashboard-phone.png"), fullPage: true });

  assert.deepEqual(problems, [], "no script errors and no Content-Security-Policy violations");
  await page.close();
});

test("a submitter sees only its own jobs, with owner and group; an admin sees everyone's", async () => {
  const [alice, bob, admin] = ["owners-alice-token", "owners-bob-token", "owners-admin-token"];
  const owners = await startStack(admin, {
    tokens: `${alice}=alice:submitter,${bob}=bob:submitter,${admin}=ops:admin`,
  });
  try {
    const alices = await owners.api("POST", "/jobs", { type: "noop", group: "book:123" }, alice);
    const bobs = await owners.api("POST", "/jobs", { type: "noop" }, bob);
    assert.equal(alices.owner, "alice");
    assert.equal(bobs.owner, "bob");

    // Each caller in a page (and so a session storage) of its own.
    const open = async as => {
      const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
      const problems = watchProblems(page);
      await page.goto(owners.base + "/dashboard");
      await signIn(page, as);
      const refused = problems.splice(0);
      assert.ok(refused.every(p => p.includes("401")), `before the token: ${refused}`);
      return { page, problems };
    };
    const row = (page, job) => page.locator(`#recent tr[data-job-id="${job.id}"]`);

    const a = await open(alice);
    await row(a.page, alices).waitFor();
    assert.equal(await row(a.page, alices).locator("td.owner").textContent(), "alice");
    assert.equal(await row(a.page, alices).locator("td.group").textContent(), "book:123");
    assert.equal(await a.page.locator("#who").textContent(), "alice · submitter");
    // A few refreshes later, still no sign of Bob's job anywhere on the page.
    await sleep(3_500);
    assert.equal(await a.page.locator(`[data-job-id="${bobs.id}"]`).count(), 0);
    assert.equal(await a.page.locator("#recent td.owner", { hasNotText: "alice" }).count(), 0);
    // What a submitter may not read or do is left out, not an error: no statistics, no pauses.
    for (const part of ["#queues-section", "#counts-section", "#types-section", "#pause-all"]) {
      assert.ok(await a.page.locator(part).isHidden(), `${part} is hidden from a submitter`);
    }
    assert.ok(await a.page.locator("#recent-section").isVisible());
    assert.match(await a.page.locator("#live").textContent(), /^live/);
    assert.deepEqual(a.problems, [], "no refusals (403) and no script errors for a submitter");
    await a.page.screenshot({ path: path.join(output, "dashboard-submitter.png"), fullPage: true });
    await a.page.close();

    const x = await open(admin);
    await row(x.page, alices).waitFor();
    await row(x.page, bobs).waitFor();
    assert.equal(await row(x.page, alices).locator("td.owner").textContent(), "alice");
    assert.equal(await row(x.page, alices).locator("td.group").textContent(), "book:123");
    assert.equal(await row(x.page, bobs).locator("td.owner").textContent(), "bob");
    assert.equal(await row(x.page, bobs).locator("td.group").textContent(), "–");
    assert.equal(await x.page.locator("#who").textContent(), "ops · admin");
    assert.ok(await x.page.locator("#queues-section").isVisible());
    assert.ok(await x.page.locator("#pause-all").isVisible());
    assert.deepEqual(x.problems, []);
    await x.page.close();
  } finally {
    await owners.stop();
  }
});
