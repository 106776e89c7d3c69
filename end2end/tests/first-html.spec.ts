import {
  expect,
  expectSignedIn,
  expectSignedOut,
  hydrated,
  postList,
  publish,
  recordTraffic,
  register,
  test,
  uniqueEmail,
  waitPastAccessLifetime,
} from './helpers';

test('a returning visitor whose token expired opens /posts signed in, refreshed on the way, with no script', async ({ page }) => {
  const email = uniqueEmail();
  await register(page, email);
  await page.goto('/posts');
  await hydrated(page);
  await publish(page, 'Written before the pause');
  await waitPastAccessLifetime(page);

  const traffic = recordTraffic(page);
  const response = await page.goto('/posts');

  // The first HTML of the final response is the signed-in page with its
  // posts: no "checking", no "Log in", no placeholder for a script to fill.
  const html = await response!.text();
  expect(html).toContain(email);
  expect(html).toContain('Written before the pause');
  expect(html).not.toContain('Checking your session');
  expect(html).not.toContain('>Log in<');
  expect(response!.headers()['cache-control']).toBe('private, no-store');

  // The refresh happened in the navigation itself.
  expect(traffic).toEqual(['GET /posts 303', 'GET /auth/refresh 303', 'GET /posts 200']);

  // And the app, once running, has nothing to catch up on.
  await hydrated(page);
  await expectSignedIn(page, email);
  await expect(postList(page).getByRole('heading')).toHaveText(['Written before the pause']);
  await page.waitForLoadState('networkidle');
  expect(traffic).toEqual(['GET /posts 303', 'GET /auth/refresh 303', 'GET /posts 200']);
});

test("a stranger's first view of the home page asks /auth nothing", async ({ page }) => {
  const asked: string[] = [];
  page.on('request', (request) => {
    const path = new URL(request.url()).pathname;
    if (path.startsWith('/auth')) asked.push(`${request.method()} ${path}`);
  });

  const response = await page.goto('/');
  const html = await response!.text();
  expect(html).toContain('>Log in<');
  expect(html).not.toContain('Checking your session');

  await hydrated(page);
  await expectSignedOut(page);
  await page.waitForLoadState('networkidle');
  expect(asked).toEqual([]);
});
