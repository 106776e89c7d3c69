import { type Browser, type Page } from '@playwright/test';
import { PASSWORD, expect, expectSignedIn, expectSignedOut, hydrated, navbar, test, uniqueEmail } from './helpers';

/**
 * After logging out, the Back button must not bring the last person's page
 * back, not even for a moment: neither from the HTTP cache (signed-in pages
 * are `Cache-Control: private, no-store`, and logging out clears the cache)
 * nor from the back/forward cache.
 */

/**
 * Watches every document of the page from its first byte for the marker: a
 * node that carries it, added at any time, even if removed at once. And
 * notes a page that came back from the back/forward cache.
 */
async function watchFor(page: Page, marker: string): Promise<void> {
  await page.addInitScript((marker) => {
    const w = window as unknown as { __sawPrivate: boolean; __restored: boolean };
    w.__sawPrivate = false;
    w.__restored = false;
    const carries = (node: Node | null) => !!node?.textContent?.includes(marker);
    new MutationObserver((records) => {
      for (const record of records) {
        if (carries(record.target) && record.type === 'characterData') w.__sawPrivate = true;
        record.addedNodes.forEach((node) => {
          if (carries(node)) w.__sawPrivate = true;
        });
      }
    }).observe(document, { childList: true, subtree: true, characterData: true });
    addEventListener('pageshow', (event) => {
      if ((event as PageTransitionEvent).persisted) w.__restored = true;
    });
  }, marker);
}

async function sawPrivate(page: Page): Promise<boolean> {
  return page.evaluate(() => (window as unknown as { __sawPrivate: boolean }).__sawPrivate);
}

async function restored(page: Page): Promise<boolean> {
  return page.evaluate(() => (window as unknown as { __restored: boolean }).__restored);
}

/** Signs a new account in and publishes a post titled `marker`, on /posts. */
async function privatePage(page: Page, marker: string): Promise<string> {
  const email = uniqueEmail();
  await page.goto('/register?next=/posts');
  await hydrated(page);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page).toHaveURL(/\/posts$/);
  await page.getByLabel('Title').fill(marker);
  await page.getByRole('button', { name: 'Publish' }).click();
  await expect(page.getByRole('heading', { name: marker })).toBeVisible();
  // A full load of the private page, then a full navigation away from it:
  // its document is what Back returns to.
  await page.goto('/posts');
  await hydrated(page);
  await expect(page.getByRole('heading', { name: marker })).toBeVisible();
  await page.goto('/');
  await hydrated(page);
  await expectSignedIn(page, email);
  return email;
}

/** Logs out on the home page (hydrated), then goes Back to the private page. */
async function logOutThenBack(page: Page, marker: string, email: string): Promise<void> {
  await navbar(page).getByRole('button', { name: 'Log out' }).click();
  await expectSignedOut(page);
  await expect(page).toHaveURL(/\/$/);
  // From here on, any sight of the marker counts.
  await page.evaluate(() => ((window as unknown as { __sawPrivate: boolean }).__sawPrivate = false));

  const documents: string[] = [];
  page.on('response', async (response) => {
    if (response.request().resourceType() === 'document') documents.push(await response.text().catch(() => ''));
  });
  // Back to the private page's entry (past the home page's own entry, if
  // the app's move home after logging out made one).
  // (A page restored from the back/forward cache fires no `load`: wait for
  // the commit only.)
  await page.goBack({ waitUntil: 'commit' });
  if (new URL(page.url()).pathname === '/') await page.goBack({ waitUntil: 'commit' });
  await hydrated(page);

  expect(new URL(page.url()).pathname).not.toBe('/');
  expect(await restored(page), 'restored from the back/forward cache').toBe(false);
  expect(await sawPrivate(page), 'private content appeared').toBe(false);
  await expectSignedOut(page);
  expect(await page.content()).not.toContain(marker);
  expect(await page.content()).not.toContain(email);
  for (const body of documents) expect(body).not.toContain(marker);
}

test('Back after logging out shows nothing private (HTTP cache)', async ({ page }) => {
  const marker = `Private ${uniqueEmail()}`;
  await watchFor(page, marker);
  const email = await privatePage(page, marker);
  await logOutThenBack(page, marker, email);
});

test('Back after logging out shows nothing private (back/forward cache on)', async ({ playwright }, testInfo) => {
  // Playwright turns Chromium's back/forward cache off; this browser has it.
  const launchOptions = testInfo.project.use.launchOptions ?? {};
  const browser: Browser = await playwright.chromium.launch({
    ...launchOptions,
    ignoreDefaultArgs: ['--disable-back-forward-cache'],
  });
  const context = await browser.newContext({ baseURL: testInfo.project.use.baseURL });
  const page = await context.newPage();
  const marker = `Private ${uniqueEmail()}`;
  await watchFor(page, marker);

  // First make sure this browser does restore pages from that cache: a
  // public page, left by a full navigation and gone back to, comes back.
  await page.goto('/');
  await hydrated(page);
  await page.goto('/login');
  await page.goBack({ waitUntil: 'commit' });
  await expect.poll(() => restored(page).catch(() => false)).toBe(true);

  const email = await privatePage(page, marker);
  await logOutThenBack(page, marker, email);
  await browser.close();
});

test('Back after logging out without JavaScript shows nothing private', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const marker = `Private ${uniqueEmail()}`;
  const email = uniqueEmail();
  await page.goto('/register?next=/posts');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account', exact: true }).click();
  await expect(page).toHaveURL(/\/posts$/);
  await page.getByLabel('Title').fill(marker);
  await page.getByRole('button', { name: 'Publish', exact: true }).click();
  await expect(page.getByRole('heading', { name: marker })).toBeVisible();
  await expectSignedIn(page, email);

  await page.getByRole('button', { name: 'Log out', exact: true }).click();
  await expect(page).toHaveURL(/\/$/);
  const documents: string[] = [];
  page.on('response', async (response) => {
    if (response.request().resourceType() === 'document') documents.push(await response.text().catch(() => ''));
  });
  await page.goBack();
  await page.waitForLoadState('load');
  expect(await page.content()).not.toContain(marker);
  await expectSignedOut(page);
  for (const body of documents) expect(body).not.toContain(marker);
  await context.close();
});
