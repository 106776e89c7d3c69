import { expect, type Page, type Locator } from '@playwright/test';

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
  await page.getByLabel('Title').fill(title);
  await page.getByLabel('Body').fill(body);
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

/** Lets the access token (and its cookie) expire. */
export async function waitPastAccessLifetime(page: Page): Promise<void> {
  await page.waitForTimeout(ACCESS_TTL_MS + 1_000);
}
