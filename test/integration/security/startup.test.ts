import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT_DIR } from '../../../src/app.js';
import { ConfigError, loadConfig } from '../../../src/config.js';
import { FORBIDDEN_URL_WORDS } from '../../../src/daraja/constants.js';

const dir = mkdtempSync(join(tmpdir(), 'tikiti-startup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const GOOD_TOKEN = '0123456789abcdef0123456789abcdef01234567';
/** A complete sandbox configuration; each case spoils one part of it. */
const SANDBOX = {
  DARAJA_ENV: 'sandbox',
  PUBLIC_BASE_URL: 'https://abcd-1-2-3-4.ngrok-free.app',
  MPESA_CALLBACK_TOKEN: GOOD_TOKEN,
  DARAJA_CONSUMER_KEY: 'startup-key',
  DARAJA_CONSUMER_SECRET: 'startup-secret',
};

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * Runs `npm start`'s command (node --import tsx src/server.ts), or another script, with exactly these variables and no
 * .env. Resolves when it exits, or (for a start that succeeds, unless told to wait for the exit) when it says it is
 * listening, after stopping it with SIGTERM.
 */
async function start(
  env: Record<string, string>,
  opts: { script?: string; untilExit?: boolean } = {},
): Promise<{ code: number | null; stderr: string; stdout: string; listened: boolean }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', opts.script ?? 'src/server.ts'], {
    cwd: ROOT_DIR,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? dir,
      TIKITI_NO_DOTENV: '1',
      PORT: String(port),
      DATABASE_URL: `sqlite:${join(dir, `${port}.db`)}`,
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let listened = false;
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (!listened && stdout.includes('Tikiti is listening')) {
      listened = true;
      if (!opts.untilExit) child.kill('SIGTERM');
    }
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 80_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(killer);
  return { code, stderr, stdout, listened };
}

/** The problem lines of a refusal: "  ✗ <one line>". */
const problemLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('  ✗ ')).map((l) => l.slice(4));

describe('start-up refusals (npm start)', () => {
  // Each start costs seconds (tsx loads the whole app), so a case spoils several things at once: the refusal lists them all.
  const cases: Array<[string, Record<string, string>, RegExp[]]> = [
    ['an http PUBLIC_BASE_URL, a short callback token, no credentials and too-long Daraja texts in sandbox', {
      ...SANDBOX, PUBLIC_BASE_URL: 'http://abcd.ngrok-free.app', MPESA_CALLBACK_TOKEN: 'abc123', DARAJA_CONSUMER_KEY: '',
      DARAJA_CONSUMER_SECRET: '', ACCOUNT_REFERENCE: 'TikitiCinemas', TRANSACTION_DESC: 'Movie tickets!',
    }, [
      /^PUBLIC_BASE_URL must start with https:\/\/ when DARAJA_ENV=sandbox: .*ngrok/,
      /^MPESA_CALLBACK_TOKEN must be at least 32 characters of A-Z a-z 0-9 _ -: generate one with openssl rand -hex 24\.$/,
      /^DARAJA_CONSUMER_KEY is required when DARAJA_ENV=sandbox/,
      /^DARAJA_CONSUMER_SECRET is required when DARAJA_ENV=sandbox/,
      /^ACCOUNT_REFERENCE is 13 characters: Daraja allows at most 12/,
      /^TRANSACTION_DESC is 14 characters: Daraja allows at most 13\.$/,
    ]],
    ['a callback token with a word Safaricom refuses', { ...SANDBOX, MPESA_CALLBACK_TOKEN: `${GOOD_TOKEN}MPesa` },
      [/^MPESA_CALLBACK_TOKEN contains "mpesa", a word Safaricom refuses in callback URLs/]],
    ['production without passkey and shortcode, behind a PUBLIC_BASE_URL with a refused word', {
      ...SANDBOX, DARAJA_ENV: 'production', PUBLIC_BASE_URL: 'https://my-mpesa-shop.ngrok-free.app', ADMIN_USER: 'ops', ADMIN_PASSWORD: 'long-enough-password',
    }, [
      /^DARAJA_PASSKEY is required when DARAJA_ENV=production/,
      /^DARAJA_SHORTCODE is required when DARAJA_ENV=production/,
      /^The callback URL https:\/\/my-mpesa-shop\.ngrok-free\.app\/api\/payments\/callback\/… contains "mpesa"/,
    ]],
    ['no callback token in sandbox, and only one of ADMIN_USER and ADMIN_PASSWORD', { ...SANDBOX, MPESA_CALLBACK_TOKEN: '', ADMIN_USER: 'ops' }, [
      /^MPESA_CALLBACK_TOKEN is required when DARAJA_ENV=sandbox/,
      /^ADMIN_USER and ADMIN_PASSWORD go together/,
    ]],
  ];

  it.concurrent.each(cases)('when started with %s, then it exits non-zero with one plain line per problem and no stack', async (_what, env, expected) => {
    const r = await start(env);
    expect(r.listened).toBe(false);
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBeNull();
    expect(r.stderr).toMatch(/^Tikiti cannot start\./);
    const lines = problemLines(r.stderr);
    expect(lines).toHaveLength(expected.length);
    expected.forEach((re, i) => expect(lines[i]).toMatch(re));
    expect(r.stderr).not.toMatch(/\n\s+at |Error:|node_modules/);
    // The refusal never echoes a secret it was given.
    for (const v of [env.DARAJA_CONSUMER_SECRET, env.ADMIN_PASSWORD].filter((v): v is string => !!v)) expect(r.stderr).not.toContain(v);
  }, 90_000);

  it.concurrent('when the configuration is complete (simulator defaults), then it starts listening (the refusals above are not the test set-up failing)', async () => {
    const r = await start({});
    expect(r.listened).toBe(true);
    expect(r.stderr).toBe('');
  }, 90_000);
});

describe('start-up refusals that only show once the app tries (npm start, npm run migrate)', () => {
  /** The refusal as the user sees it: the heading and one line, no stack, no password. */
  const expectOneLine = (r: { code: number | null; stderr: string }, line: RegExp, secret?: string) => {
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Tikiti cannot start\./);
    expect(problemLines(r.stderr)).toEqual([expect.stringMatching(line)]);
    expect(r.stderr).not.toMatch(/\n\s+at |Error:|node_modules/);
    if (secret) expect(r.stderr).not.toContain(secret);
  };

  it.concurrent('when PORT is already in use, then it exits 1 with one line naming the port, not a stack trace', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, r));
    const port = (taken.address() as { port: number }).port;
    try {
      const r = await start({ PORT: String(port) });
      expect(r.listened).toBe(false);
      expectOneLine(r, new RegExp(`^PORT ${port} is already in use: stop the program that holds it \\(another Tikiti\\?\\) or set PORT to a free port\\.$`));
    } finally {
      await new Promise((r) => taken.close(r));
    }
  }, 90_000);

  it.concurrent('when the SQLite file cannot be opened (its folder is a file), then it exits 1 with one line naming DATABASE_URL and the file', async () => {
    const file = join(dir, 'not-a-folder');
    writeFileSync(file, '');
    const r = await start({ DATABASE_URL: `sqlite:${join(file, 'tikiti.db')}` });
    expect(r.listened).toBe(false);
    expectOneLine(r, new RegExp(`^DATABASE_URL: the SQLite file ${file}/tikiti\\.db cannot be opened \\((ENOTDIR|EEXIST)\\): check that its folder exists`));
  }, 90_000);

  it.concurrent('when npm run migrate meets a MySQL that is not there, then it exits 1 naming DATABASE_URL with its host and port, never the password', async () => {
    const port = await freePort();
    const r = await start({ DATABASE_URL: `mysql://tikiti:migrate-pw-0123@127.0.0.1:${port}/tikiti` }, { script: 'src/cli/migrate.ts' });
    expectOneLine(r, new RegExp(`^DATABASE_URL: MySQL at 127\\.0\\.0\\.1:${port} cannot be reached \\(ECONNREFUSED\\): start the database, or correct the host and port\\.$`), 'migrate-pw-0123');
  }, 90_000);

  it.skipIf(!process.env.TEST_MYSQL_URL).concurrent('when MySQL refuses the password, then the server exits 1 at once (no retrying) with one line, never the password', async () => {
    const u = new URL(process.env.TEST_MYSQL_URL!);
    u.username = 'root';
    u.password = 'not-the-password-0123';
    const r = await start({ DATABASE_URL: u.toString() }, { untilExit: true });
    expectOneLine(r, new RegExp(`^DATABASE_URL: MySQL at ${u.hostname.replace(/\./g, '\\.')}:${u.port || 3306} refused the user or password \\(ER_ACCESS_DENIED_ERROR\\)`), 'not-the-password-0123');
    expect(r.stdout).not.toContain('not-the-password-0123');
  }, 90_000);
});

describe('the words Safaricom refuses in callback URLs', () => {
  it.each(FORBIDDEN_URL_WORDS)('when the callback token contains "%s" in any case, then the start is refused', (word) => {
    for (const w of [word, word.toUpperCase(), word[0]!.toUpperCase() + word.slice(1)]) {
      const token = `${GOOD_TOKEN.slice(0, 20)}${w.replace('-', '_')}${GOOD_TOKEN.slice(20)}`;
      const spoiled = w.includes('-') ? `${GOOD_TOKEN}${w}` : token;
      let error: unknown;
      try {
        loadConfig({ ...SANDBOX, MPESA_CALLBACK_TOKEN: spoiled });
      } catch (err) {
        error = err;
      }
      expect(error, spoiled).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems.join('\n'), spoiled).toMatch(/Safaricom refuses/);
    }
  });
});
