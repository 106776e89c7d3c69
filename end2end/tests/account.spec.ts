import { type Browser, type BrowserContext, type Page, type Locator } from '@playwright/test';
import {
  expect,
  test,
  PASSWORD,
  expectSignedIn,
  expectSignedOut,
  hydrated,
  logIn,
  publish,
  recordApiTraffic,
  recordTraffic,
  register,
  uniqueEmail,
  waitPastAccessLifetime,
} from './helpers';

/** The second device: another browser on another system, so the list can tell them apart. */
const FIREFOX_ON_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
const NEW_PASSWORD = 'a different passphrase entirely';
const DELETE_SESSION = /^DELETE \/auth\/sessions\/[0-9a-f-]{36} 204$/;

function sessionList(page: Page): Locator {
  return page.getByRole('list', { name: 'Your sessions' });
}

function sessions(page: Page): Locator {
  return sessionList(page).getByRole('listitem');
}

/**
 * One account signed in twice: `page` (Playwright's desktop Chrome, on
 * Windows by its user agent) registered it, and a second browser context
 * (Firefox on Linux by its user agent) logged in to it and waits on /posts.
 */
async function twoDevices(page: Page, browser: Browser): Promise<{ email: string; other: BrowserContext; b: Page }> {
  const email = uniqueEmail();
  await register(page, email);
  const other = await browser.newContext({ userAgent: FIREFOX_ON_LINUX });
  const b = await other.newPage();
  await b.goto('/login?next=/posts');
  await logIn(b, email);
  await expect(b).toHaveURL(/\/posts$/);
  await hydrated(b);
  return { email, other, b };
}

async function openAccount(page: Page): Promise<void> {
  await page.goto('/account');
  await hydrated(page);
  await expect(page.getByRole('heading', { name: 'Where you are signed in' })).toBeVisible();
}

/** B's next action after its access token expired: publishing a post. It should not get through. */
async function expectNextActionSignsOut(b: Page): Promise<void> {
  await waitPastAccessLifetime(b);
  const traffic = recordApiTraffic(b);
  await b.getByLabel('Title').fill('Never published');
  await b.getByRole('button', { name: 'Publish' }).click();

  await expect(b).toHaveURL(/\/login\?next=\/posts$/);
  await expectSignedOut(b);
  expect(traffic).toEqual(['POST /api/posts 401', 'POST /auth/refresh 401']);
}

test('the account page lists both devices, and a revoked one is signed out at its next action', async ({ page, browser }) => {
  const { email, other, b } = await twoDevices(page, browser);

  await openAccount(page);
  await expect(sessions(page)).toHaveCount(2);
  // This device first, marked, and without a button that would end it.
  const here = sessions(page).filter({ hasText: 'This device' });
  await expect(here).toHaveCount(1);
  await expect(sessions(page).first()).toContainText('This device');
  await expect(here).toContainText('Chrome on Windows');
  await expect(here.getByRole('button')).toHaveCount(0);
  // The other one, summarised readably, with its times.
  const there = sessions(page).filter({ hasText: 'Firefox on Linux' });
  await expect(there).toHaveCount(1);
  await expect(there).not.toContainText('This device');
  for (const label of ['Created', 'Last used', 'Expires']) {
    await expect(there.getByText(label, { exact: true })).toBeVisible();
  }
  await expect(there).toContainText(/\d{1,2} \w{3} \d{4}, \d\d:\d\d UTC/);

  const traffic = recordApiTraffic(page);
  await there
    .getByRole('button', { name: /^Revoke session from Firefox on Linux created \d{1,2} \w{3} \d{4}, \d\d:\d\d UTC$/ })
    .click();

  // Only this device is left, as the server now says.
  await expect(sessions(page)).toHaveCount(1);
  await expect(sessions(page)).toContainText('This device');
  await expect(sessions(page)).not.toContainText('Firefox on Linux');
  const deleted = traffic.findIndex((entry) => DELETE_SESSION.test(entry));
  expect(deleted).toBeGreaterThanOrEqual(0);
  expect(traffic.slice(deleted + 1)).toContain('GET /auth/sessions 200');
  await expectSignedIn(page, email);

  // B still shows its page (its access token is good until it expires), and
  // its next action after that finds the session over.
  await expectSignedIn(b, email);
  await expectNextActionSignsOut(b);

  // This device carries on past its own token's lifetime.
  await page.reload();
  await hydrated(page);
  await expectSignedIn(page, email);
  await expect(sessions(page)).toHaveCount(1);
  await other.close();
});

test('a device whose session was revoked cannot manage the account: it is signed out at once', async ({ page, browser }) => {
  const { email, other, b } = await twoDevices(page, browser);
  await openAccount(b);
  await expect(sessions(b)).toHaveCount(2);
  await openAccount(page);
  await expect(sessions(page)).toHaveCount(2);

  // B gets a fresh access token, then A revokes B's session: for the next
  // few seconds B's token is still good, but its session is over.
  expect((await b.request.post('/auth/refresh')).status()).toBe(200);
  await sessions(page)
    .filter({ hasText: 'Firefox on Linux' })
    .getByRole('button', { name: /^Revoke session from Firefox on Linux/ })
    .click();
  await expect(sessions(page)).toHaveCount(1);

  // B tries to end A's session from its stale page. The server refuses (its
  // session is gone), the refresh that follows is refused too, and B is sent
  // to log in, with the way back here.
  const bTraffic = recordApiTraffic(b);
  await sessions(b)
    .filter({ hasText: 'Chrome on Windows' })
    .getByRole('button', { name: /^Revoke session from Chrome on Windows/ })
    .click();
  await expect(b).toHaveURL(/\/login\?next=\/account$/);
  await expectSignedOut(b);
  expect(bTraffic).toEqual([expect.stringMatching(/^DELETE \/auth\/sessions\/[0-9a-f-]{36} 401$/), 'POST /auth/refresh 401']);

  // A's session was not touched.
  await page.reload();
  await hydrated(page);
  await expectSignedIn(page, email);
  await expect(sessions(page)).toHaveCount(1);
  await expect(sessions(page)).toContainText('This device');
  await other.close();
});

test('revoking a session that already ended elsewhere just brings the list up to date', async ({ page, browser }) => {
  const { email, other, b } = await twoDevices(page, browser);
  await openAccount(page);
  await expect(sessions(page)).toHaveCount(2);

  // B logs out by itself while A's list still shows it.
  await b.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: 'Log out' }).click();
  await expectSignedOut(b);

  const traffic = recordApiTraffic(page);
  await sessions(page)
    .filter({ hasText: 'Firefox on Linux' })
    .getByRole('button', { name: /^Revoke session from Firefox on Linux/ })
    .click();
  await expect(sessions(page)).toHaveCount(1);
  await expect(sessions(page)).toContainText('This device');
  await expect(page.getByRole('alert')).toHaveCount(0);
  expect(traffic.some((entry) => /^DELETE \/auth\/sessions\/[0-9a-f-]{36} 204$/.test(entry))).toBe(true);
  await expectSignedIn(page, email);
  await other.close();
});

test('changing the password keeps this device and signs out the others, which then need the new one', async ({ page, browser }) => {
  const { email, other, b } = await twoDevices(page, browser);
  await openAccount(page);
  await expect(sessions(page)).toHaveCount(2);

  const traffic = recordApiTraffic(page);
  await page.getByLabel('Current password').fill(PASSWORD);
  await page.getByLabel('New password').fill(NEW_PASSWORD);
  await page.getByRole('button', { name: 'Change password' }).click();

  await expect(page.getByRole('status')).toHaveText('Password changed. Every other session has been signed out.');
  await expect(page.getByRole('alert')).toHaveCount(0);
  await expect(sessions(page)).toHaveCount(1);
  await expect(sessions(page)).toContainText('This device');
  await expect(page.getByLabel('Current password')).toHaveValue('');
  await expect(page.getByLabel('New password')).toHaveValue('');
  const changed = traffic.indexOf('POST /auth/password 204');
  expect(changed).toBeGreaterThanOrEqual(0);
  expect(traffic.slice(changed + 1)).toContain('GET /auth/sessions 200');
  await expectSignedIn(page, email);

  // B, after its token expired, reloads its page: the navigation's refresh
  // is refused, and B is sent to log in, without any script's help.
  await waitPastAccessLifetime(b);
  const bTraffic = recordTraffic(b);
  await b.reload();
  await expect(b).toHaveURL(/\/login\?next=\/posts$/);
  await hydrated(b);
  await expectSignedOut(b);
  expect(bTraffic.slice(0, 4)).toEqual(['GET /posts 303', 'GET /auth/refresh 303', 'GET /posts 303', 'GET /login 200']);
  expect(bTraffic.filter((entry) => entry.includes('/auth/'))).toEqual(['GET /auth/refresh 303']);

  // The old password no longer opens the account; the new one does.
  await b.getByLabel('Email').fill(email);
  await b.getByLabel('Password').fill(PASSWORD);
  await b.getByRole('button', { name: 'Log in' }).click();
  await expect(b.getByRole('alert')).toHaveText(/email or password is wrong/);
  await expectSignedOut(b);
  await logIn(b, email, NEW_PASSWORD);
  await expect(b).toHaveURL(/\/posts$/);

  // This device was never signed out.
  await page.reload();
  await hydrated(page);
  await expectSignedIn(page, email);
  await expect(sessions(page)).toHaveCount(2);
  await other.close();
});

test('"Log out everywhere" signs out this tab, its other tab at once, and the other device at its next action', async ({ page, browser }) => {
  const { email, other, b } = await twoDevices(page, browser);
  const secondTab = await page.context().newPage();
  await secondTab.goto('/posts');
  await hydrated(secondTab);
  await expectSignedIn(secondTab, email);
  let secondTabLoads = 0;
  secondTab.on('load', () => secondTabLoads++);

  await openAccount(page);
  await expect(sessions(page)).toHaveCount(2);
  const traffic = recordApiTraffic(page);
  await page.getByRole('button', { name: 'Log out everywhere' }).click();

  // This tab: signed out and asked to log in (and come back here).
  await expect(page).toHaveURL(/\/login\?next=\/account$/);
  await expectSignedOut(page);
  expect(traffic).toContain('POST /auth/logout-all 204');

  // The other tab of this browser hears it without a reload.
  await expectSignedOut(secondTab);
  await expect(secondTab).toHaveURL(/\/login\?next=\/posts$/);
  expect(secondTabLoads).toBe(0);

  // The cookies are gone: nothing is left here to refresh with.
  expect((await page.request.post('/auth/refresh')).status()).toBe(401);

  // The other device finds out at its next action after its token expired.
  await expectNextActionSignsOut(b);
  await other.close();
});

test('a wrong current password shows the server refusal and changes nothing; a weak new one is refused, a short one before sending', async ({ page, browser, request }) => {
  const { email, other, b } = await twoDevices(page, browser);
  await openAccount(page);
  await expect(sessions(page)).toHaveCount(2);
  const traffic = recordApiTraffic(page);

  await page.getByLabel('Current password').fill('not my password at all');
  await page.getByLabel('New password').fill(NEW_PASSWORD);
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(page.getByRole('alert')).toHaveText('The email or password is wrong.');
  await expect(page.getByText('Password changed')).toHaveCount(0);
  expect(traffic.filter((entry) => entry.startsWith('POST /auth/password'))).not.toContain('POST /auth/password 204');
  expect(traffic).toContain('POST /auth/password 401');
  await expectSignedIn(page, email);

  // A too-short new password never leaves the page. A common one does (the
  // browser is not sent the list), and the server refuses it in the same
  // words, in the same place.
  const sentSoFar = traffic.filter((entry) => entry.startsWith('POST /auth/password')).length;
  await page.getByLabel('Current password').fill(PASSWORD);
  await page.getByLabel('New password').fill('short');
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(page.getByRole('alert')).toHaveText('New password: Use at least 8 characters.');
  expect(traffic.filter((entry) => entry.startsWith('POST /auth/password'))).toHaveLength(sentSoFar);
  await page.getByLabel('New password').fill('password');
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(page.getByRole('alert')).toHaveText('New password: That password is one of the most common ones; choose another.');
  // Sent, and refused (after a refresh, should the 3-second token have
  // expired in the meantime).
  const common = traffic.filter((entry) => entry.startsWith('POST /auth/password')).slice(sentSoFar);
  expect(common.at(-1)).toBe('POST /auth/password 400');
  expect(common).not.toContain('POST /auth/password 204');
  await expect(page.getByText('Password changed')).toHaveCount(0);

  // Nothing changed: both sessions live on (B refreshes and publishes past
  // its token's lifetime), and the old password still logs in.
  await page.reload();
  await hydrated(page);
  await expect(sessions(page)).toHaveCount(2);
  await waitPastAccessLifetime(b);
  await publish(b, 'Still here');
  await expectSignedIn(b, email);
  const login = await request.post('/auth/login', { data: { email, password: PASSWORD } });
  expect(login.status()).toBe(200);
  await other.close();
});
