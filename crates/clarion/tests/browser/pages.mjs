// Walks Clarion's web pages (docs/web.md) in a real browser — Debian's Chromium driven by playwright-core —
// the way a person would: signs in, opens every page of the table with real data, acknowledges a page,
// previews, creates and expires a silence, and sends an announcement that is first refused for falling
// short of the communication standard, then checked (which sends nothing), then sent. Fields are found by their label and buttons by their name, so the
// walk doubles as a check that every field has a label and every button a name.
//
// crates/clarion/tests/web.rs (`browser_walks_every_page`) starts the server, seeds it and runs this
// script; by hand: CLARION_URL=http://127.0.0.1:9095 CLARION_TOKEN=… ARTIFACTS=/tmp/shots PAGE_ID=1 node pages.mjs
//
// Environment:
//   CLARION_URL       the server (required)
//   CLARION_TOKEN     a token with every scope (admin); empty when the server has no tokens
//   ARTIFACTS         where the screenshots go (default: ./artifacts)
//   PAGE_ID           an open page of alerts to acknowledge (required)
//   PAGE_SUMMARY      its summary, expected on the Now page and its timeline (optional)
//   SILENCE_MATCHER   the matchers of the silence to create (default: alertname="DiskFilling")
//   SILENCE_ALERT     the name of the firing alert they match (default: DiskFilling)
//   SILENCE_COMMENT   the silence's comment, to find it in the list (default: below)
//   ANNOUNCE_TEAM     the team to address the announcement to (required)
//   DEAD_CHANNEL      a channel with a dead delivery, expected on the Deliveries page (optional)
//   CALENDAR_EVENT    the summary of a planned event, expected on the Calendar page (optional)
//   FEEDBACK_COMMENT  the comment given with the keyboard on the page's timeline (default: below)
//   CHROMIUM          the browser (default: /usr/bin/chromium); browsers are never downloaded
//
// Exits 0 when every step passed; otherwise 1 with the step, what was expected and what the page showed.

import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

// axe-core, the accessibility engine (pinned in package-lock.json), checks the page every step ends on
// against WCAG 2.1 A and AA (labels, names, headings, contrast, landmarks, language); any violation fails
// the step. It is evaluated through the DevTools protocol, which the pages' Content-Security-Policy (no
// scripts at all) does not govern, so the pages are checked as they are served.
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

// What the pages are expected to say, from docs/web.md; adjust here when the wording changes.
const HEADINGS = {
  signIn: /sign in/i,
  now: /now/i,
  silences: /silences/i,
  newSilence: /new silence|silence/i,
  announcements: /announcements/i,
  deliveries: /deliveries/i,
  calendar: /calendar/i,
  reports: /reports/i,
};
const LABELS = {
  token: 'Token',
  matchers: 'Matchers',
  duration: 'Duration',
  comment: 'Comment',
  createdBy: 'Created by',
  title: 'Title',
  whatChanges: 'What changes',
  why: 'Why',
  impact: 'Impact',
  action: 'Action',
  deadline: 'Deadline',
  owner: 'Owner',
  teams: /^teams?\b/i,
};
const BUTTONS = {
  signIn: 'Sign in',
  acknowledge: 'Acknowledge',
  preview: 'Preview',
  createSilence: 'Create silence',
  expire: 'Expire',
  sendAnnouncement: 'Send announcement',
  check: 'Check',
  retry: 'Retry',
};
const TEXT = {
  // The note after acknowledging, then the fact it adds ("Acknowledged  by web-admin at …").
  acknowledged: /escalation has stopped[\s\S]*by \S+ at /i,
  active: /active/i,
  expired: /expired/i,
  fallsShort: /falls short/i,
  sent: /\bsent\b/i,
  wouldSend: /would/i,
  notAcknowledged: /not (yet )?acknowledged|unacknowledged/i,
};

const env = (name, fallback) => {
  const v = process.env[name];
  if (v !== undefined && v !== '') return v;
  if (fallback === undefined) {
    console.error(`pages.mjs: set ${name}`);
    process.exit(2);
  }
  return fallback;
};
const BASE = env('CLARION_URL').replace(/\/$/, '');
const TOKEN = process.env.CLARION_TOKEN || '';
const ARTIFACTS = env('ARTIFACTS', 'artifacts');
const PAGE_ID = env('PAGE_ID');
const PAGE_SUMMARY = env('PAGE_SUMMARY', '');
const SILENCE_MATCHER = env('SILENCE_MATCHER', 'alertname="DiskFilling"');
const SILENCE_ALERT = env('SILENCE_ALERT', 'DiskFilling');
const SILENCE_COMMENT = env('SILENCE_COMMENT', 'Disk swap on db1, browser test');
const ANNOUNCE_TEAM = env('ANNOUNCE_TEAM');
const DEAD_CHANNEL = env('DEAD_CHANNEL', '');
const CALENDAR_EVENT = env('CALENDAR_EVENT', '');
const FEEDBACK_COMMENT = env('FEEDBACK_COMMENT', 'Given with the keyboard');
const TIMEOUT = 5000;

mkdirSync(ARTIFACTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
context.setDefaultTimeout(TIMEOUT);
const page = await context.newPage();

// A failure of a step: what was expected.
class Expectation extends Error {}

let stepNumber = 0;
let lastStatus = null;

// What the page shows now, for a failure message.
async function showing(p = page) {
  const lines = [`  url: ${p.url()}`, `  last HTTP status: ${lastStatus ?? '-'}`];
  try {
    const h1 = await p.locator('h1').allInnerTexts();
    lines.push(`  h1: ${JSON.stringify(h1)}`);
    const text = (await p.locator('body').innerText({ timeout: 1000 })).replace(/\s+/g, ' ').trim();
    lines.push(`  text: ${text.slice(0, 1500)}${text.length > 1500 ? ' …' : ''}`);
  } catch (e) {
    lines.push(`  (could not read the page: ${e.message.split('\n')[0]})`);
  }
  return lines.join('\n');
}

// Runs one step, then saves a full-page screenshot `NN-name.png` (`NN-name-FAILED.png` when it failed,
// after which the script exits 1). A step that returns another page (the phone-sized one) is shot
// instead of the main one, and its context closed.
async function step(name, fn) {
  stepNumber += 1;
  const file = `${String(stepNumber).padStart(2, '0')}-${name}`;
  const started = Date.now();
  let shot = page;
  try {
    shot = (await fn()) ?? page;
  } catch (e) {
    const failed = e.page ?? page;
    await failed.screenshot({ path: join(ARTIFACTS, `${file}-FAILED.png`), fullPage: true }).catch(() => {});
    const what = e instanceof Expectation ? e.message : `${e.message.split('\n').slice(0, 6).join('\n')}`;
    console.error(`FAILED step ${file}: ${what}\nThe page showed:\n${await showing(failed)}`);
    console.error(`Screenshots: ${ARTIFACTS}`);
    await browser.close();
    process.exit(1);
  }
  const violations = await accessibilityViolations(shot);
  if (violations.length > 0) {
    await shot.screenshot({ path: join(ARTIFACTS, `${file}-FAILED.png`), fullPage: true }).catch(() => {});
    console.error(`FAILED step ${file}: ${shot.url()} breaks WCAG 2.1 AA (axe-core):\n${violations.join('\n')}`);
    await browser.close();
    process.exit(1);
  }
  await shot.screenshot({ path: join(ARTIFACTS, `${file}.png`), fullPage: true });
  if (shot !== page) await shot.context().close();
  expect(checkedRules > 0, 'axe-core applied no rule to the page');
  console.log(`ok ${file} (${Date.now() - started} ms; axe-core: ${checkedRules} rules applied, no violation)`);
}

// How many axe rules applied to the last page checked (printed with each step, so a check that ran no
// rule shows).
let checkedRules = 0;

// axe-core's WCAG 2.1 A/AA violations of the page `p` shows, one line per rule with its first nodes.
async function accessibilityViolations(p) {
  if (!(await p.evaluate(() => typeof window.axe === 'object'))) await p.evaluate(AXE);
  const result = await p.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] }),
    WCAG,
  );
  checkedRules = result.passes.length + result.violations.length + result.incomplete.length;
  return result.violations.map(
    (v) =>
      `  ${v.id} (${v.impact}): ${v.help}\n` +
      v.nodes
        .slice(0, 3)
        .map((n) => `    ${n.target.join(' ')}: ${n.failureSummary?.split('\n').slice(0, 2).join(' ')}`)
        .join('\n'),
  );
}

function expect(condition, message) {
  if (!condition) throw new Expectation(message);
}

// The text of the main landmark; of the whole body when the page has none (said once).
let warnedMain = false;
async function mainText(p = page) {
  if ((await p.locator('main').count()) === 0) {
    if (!warnedMain) console.log(`note: ${p.url()} has no <main> landmark; reading the whole body`);
    warnedMain = true;
    return p.locator('body').innerText();
  }
  return p.locator('main').first().innerText();
}

// Opens `path` and checks it answered 200 and its first-level heading matches `heading`.
async function open(path, heading, p = page) {
  const response = await p.goto(BASE + path);
  lastStatus = response?.status() ?? null;
  expect(lastStatus === 200, `GET ${path}: expected 200, got ${lastStatus}`);
  await expectHeading(heading, `GET ${path}`, p);
}

async function expectHeading(heading, where, p = page) {
  const h1 = p.getByRole('heading', { level: 1 });
  const count = await h1.count();
  expect(count >= 1, `${where}: expected a first-level heading matching ${heading}, found none`);
  const texts = await h1.allInnerTexts();
  expect(
    texts.some((t) => heading.test(t)),
    `${where}: expected the first-level heading to match ${heading}, it says ${JSON.stringify(texts)}`,
  );
}

async function expectText(pattern, where, p = page) {
  const text = await mainText(p);
  const re = typeof pattern === 'string' ? new RegExp(escapeRe(pattern), 'i') : pattern;
  expect(re.test(text), `${where}: expected the page to say ${re}`);
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// The one field labelled `label`, or a failure listing the labels the page has.
async function field(label) {
  const exact = page.getByLabel(label, { exact: true });
  const loose = page.getByLabel(label);
  const locator = (await exact.count()) === 1 ? exact : loose;
  const n = await locator.count();
  if (n !== 1) {
    const labels = await page.locator('label').allInnerTexts();
    throw new Expectation(
      `expected one field labelled ${JSON.stringify(String(label))}, found ${n}; the labels on the page: ${JSON.stringify(labels)}`,
    );
  }
  return locator;
}

// The one button named `name` (within `scope`), or a failure listing the buttons there.
async function button(name, scope = page) {
  const locator = scope.getByRole('button', { name, exact: true });
  const n = await locator.count();
  if (n === 0) {
    const names = await scope.getByRole('button').allInnerTexts();
    throw new Expectation(`expected a button named ${JSON.stringify(name)}; the buttons: ${JSON.stringify(names)}`);
  }
  return locator.first();
}

// Clicks `target` (a form's submit button) and waits for the answer to load; records its status.
async function submit(target) {
  const [response] = await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    target.click(),
  ]);
  lastStatus = response?.status() ?? null;
  return lastStatus;
}

// Addresses the announcement to `team`: a checkbox named after it, or a select labelled "Team(s)".
async function pickTeam(team) {
  const box = page.getByRole('checkbox', { name: team, exact: true });
  if ((await box.count()) >= 1) {
    await box.first().check();
    return;
  }
  const select = page.getByLabel(LABELS.teams);
  if ((await select.count()) >= 1) {
    const tag = await select.first().evaluate((el) => el.tagName.toLowerCase());
    if (tag === 'select') {
      await select.first().selectOption({ label: team }).catch(() => select.first().selectOption(team));
    } else {
      await select.first().fill(team);
    }
    return;
  }
  const labels = await page.locator('label').allInnerTexts();
  throw new Expectation(
    `expected a checkbox labelled ${JSON.stringify(team)} or a field labelled "Teams" to address the announcement; the labels: ${JSON.stringify(labels)}`,
  );
}

// ---------------------------------------------------------------------------------------------------------

if (TOKEN) {
  await step('sign-in', async () => {
    await open('/ui/sign-in', HEADINGS.signIn);
    await (await field(LABELS.token)).fill(TOKEN);
    const status = await submit(await button(BUTTONS.signIn));
    expect(status !== null && status < 400, `signing in: expected success, got ${status}`);
    expect(!new URL(page.url()).pathname.startsWith('/ui/sign-in'), 'after signing in: still on the sign-in page');
  });
}

await step('now', async () => {
  await open('/ui/', HEADINGS.now);
  if (PAGE_SUMMARY) await expectText(PAGE_SUMMARY, 'the Now page (the open page)');
});

await step('now-critical', async () => {
  await open(`/ui/?filter=${encodeURIComponent('{severity="critical"}')}`, HEADINGS.now);
  if (PAGE_SUMMARY) await expectText(PAGE_SUMMARY, 'the Now page filtered on critical');
});

await step('now-phone', async () => {
  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 },
    isMobile: true,
    hasTouch: true,
    storageState: await context.storageState(),
  });
  phone.setDefaultTimeout(TIMEOUT);
  const small = await phone.newPage();
  try {
    await open('/ui/', HEADINGS.now, small);
    const overflow = (await small.evaluate(() => document.documentElement.scrollWidth)) - 390;
    expect(overflow <= 0, `the Now page at 390 px wide scrolls sideways by ${overflow} px`);
  } catch (e) {
    e.page = small;
    throw e;
  }
  return small;
});

await step('page-timeline', async () => {
  await open(`/ui/pages/${PAGE_ID}`, PAGE_SUMMARY ? new RegExp(escapeRe(PAGE_SUMMARY), 'i') : /./);
  await button(BUTTONS.acknowledge);
});

await step('page-acknowledged', async () => {
  const status = await submit(await button(BUTTONS.acknowledge));
  expect(status !== null && status < 400, `acknowledging: expected success, got ${status}`);
  await expectText(TEXT.acknowledged, 'after acknowledging');
});

// Feedback with the keyboard only: type a comment, Tab to the first verdict button, press Enter.
await step('feedback-by-keyboard', async () => {
  const comment = page.getByLabel(/^comment/i);
  await comment.focus();
  await page.keyboard.type(FEEDBACK_COMMENT);
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => document.activeElement?.textContent?.trim() ?? '');
  expect(/useful/i.test(focused), `Tab from the comment should reach the first verdict button, it reached ${JSON.stringify(focused)}`);
  const [response] = await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
  lastStatus = response?.status() ?? null;
  expect(lastStatus === 200, `feedback by keyboard: expected 200 after the redirect, got ${lastStatus}`);
  await expectText(/feedback is recorded/i, 'after giving feedback');
});

await step('silences', async () => {
  await open('/ui/silences', HEADINGS.silences);
});

await step('new-silence-preview', async () => {
  await open('/ui/silences/new', HEADINGS.newSilence);
  await (await field(LABELS.matchers)).fill(SILENCE_MATCHER);
  await (await field(LABELS.duration)).fill('2h');
  await (await field(LABELS.comment)).fill(SILENCE_COMMENT);
  await (await field(LABELS.createdBy)).fill('browser-test');
  const status = await submit(await button(BUTTONS.preview));
  expect(status === 200, `preview: expected 200, got ${status}`);
  // Listed as an entry (a table cell, a list item), not only named somewhere on the page.
  const listed = page.locator('main td, main li, main dd').filter({ hasText: SILENCE_ALERT });
  expect(
    (await listed.count()) >= 1,
    `the preview of ${SILENCE_MATCHER}: expected the alert it matches, ${SILENCE_ALERT}, listed in a table or list`,
  );
});

await step('silence-created', async () => {
  const status = await submit(await button(BUTTONS.createSilence));
  expect(status !== null && status < 400, `creating the silence: expected success, got ${status}`);
  if (!new URL(page.url()).pathname.replace(/\/$/, '').endsWith('/ui/silences')) {
    await open('/ui/silences', HEADINGS.silences);
  }
  const row = await silenceRow();
  const text = await row.innerText();
  expect(TEXT.active.test(text), `the new silence should be listed as active; its entry says: ${text}`);
});

// Now, answered: the page acknowledged (by whom, since when) and the silenced alert held back. This is
// the screenshot of the README (docs/screenshots/now.png is a copy of it).
await step('now-answered', async () => {
  await open('/ui/', HEADINGS.now);
  await expectText(/acknowledged by/i, 'the Now page after acknowledging');
  await expectText(/silenced by/i, 'the Now page while the silence is active');
});

await step('silence-expired', async () => {
  await open('/ui/silences', HEADINGS.silences);
  const row = await silenceRow();
  const status = await submit(await button(BUTTONS.expire, row));
  expect(status !== null && status < 400, `expiring: expected success, got ${status}`);
  if (!new URL(page.url()).pathname.replace(/\/$/, '').endsWith('/ui/silences')) {
    await open('/ui/silences', HEADINGS.silences);
  }
  const again = await silenceRow();
  const text = await again.innerText();
  expect(TEXT.expired.test(text), `the silence should be shown as expired; its entry says: ${text}`);
});

// The smallest element of the silences list that names our silence (by its comment): a table row, a
// list item, an article or a section.
async function silenceRow() {
  for (const selector of ['tr', 'li', 'article', 'section', 'form', 'div']) {
    const rows = page.locator(selector).filter({ hasText: SILENCE_COMMENT });
    const n = await rows.count();
    if (n >= 1) return rows.last();
  }
  throw new Expectation(`the silences list does not show the silence commented ${JSON.stringify(SILENCE_COMMENT)}`);
}

await step('deliveries', async () => {
  await open('/ui/deliveries', HEADINGS.deliveries);
  if (DEAD_CHANNEL) {
    await expectText(DEAD_CHANNEL, 'the Deliveries page (a dead delivery)');
    await button(BUTTONS.retry);
  }
});

await step('calendar', async () => {
  await open('/ui/calendar', HEADINGS.calendar);
  if (CALENDAR_EVENT) await expectText(CALENDAR_EVENT, 'the Calendar page (a planned event)');
});

await step('reports', async () => {
  await open('/ui/reports?days=30', HEADINGS.reports);
});

await step('announcement-refused', async () => {
  await open('/ui/announcements', HEADINGS.announcements);
  await (await field(LABELS.title)).fill('FYI');
  await pickTeam(ANNOUNCE_TEAM);
  const status = await submit(await button(BUTTONS.sendAnnouncement));
  expect(status !== null && status !== 500, `a vague announcement: expected a refusal with findings, got ${status}`);
  const alerts = await page.getByRole('alert').count();
  const text = await mainText();
  expect(
    alerts > 0 || TEXT.fallsShort.test(text),
    `a vague announcement ("FYI"): expected its findings (an element with role=alert, or ${TEXT.fallsShort})`,
  );
});

const deadline = new Date(Date.now() + 10 * 24 * 3600 * 1000).toISOString().slice(0, 10);
const announcementTitle = 'Checkout database moves to the new cluster';

// Fills every field of the announcement form with a clear announcement to ANNOUNCE_TEAM.
async function fillAnnouncement() {
  // The form may come back filled in (or not) after an answer; every field is filled again.
  if ((await page.getByLabel(LABELS.title).count()) === 0) await open('/ui/announcements', HEADINGS.announcements);
  await (await field(LABELS.title)).fill(announcementTitle);
  await (await field(LABELS.whatChanges)).fill('The primary moves to pg-17; the old host is retired');
  await (await field(LABELS.why)).fill('The old hardware is out of support');
  await (await field(LABELS.impact)).fill('Writes pause for up to 30 seconds at 02:00 UTC');
  await (await field(LABELS.action)).fill('Make sure your service retries writes');
  await (await field(LABELS.deadline)).fill(deadline);
  await (await field(LABELS.owner)).fill('platform-team');
  const box = page.getByRole('checkbox', { name: ANNOUNCE_TEAM, exact: true });
  if ((await box.count()) === 0 || !(await box.first().isChecked())) await pickTeam(ANNOUNCE_TEAM);
}

await step('announcement-checked', async () => {
  await fillAnnouncement();
  const status = await submit(await button(BUTTONS.check));
  expect(status === 200, `checking a clear announcement: expected 200, got ${status}`);
  const statuses = (await page.getByRole('status').allInnerTexts()).join(' | ');
  expect(
    TEXT.wouldSend.test(statuses) && statuses.includes(ANNOUNCE_TEAM),
    `checking a clear announcement: expected a status saying it would go to ${ANNOUNCE_TEAM} (${TEXT.wouldSend}); status: ${statuses}`,
  );
});

await step('announcement-sent', async () => {
  await fillAnnouncement();
  const status = await submit(await button(BUTTONS.sendAnnouncement));
  expect(status !== null && status < 400, `a clear announcement: expected it sent, got ${status}`);
  const headings = (await page.getByRole('heading').allInnerTexts()).join(' | ');
  const statuses = (await page.getByRole('status').allInnerTexts()).join(' | ');
  expect(
    TEXT.sent.test(headings) || TEXT.sent.test(statuses),
    `a clear announcement: expected a heading or status saying "sent"; headings: ${headings}; status: ${statuses}`,
  );
});

await step('announcement-page', async () => {
  if (!/^\/ui\/announcements\/[^/]+$/.test(new URL(page.url()).pathname)) {
    const link = page.locator('a[href*="/ui/announcements/"]').filter({ hasText: announcementTitle });
    const n = await link.count();
    if (n === 0) {
      await open('/ui/announcements', HEADINGS.announcements);
    }
    const again = page.locator('a[href*="/ui/announcements/"]').filter({ hasText: announcementTitle });
    expect((await again.count()) >= 1, `expected a link to the announcement "${announcementTitle}"`);
    const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), again.first().click()]);
    lastStatus = response?.status() ?? null;
    expect(lastStatus === 200, `the announcement's page: expected 200, got ${lastStatus}`);
  }
  await expectText(announcementTitle, "the announcement's page");
  // The team's own entry (a table row or list item) says it has not acknowledged yet.
  const entry = page.locator('main tr, main li').filter({ hasText: ANNOUNCE_TEAM });
  expect((await entry.count()) >= 1, `the announcement's page should list the team ${ANNOUNCE_TEAM}`);
  const said = await entry.first().innerText();
  expect(
    TEXT.notAcknowledged.test(said),
    `the announcement's page should list ${ANNOUNCE_TEAM} as not yet acknowledged (${TEXT.notAcknowledged}); its entry says: ${said}`,
  );
});

await browser.close();
console.log(`all steps passed; screenshots in ${ARTIFACTS}`);
