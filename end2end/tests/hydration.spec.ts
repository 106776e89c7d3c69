import { expect, test } from '@playwright/test';

test('the server renders the home page and the WASM app takes it over', async ({ page, request }) => {
  // The first HTML, before any script runs, already has the content...
  const html = await (await request.get('/')).text();
  expect(html).toContain('Browser authentication, done right');
  expect(html).toContain('Server-rendered: waiting for the WebAssembly app');

  // ...and once the WASM has hydrated it, the page reacts to clicks.
  await page.goto('/');
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByTestId('hydration-status')).toHaveText(/Interactive/);
  const counter = page.getByRole('button', { name: /Clicked 0 times/ });
  await counter.click();
  await expect(page.getByRole('button', { name: 'Clicked 1 time' })).toBeVisible();
});

test('an unknown page answers 404 with a readable page', async ({ page }) => {
  const response = await page.goto('/no/such/page');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
});
