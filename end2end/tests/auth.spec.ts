import {
  expect,
  test,
  PASSWORD,
  expectSignedIn,
  expectSignedOut,
  hydrated,
  logIn,
  navbar,
  postList,
  publish,
  recordApiTraffic,
  register,
  uniqueEmail,
  waitPastAccessLifetime,
} from './helpers';

test('a new account is signed in on every page, and the server renders it so', async ({ page }) => {
  const email = uniqueEmail();
  await register(page, email);

  // The very first HTML of a protected page (no script run) already shows who
  // is signed in. A refresh first makes sure the access token is fresh:
  // it lives 3 s in this suite.
  expect((await page.request.post('/auth/refresh')).status()).toBe(200);
  const response = await page.request.get('/posts', { maxRedirects: 0, headers: { Accept: 'text/html' } });
  expect(response.status()).toBe(200);
  const html = await response.text();
  expect(html).toContain(email);
  expect(html).toContain('Your posts');
  expect(html).not.toContain('>Log in<');

  for (const path of ['/', '/posts', '/account']) {
    await page.goto(path);
    await hydrated(page);
    await expectSignedIn(page, email);
  }
  await expect(page.getByRole('main').getByText(email)).toBeVisible();
});

test('a signed-out visitor to a protected page is sent to log in, with the way back', async ({ page, request }) => {
  // No access cookie is no session (contract v2): the server says so at once.
  const response = await request.get('/posts', { maxRedirects: 0, headers: { Accept: 'text/html' } });
  expect(response.status()).toBe(303);
  expect(response.headers()['location']).toBe('/login?next=/posts');

  await page.goto('/posts');
  await expect(page).toHaveURL(/\/login\?next=\/posts$/);
  await hydrated(page);
  await expectSignedOut(page);
  await expect(page.getByRole('button', { name: 'Log in' })).toBeVisible();
});

test('posts are created and listed, newest first', async ({ page }) => {
  await register(page, uniqueEmail());
  await page.goto('/posts');
  await hydrated(page);
  await expect(page.getByText('No posts yet.')).toBeVisible();

  await publish(page, 'First post', 'Hello');
  await publish(page, 'Second post');

  const titles = postList(page).getByRole('heading');
  await expect(titles).toHaveText(['Second post', 'First post']);
  // The form is empty again for the next one.
  await expect(page.getByLabel('Title')).toHaveValue('');

  // And they are the server's, not just the page's.
  await page.reload();
  await hydrated(page);
  await expect(postList(page).getByRole('heading')).toHaveText(['Second post', 'First post']);
});

test('the forms check input before sending and show the server refusals', async ({ page }) => {
  const email = uniqueEmail();
  await register(page, email);
  await navbar(page).getByRole('button', { name: 'Log out' }).click();
  await expectSignedOut(page);

  await page.goto('/register');
  await hydrated(page);
  await page.getByLabel('Email').fill('not an email');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('alert')).toHaveText(/valid email address/);

  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('password');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('alert')).toHaveText(/most common/);

  // Only the server knows the address is taken; its message is shown.
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('alert')).toHaveText(/already exists/);
  await expectSignedOut(page);

  // A wrong password, with the keyboard alone: Tab to the fields, Enter to send.
  await page.goto('/login');
  await hydrated(page);
  await page.getByLabel('Email').focus();
  await page.keyboard.type(email);
  await page.keyboard.press('Tab');
  await page.keyboard.type('wrong password entirely');
  await page.keyboard.press('Enter');
  await expect(page.getByRole('alert')).toHaveText(/email or password is wrong/);
  await expect(page).toHaveURL(/\/login$/);
  await expectSignedOut(page);

  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByLabel('Password').press('Enter');
  await expectSignedIn(page, email);
});

test('an action after the access token expired refreshes once and retries, unseen', async ({ page }) => {
  const email = uniqueEmail();
  await register(page, email);
  await page.goto('/posts');
  await hydrated(page);
  await publish(page, 'Before the pause');

  await waitPastAccessLifetime(page);
  const traffic = recordApiTraffic(page);
  const navigations: string[] = [];
  page.on('framenavigated', (frame) => navigations.push(frame.url()));

  const refused = page.waitForResponse(
    (response) => response.request().method() === 'POST' && response.url().endsWith('/api/posts') && response.status() === 401,
  );
  await publish(page, 'After the pause');

  // Nothing happened that the person could see: same page, still signed in,
  // both posts there.
  await expect(page).toHaveURL(/\/posts$/);
  expect(navigations).toEqual([]);
  await expectSignedIn(page, email);
  await expect(postList(page).getByRole('heading')).toHaveText(['After the pause', 'Before the pause']);

  // The refusal was the contract's signal, then one refresh, the retry, and
  // the list loaded again.
  const first = await refused;
  expect(first.headers()['www-authenticate']).toBe('token_expired');
  expect((await first.json()).error).toBe('token_expired');
  expect(traffic).toEqual(['POST /api/posts 401', 'POST /auth/refresh 200', 'POST /api/posts 201', 'GET /api/posts 200']);
});

test('requests that find the token expired together share one refresh', async ({ page }) => {
  const email = uniqueEmail();
  await register(page, email);
  await page.goto('/posts');
  await hydrated(page);
  await publish(page, 'Counted');

  await waitPastAccessLifetime(page);
  const traffic = recordApiTraffic(page);

  // Reached within the app (nothing preloaded), the account page asks for
  // the posts and the sessions at the same moment.
  await navbar(page).getByRole('link', { name: email }).click();
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByRole('main').getByText(email)).toBeVisible();
  await expect(page.getByText('You have written 1 post.')).toBeVisible();

  // One refresh for both. Each request was refused once and answered once,
  // its answer after the refresh. A refusal may arrive after the refresh's
  // 200: that request went out with the old token, and the client lets it
  // reuse the refresh that already finished rather than start another.
  expect(traffic.filter((entry) => entry.includes('/auth/refresh'))).toEqual(['POST /auth/refresh 200']);
  const refresh = traffic.indexOf('POST /auth/refresh 200');
  for (const request of ['GET /api/posts', 'GET /auth/sessions']) {
    expect(traffic.filter((entry) => entry.startsWith(`${request} `))).toEqual([`${request} 401`, `${request} 200`]);
    expect(traffic.indexOf(`${request} 200`)).toBeGreaterThan(refresh);
  }
  expect(traffic).toHaveLength(5);
});

test('logging out signs out, and protected pages then ask to log in and come back', async ({ page }) => {
  const email = uniqueEmail();
  await register(page, email);
  await page.goto('/posts');
  await hydrated(page);

  await navbar(page).getByRole('button', { name: 'Log out' }).click();
  await expectSignedOut(page);
  await expect(page).toHaveURL(/\/$/);

  await page.goto('/posts');
  await expect(page).toHaveURL(/\/login\?next=\/posts$/);
  await expect(page.getByRole('heading', { name: 'Log in' })).toBeVisible();
  await logIn(page, email);
  await expect(page).toHaveURL(/\/posts$/);
  await expect(page.getByRole('heading', { name: 'Your posts' })).toBeVisible();
});

test('the login page sends nobody to another site', async ({ page }) => {
  const email = uniqueEmail();
  await register(page, email);
  await navbar(page).getByRole('button', { name: 'Log out' }).click();
  await expectSignedOut(page);

  await page.goto('/login?next=//example.com/steal');
  await logIn(page, email);
  await expect(page).toHaveURL(/^http:\/\/127\.0\.0\.1:\d+\/$/);
});

test('logging out in one tab signs out the other at once; logging in signs it back in', async ({ context }) => {
  const first = await context.newPage();
  const second = await context.newPage();
  const email = uniqueEmail();
  await register(first, email);
  await second.goto('/posts');
  await hydrated(second);
  await expectSignedIn(second, email);

  await navbar(first).getByRole('button', { name: 'Log out' }).click();
  await expectSignedOut(first);

  // No reload: the second tab hears it, and its protected page asks to log in.
  await expectSignedOut(second);
  await expect(second).toHaveURL(/\/login\?next=\/posts$/);

  await first.goto('/login');
  await logIn(first, email);
  // The second tab, waiting on its login page, is signed in and sent back.
  await expectSignedIn(second, email);
  await expect(second).toHaveURL(/\/posts$/);
});

test('a session revoked on the server ends at the next action, with the way back kept', async ({ page, browser }) => {
  const email = uniqueEmail();
  await register(page, email);
  await page.goto('/posts');
  await hydrated(page);

  // Somewhere else, the same session logs out: the server revokes it.
  const elsewhere = await browser.newContext();
  await elsewhere.addCookies(await page.context().cookies());
  expect((await elsewhere.request.post('/auth/logout')).status()).toBe(204);
  await elsewhere.close();

  // The access token stays good until it expires; the next action then finds
  // the refresh refused.
  await waitPastAccessLifetime(page);
  const traffic = recordApiTraffic(page);
  await page.getByLabel('Title').fill('Never published');
  await page.getByRole('button', { name: 'Publish' }).click();

  await expect(page).toHaveURL(/\/login\?next=\/posts$/);
  await expectSignedOut(page);
  expect(traffic).toEqual(['POST /api/posts 401', 'POST /auth/refresh 401']);

  await logIn(page, email);
  await expect(page).toHaveURL(/\/posts$/);
  await expect(page.getByText('No posts yet.')).toBeVisible();
});

test('a session revoked elsewhere is refused by /auth/me at once, and the next page load is signed out', async ({ page, browser }) => {
  const email = uniqueEmail();
  await register(page, email);
  await page.goto('/posts');
  await hydrated(page);
  expect((await page.request.get('/auth/me')).status()).toBe(200);

  // The same session logs out somewhere else: the server revokes it, while
  // this browser's access token is still well within its lifetime.
  const elsewhere = await browser.newContext();
  await elsewhere.addCookies(await page.context().cookies());
  expect((await elsewhere.request.post('/auth/logout')).status()).toBe(204);
  await elsewhere.close();

  const me = await page.request.get('/auth/me');
  expect(me.status()).toBe(401);
  expect((await me.json()).error).toBe('invalid_token');

  // The next page load is rendered signed out, in its first HTML, and the
  // dead cookies are cleared.
  const response = await page.goto('/');
  const html = await response!.text();
  expect(html).toContain('>Log in<');
  expect(html).not.toContain(email);
  await hydrated(page);
  await expectSignedOut(page);
  const names = (await page.context().cookies()).map((cookie) => cookie.name);
  expect(names).not.toContain('access_token');
  await page.goto('/posts');
  await expect(page).toHaveURL(/\/login\?next=\/posts$/);
});
