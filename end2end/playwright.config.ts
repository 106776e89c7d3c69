import { defineConfig, devices } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// The suite drives the real server binary (built by `cargo leptos build`) in
// Debian's Chromium. scripts/test sets SERVER_BIN and LEPTOS_SITE_ROOT when the
// cargo target directory is not ./target.
const root = resolve(__dirname, '..');
const port = Number(process.env.E2E_PORT ?? 3100);
const baseURL = `http://127.0.0.1:${port}`;
// A fresh working directory per run: the server keeps its SQLite file and its
// generated signing key in ./data, so every run starts from an empty store.
const serverCwd = mkdtempSync(join(tmpdir(), 'auth-demo-e2e-'));

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 2,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
  projects: [
    {
      name: 'chromium',
      use: {
        ...devices['Desktop Chrome'],
        launchOptions: {
          executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
          // Without the networking flags Chromium keeps calling home, and this
          // closed network refuses every one of those connections.
          args: [
            '--no-sandbox',
            '--disable-gpu',
            '--disable-quic',
            '--no-first-run',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
          ],
        },
      },
    },
  ],
  webServer: {
    command: process.env.SERVER_BIN ?? join(root, 'target/debug/server'),
    cwd: serverCwd,
    url: `${baseURL}/healthz`,
    timeout: 60_000,
    reuseExistingServer: false,
    stdout: 'ignore',
    stderr: 'pipe',
    env: {
      LEPTOS_OUTPUT_NAME: 'auth-demo',
      LEPTOS_SITE_ROOT: process.env.LEPTOS_SITE_ROOT ?? join(root, 'target/site'),
      LEPTOS_SITE_PKG_DIR: 'pkg',
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_ENV: 'PROD',
      // Short enough that tests can wait past it; no leeway, so "past" is exact.
      ACCESS_TOKEN_TTL_SECS: '3',
      TOKEN_LEEWAY_SECS: '0',
      COOKIE_SECURE: 'false',
      // Every test signs in and registers from 127.0.0.1, and both workers
      // share that address's allowances: generous ones, so that no test is
      // refused because of what the others did. (The throttle has its own
      // black-box tests.)
      LOGIN_MAX_FAILURES: '1000',
      REGISTER_MAX_PER_WINDOW: '1000',
      RUST_LOG: 'warn',
    },
  },
});
