import { type Page } from '@playwright/test';
import {
  PASSWORD,
  expect,
  expectSignedIn,
  expectSignedOut,
  hydrated,
  navbar,
  postList,
  test,
  uniqueEmail,
} from './helpers';

/**
 * Every form, in a browser with JavaScript switched off: plain HTML forms
 * posted to the server, which answers with the next page (303) or the same
 * page again with its refusal beside the form, in the very words the
 * hydrated app uses.
 */
test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  function alert(page: Page) {
    return page.getByRole('alert');
  }

  async function submit(page: Page, name: string): Promise<number | undefined> {
    const [response] = await Promise.all([
      page.waitForNavigation(),
      page.getByRole('button', { name, exact: true }).click(),
    ]);
    return response?.status();
  }

  test('register, log out and log in again, with the refusals shown beside the form', async ({ page }) => {
    const email = uniqueEmail();

    // A weak password: the page again, the message in it, the email kept.
    await page.goto('/register?next=/posts');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('password');
    expect(await submit(page, 'Create account')).toBe(400);
    await expect(alert(page)).toHaveText('That password is one of the most common ones; choose another.');
    await expect(page.getByLabel('Email')).toHaveValue(email);
    await expect(page.getByLabel('Password')).toHaveValue('');
    await expectSignedOut(page);

    // Then a good one: signed in, and on to where the person was going.
    await page.getByLabel('Password').fill(PASSWORD);
    expect(await submit(page, 'Create account')).toBe(200);
    await expect(page).toHaveURL(/\/posts$/);
    await expectSignedIn(page, email);

    // Log out from the navbar: home, signed out.
    expect(await submit(page, 'Log out')).toBe(200);
    await expect(page).toHaveURL(/\/$/);
    await expectSignedOut(page);
    expect((await page.context().cookies()).map((cookie) => cookie.name)).not.toContain('access_token');

    // A wrong password: refused beside the form, the way back kept.
    await page.goto('/login?next=/account');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('not the password at all');
    expect(await submit(page, 'Log in')).toBe(401);
    await expect(alert(page)).toHaveText('The email or password is wrong.');
    await expect(page.getByLabel('Email')).toHaveValue(email);
    await page.getByLabel('Password').fill(PASSWORD);
    expect(await submit(page, 'Log in')).toBe(200);
    await expect(page).toHaveURL(/\/account$/);
    await expectSignedIn(page, email);
  });

  test('publish a post, with a refusal first', async ({ page }) => {
    await registerWithoutScript(page);
    await page.goto('/posts');
    await expect(page.getByText('No posts yet.')).toBeVisible();

    await page.getByLabel('Body').fill('A body without a title');
    expect(await submit(page, 'Publish')).toBe(400);
    await expect(alert(page)).toHaveText('Give the post a title.');
    await expect(page.getByLabel('Body')).toHaveValue('A body without a title');

    await page.getByLabel('Title').fill('Sent without JavaScript');
    expect(await submit(page, 'Publish')).toBe(200);
    await expect(page).toHaveURL(/\/posts$/);
    await expect(postList(page).getByRole('heading')).toHaveText(['Sent without JavaScript']);
    await expect(page.getByLabel('Title')).toHaveValue('');
  });

  test('change the password, revoke a session and log out everywhere', async ({ page, browser }) => {
    const email = await registerWithoutScript(page);
    const other = await browser.newContext();
    expect((await other.request.post('/auth/login', { data: { email, password: PASSWORD } })).status()).toBe(200);

    await page.goto('/account');
    const sessions = page.getByRole('list', { name: 'Your sessions' }).getByRole('listitem');
    await expect(sessions).toHaveCount(2);

    // Password: a weak new one, then a wrong current one, then both right.
    const newPassword = 'a different passphrase entirely';
    await page.getByLabel('Current password').fill(PASSWORD);
    await page.getByLabel('New password').fill('short');
    expect(await submit(page, 'Change password')).toBe(400);
    await expect(alert(page)).toHaveText('Use at least 8 characters.');
    await page.getByLabel('Current password').fill('not my password');
    await page.getByLabel('New password').fill(newPassword);
    expect(await submit(page, 'Change password')).toBe(401);
    await expect(alert(page)).toHaveText('The email or password is wrong.');
    await page.getByLabel('Current password').fill(PASSWORD);
    await page.getByLabel('New password').fill(newPassword);
    expect(await submit(page, 'Change password')).toBe(200);
    await expect(page).toHaveURL(/\/account$/);
    // Every other session ended with the change.
    await expect(sessions).toHaveCount(1);
    expect((await other.request.post('/auth/refresh')).status()).toBe(401);

    // Another login, revoked from here.
    expect((await other.request.post('/auth/login', { data: { email, password: newPassword } })).status()).toBe(200);
    await page.reload();
    await expect(sessions).toHaveCount(2);
    await sessions.filter({ hasNotText: 'This device' }).getByRole('button', { name: /^Revoke session/ }).click();
    await page.waitForURL(/\/account$/);
    await expect(sessions).toHaveCount(1);
    await expect(sessions).toContainText('This device');
    expect((await other.request.post('/auth/refresh')).status()).toBe(401);

    // Log out everywhere: this browser too.
    expect(await submit(page, 'Log out everywhere')).toBe(200);
    await expect(page).toHaveURL(/\/$/);
    await expectSignedOut(page);
    await page.goto('/account');
    await expect(page).toHaveURL(/\/login\?next=\/account$/);
    await other.close();
  });
});

/** Registers through the plain form; returns the address. */
async function registerWithoutScript(page: Page): Promise<string> {
  const email = uniqueEmail();
  await page.goto('/register');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account', exact: true }).click();
  await expect(page).toHaveURL(/\/$/);
  await expectSignedIn(page, email);
  return email;
}

test('the hydrated app words each refusal as the plain form does', async ({ page, browser }) => {
  const email = uniqueEmail();
  const plain = await browser.newContext({ javaScriptEnabled: false });
  const noScript = await plain.newPage();
  const refusals: Array<[string, string, string]> = [
    ['/register', 'not an email', PASSWORD],
    ['/register', email, 'short'],
    ['/login', email, 'wrong password'],
  ];
  for (const [path, address, password] of refusals) {
    const button = path === '/register' ? 'Create account' : 'Log in';
    await noScript.goto(path);
    await noScript.getByLabel('Email').fill(address);
    await noScript.getByLabel('Password').fill(password);
    await Promise.all([noScript.waitForNavigation(), noScript.getByRole('button', { name: button, exact: true }).click()]);
    const plainText = await noScript.getByRole('alert').textContent();

    await page.goto(path);
    await hydrated(page);
    await page.getByLabel('Email').fill(address);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: button, exact: true }).click();
    await expect(page.getByRole('alert')).toHaveText(plainText!);
    await expect(navbar(page).getByRole('link', { name: 'Log in' })).toBeVisible();
  }
  await plain.close();
});

test.describe('with the WASM blocked', () => {
  // The loader says so on the console; that is the point of this test.
  test.use({ allowedConsoleErrors: [/ERR_FAILED/, /\.wasm/, /WebAssembly/, /Failed to fetch/] });

  test('logging in still works and lands signed in', async ({ browser }) => {
  const email = uniqueEmail();
  const setup = await browser.newContext();
  expect((await setup.request.post('/auth/register', { data: { email, password: PASSWORD } })).status()).toBe(201);
  await setup.close();

  const context = await browser.newContext();
  const page = await context.newPage();
  await page.route('**/*.wasm', (route) => route.abort());
  await page.goto('/login?next=/posts');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();

  await expect(page).toHaveURL(/\/posts$/);
  await expectSignedIn(page, email);
  await expect(page.getByRole('heading', { name: 'Your posts' })).toBeVisible();
  // Still no app: the server did all of it.
  await expect(page.locator('html')).not.toHaveAttribute('data-hydrated', 'true');
  await context.close();
});
});
