import { test as base, expect, type BrowserContext, type ConsoleMessage, type Page, type Locator } from '@playwright/test';

/**
 * Playwright's `test`, with a watch on every page of every browser context
 * the test opens (its own, and any from `browser.newContext()`): a test fails
 * if the browser logged an error to the console or refused something under
 * the page's Content Security Policy (Chromium reports those on the console
 * too), or if a script threw.
 *
 * Chromium logs every 4xx answer as "Failed to load resource". Two kinds are
 * answers the app asks for on purpose, and are not errors: those of `/auth`
 * and `/api` (an expired token's 401, a refused refresh, a wrong password),
 * and pages (a plain form's refusal is its page again, with the API's
 * status). A failing script, style sheet or icon still counts. A test that
 * expects more (blocked WASM, say) matches it with `allowedConsoleErrors`.
 */
export const test = base.extend<{ allowedConsoleErrors: RegExp | undefined; consoleGuard: void }>({
  allowedConsoleErrors: [undefined, { option: true }],
  consoleGuard: [
    async ({ context, browser, allowedConsoleErrors }, use) => {
      const messages: Array<{ where: string; text: string; resource: string; csp: boolean }> = [];
      const documents = new Set<string>();
      const allowed = (text: string) => allowedConsoleErrors?.test(text) ?? false;
      const watch = (page: Page) => {
        page.on('response', (response) => {
          if (response.request().resourceType() === 'document') documents.add(response.url());
        });
        page.on('console', (message) => {
          const csp = message.text().includes('Content Security Policy');
          if (csp || message.type() === 'error') {
            messages.push({ where: page.url(), text: message.text(), resource: message.location().url, csp });
          }
        });
        page.on('pageerror', (error) => {
          messages.push({ where: page.url(), text: `uncaught: ${error.message}`, resource: '', csp: false });
        });
      };
      const watchContext = (watched: BrowserContext) => {
        watched.pages().forEach(watch);
        watched.on('page', watch);
      };
      watchContext(context);
      const newContext = browser.newContext;
      browser.newContext = async (...args: Parameters<typeof newContext>) => {
        const created = await newContext.apply(browser, args);
        watchContext(created);
        return created;
      };
      await use();
      browser.newContext = newContext;

      const answered = ({ text, resource }: { text: string; resource: string }) => {
        if (!/^Failed to load resource: the server responded with a status of 4\d\d\b/.test(text)) return false;
        const path = resource ? new URL(resource).pathname : '';
        return /^\/(auth|api)\//.test(path) || documents.has(resource);
      };
      const problems = messages
        .filter((message) => message.csp || !(answered(message) || allowed(message.text)))
        .map(({ where, text }) => `${where}: ${text}`);
      expect(problems, 'console errors and CSP violations').toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };

/** The server under test runs with ACCESS_TOKEN_TTL_SECS=3 (playwright.config.ts). */
export const ACCESS_TTL_MS = 3_000;
export const PASSWORD = 'correct horse battery staple';

/** A fresh address per test, so tests never share an account. */
export function uniqueEmail(): string {
  return `user-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com`;
}

/** The WASM app sets this once it has taken the page over. */
export async function hydrated(page: Page): Promise<void> {
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
}

export function navbar(page: Page): Locator {
  return page.getByRole('navigation', { name: 'Main' });
}

export async function expectSignedIn(page: Page, email: string): Promise<void> {
  await expect(navbar(page).getByText(email)).toBeVisible();
  await expect(navbar(page).getByRole('button', { name: 'Log out' })).toBeVisible();
  await expect(navbar(page).getByRole('link', { name: 'Log in' })).toHaveCount(0);
}

export async function expectSignedOut(page: Page): Promise<void> {
  await expect(navbar(page).getByRole('link', { name: 'Log in' })).toBeVisible();
  await expect(navbar(page).getByRole('link', { name: 'Create account' })).toBeVisible();
  await expect(navbar(page).getByRole('button', { name: 'Log out' })).toHaveCount(0);
}

/** Creates an account through the form, as a person would. */
export async function register(page: Page, email: string, password = PASSWORD): Promise<void> {
  await page.goto('/register');
  await hydrated(page);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expectSignedIn(page, email);
}

/** Logs in through the form on the current page (which must be /login). */
export async function logIn(page: Page, email: string, password = PASSWORD): Promise<void> {
  await hydrated(page);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expectSignedIn(page, email);
}

/** Publishes a post through the form on /posts and waits for it in the list. */
export async function publish(page: Page, title: string, body = ''): Promise<void> {
  await page.getByLabel('Title', { exact: true }).fill(title);
  await page.getByLabel('Body', { exact: true }).fill(body);
  await page.getByRole('button', { name: 'Publish' }).click();
  await expect(postList(page).getByRole('heading', { name: title })).toBeVisible();
}

export function postList(page: Page): Locator {
  return page.getByRole('list', { name: 'Your posts' });
}

/**
 * Every request the page makes to /auth and /api, with its answer's status,
 * in the order the answers arrived.
 */
export function recordApiTraffic(page: Page): string[] {
  const log: string[] = [];
  page.on('response', (response) => {
    const url = new URL(response.url());
    if (url.pathname.startsWith('/auth/') || url.pathname.startsWith('/api/')) {
      log.push(`${response.request().method()} ${url.pathname} ${response.status()}`);
    }
  });
  return log;
}

/**
 * Every response of the page's own origin that is a document or a call to
 * /auth or /api (not scripts, styles or the icon), as "METHOD /path STATUS",
 * in the order the answers arrived; redirects included.
 */
export function recordTraffic(page: Page): string[] {
  const log: string[] = [];
  page.on('response', (response) => {
    const request = response.request();
    const url = new URL(response.url());
    const document = request.resourceType() === 'document';
    if (document || url.pathname.startsWith('/auth/') || url.pathname.startsWith('/api/')) {
      log.push(`${request.method()} ${url.pathname} ${response.status()}`);
    }
  });
  return log;
}

/** Lets the access token expire (its cookie stays, as contract v2 says). */
export async function waitPastAccessLifetime(page: Page): Promise<void> {
  await page.waitForTimeout(ACCESS_TTL_MS + 1_000);
}
