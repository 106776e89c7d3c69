import { expect, hydrated, navbar, test } from './helpers';

test('the home page says what this is, and the WASM app takes it over unseen', async ({ page, request }) => {
  // The first HTML, before any script runs, already has the content, and
  // nothing that only makes sense to a developer.
  const html = await (await request.get('/')).text();
  expect(html).toContain('Browser authentication, done right');
  expect(html).toContain('What you can do here');
  expect(html).not.toContain('WebAssembly app');
  expect(html).not.toContain('Clicked');
  expect(html).not.toContain('data-hydrated');
  expect(html).toContain('<link rel="icon" href="/favicon.ico"');

  const documents: string[] = [];
  page.on('request', (r) => {
    if (r.resourceType() === 'document') documents.push(new URL(r.url()).pathname);
  });
  await page.goto('/');
  await hydrated(page);
  await expect(page.getByRole('heading', { name: 'What you can do here' })).toBeVisible();

  // Hydrated, the app routes by itself: following a link loads no document.
  await navbar(page).getByRole('link', { name: 'Log in' }).click();
  await expect(page.getByRole('heading', { name: 'Log in' })).toBeVisible();
  expect(documents).toEqual(['/']);
});

test('the site has an icon', async ({ request }) => {
  const icon = await request.get('/favicon.ico');
  expect(icon.status()).toBe(200);
  expect((await icon.body()).subarray(0, 4)).toEqual(Buffer.from([0, 0, 1, 0]));
});

test('an unknown page answers 404 with a readable page', async ({ page }) => {
  const response = await page.goto('/no/such/page');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
});
