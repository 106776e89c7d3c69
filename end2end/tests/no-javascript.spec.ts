import { type Locator, type Page, type Request } from '@playwright/test';
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

  /**
   * Fills the form in (`fill`), presses its button and returns the status of
   * the page it lands on. A signed-in form posted after the 3-second access
   * token expired is answered with the navigation refresh and is not
   * replayed (README): the page comes back as it was and, as a person would,
   * the test sends it again, once.
   */
  async function submit(page: Page, button: string | Locator, fill = async () => {}): Promise<number | undefined> {
    const press = typeof button === 'string' ? page.getByRole('button', { name: button, exact: true }) : button;
    for (let attempt = 1; ; attempt++) {
      await fill();
      const [response] = await Promise.all([page.waitForNavigation(), press.click()]);
      if (attempt === 2 || !cameThroughRefresh(response?.request() ?? null)) return response?.status();
    }
  }

  function cameThroughRefresh(request: Request | null): boolean {
    for (let hop = request?.redirectedFrom() ?? null; hop; hop = hop.redirectedFrom()) {
      if (new URL(hop.url()).pathname === '/auth/refresh') return true;
    }
    return false;
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

    expect(
      await submit(page, 'Publish', async () => {
        await page.getByLabel('Body', { exact: true }).fill('A body without a title');
      }),
    ).toBe(400);
    await expect(alert(page)).toHaveText('Give the post a title.');
    await expect(page.getByLabel('Body', { exact: true })).toHaveValue('A body without a title');

    expect(
      await submit(page, 'Publish', async () => {
        await page.getByLabel('Title', { exact: true }).fill('Sent without JavaScript');
        await page.getByLabel('Body', { exact: true }).fill('');
      }),
    ).toBe(200);
    await expect(page).toHaveURL(/\/posts$/);
    await expect(postList(page).getByRole('heading')).toHaveText(['Sent without JavaScript']);
    await expect(page.getByLabel('Title', { exact: true })).toHaveValue('');
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
    const passwords = (current: string, next: string) => async () => {
      await page.getByLabel('Current password').fill(current);
      await page.getByLabel('New password').fill(next);
    };
    expect(await submit(page, 'Change password', passwords(PASSWORD, 'short'))).toBe(400);
    await expect(alert(page)).toHaveText('New password: Use at least 8 characters.');
    expect(await submit(page, 'Change password', passwords('not my password', newPassword))).toBe(401);
    await expect(alert(page)).toHaveText('The email or password is wrong.');
    expect(await submit(page, 'Change password', passwords(PASSWORD, newPassword))).toBe(200);
    await expect(page).toHaveURL(/\/account$/);
    // Every other session ended with the change.
    await expect(sessions).toHaveCount(1);
    expect((await other.request.post('/auth/refresh')).status()).toBe(401);

    // Another login, revoked from here.
    expect((await other.request.post('/auth/login', { data: { email, password: newPassword } })).status()).toBe(200);
    await page.reload();
    await expect(sessions).toHaveCount(2);
    expect(
      await submit(page, sessions.filter({ hasNotText: 'This device' }).getByRole('button', { name: /^Revoke session/ })),
    ).toBe(200);
    await expect(page).toHaveURL(/\/account$/);
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
  test.use({ allowedConsoleErrors: /ERR_FAILED|\.wasm|WebAssembly|Failed to fetch/ });

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
