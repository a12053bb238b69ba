import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest, type Agent, type IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.js';

/** The repository root: the app is started from here, as README says. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The callback token every spawned app is given, so a test can post callbacks to it. */
export const PROCESS_CALLBACK_TOKEN = 'cbtok_process_0123456789abcdef0123456789';

export interface AppProcess {
  /** http://127.0.0.1:PORT */
  baseUrl: string;
  port: number;
  pid: number;
  /** stdout and stderr so far, for failure messages. */
  output(): string;
  /** Resolves when the process has exited, with its code (null when a signal ended it) and the signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends a signal (SIGTERM, SIGKILL…). */
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. Safe to call after it exited. */
  stop(graceMs?: number): Promise<void>;
}

/** A port the OS says is free right now (released before the app binds it; a collision is unlikely). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') return reject(new Error('no port'));
      srv.close(() => resolve(addr.port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts the app as a real process, the way `npm start` does (`node --import tsx src/server.ts` from the repository
 * root), on a free port and the given database, and waits for /readyz (or only /healthz: the process listens, whether
 * or not its database answers). The built-in simulator runs in auto mode with short delays, and every timer is small
 * so a test sees the reconciler work within seconds; `env` overrides any of it.
 */
export async function spawnApp(
  databaseUrl: string,
  env: Record<string, string> = {},
  opts: { waitFor?: '/readyz' | '/healthz' } = {},
): Promise<AppProcess> {
  const readyPath = opts.waitFor ?? '/readyz';
  // env.PORT starts it again where it was (a restart keeps the address its callbacks were promised to).
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  let output = '';
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? REPO_ROOT,
      TZ: process.env.TZ ?? 'UTC',
      TIKITI_NO_DOTENV: '1',
      // The built-in simulator's prompts, kept across a restart of the same app (same database and port), out of ./data.
      SIMULATOR_STATE_FILE: join(tmpdir(), `tikiti-sim-${createHash('sha256').update(`${databaseUrl} ${port}`).digest('hex').slice(0, 16)}.jsonl`),
      PORT: String(port),
      PUBLIC_BASE_URL: baseUrl,
      DATABASE_URL: databaseUrl,
      LOG_LEVEL: 'warn',
      MPESA_CALLBACK_TOKEN: PROCESS_CALLBACK_TOKEN,
      // One secret for every process, so a form fetched from one instance posts to another (and after a restart).
      CSRF_SECRET: 'process-test-csrf-secret-0123456789abcdef',
      SIMULATOR_MODE: 'auto',
      SIMULATOR_DELAY_MS: '150',
      DARAJA_TIMEOUT_MS: '1000',
      PAYMENT_TIMEOUT_SECONDS: '1',
      RECONCILE_INTERVAL_SECONDS: '1',
      RATE_LIMIT_PUSHES_PER_PHONE: '100000',
      RATE_LIMIT_BOOKINGS_PER_IP: '100000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  let done: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      done = { code, signal };
      output += `\n[the app exited: code ${code}, signal ${signal}]\n`;
      resolve(done);
    }),
  );

  const stop = async (graceMs = 10_000) => {
    if (done) return;
    child.kill('SIGTERM');
    const ended = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!ended) {
      child.kill('SIGKILL');
      await exited;
    }
  };

  try {
    await waitFor(`the app to answer ${readyPath} or exit`, async () => {
      if (done) return true;
      const r = await send({ method: 'GET', url: `${baseUrl}${readyPath}` });
      return r.kind === 'answered' && r.status === 200;
    }, { timeout: 30_000, interval: 50 });
  } catch {
    await stop(1000);
    throw new Error(`the app did not answer ${readyPath} within 30 s:\n${output}`);
  }
  if (done) throw new Error(`the app exited (code ${done.code}) before it was ready:\n${output}`);

  return {
    baseUrl, port, pid: child.pid!, output: () => output, exited, stop,
    kill: (signal) => { if (!done) child.kill(signal); },
  };
}

export type Sent =
  /** A whole response arrived. */
  | { kind: 'answered'; status: number; headers: IncomingHttpHeaders; body: string }
  /** No response began: the connection was refused, or reset before a byte of the answer came. */
  | { kind: 'no-answer'; code: string }
  /** A response began and was cut off. */
  | { kind: 'cut'; code: string; status: number };

/**
 * One HTTP request, on a connection of its own unless a keep-alive `agent` is given, classified by how far the answer
 * got. Never rejects, so a load loop can tell "not accepted" from "accepted and dropped".
 */
export function send(req: {
  method: 'GET' | 'POST'; url: string; headers?: Record<string, string>; body?: string; timeoutMs?: number; agent?: Agent;
}): Promise<Sent> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (s: Sent) => {
      if (!settled) {
        settled = true;
        resolve(s);
      }
    };
    const options = req.agent
      ? { method: req.method, agent: req.agent, headers: { ...req.headers } }
      : { method: req.method, agent: false, headers: { connection: 'close', ...req.headers } };
    const r = httpRequest(req.url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => finish({ kind: 'answered', status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('aborted', () => finish({ kind: 'cut', code: 'ABORTED', status: res.statusCode ?? 0 }));
      res.on('error', (err: NodeJS.ErrnoException) => finish({ kind: 'cut', code: err.code ?? err.message, status: res.statusCode ?? 0 }));
    });
    r.setTimeout(req.timeoutMs ?? 20_000, () => r.destroy(Object.assign(new Error('client timeout'), { code: 'CLIENT_TIMEOUT' })));
    r.on('error', (err: NodeJS.ErrnoException) => finish({ kind: 'no-answer', code: err.code ?? err.message }));
    if (req.body !== undefined) r.end(req.body);
    else r.end();
  });
}

/** A browser's session with one app: the cookies and CSRF token its booking form carries. */
export interface FormSession {
  cookie: string;
  csrf: string;
}

/** GETs the movie page as a new browser would and keeps its cookies and CSRF token. */
export async function formSession(baseUrl: string, movieId: number): Promise<FormSession> {
  const r = await send({ method: 'GET', url: `${baseUrl}/movies/${movieId}` });
  if (r.kind !== 'answered' || r.status !== 200) throw new Error(`GET /movies/${movieId} failed: ${JSON.stringify(r).slice(0, 300)}`);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(r.body)?.[1];
  if (!csrf) throw new Error('no CSRF token on the movie page');
  const cookie = (r.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).join('; ');
  return { cookie, csrf };
}

/** POST /bookings with the form fields, as the booking form sends them. */
export function postBooking(
  baseUrl: string,
  session: FormSession,
  form: { movieId: number; customerName: string; phoneNumber: string; quantity: number },
  agent?: Agent,
): Promise<Sent> {
  const body = new URLSearchParams({
    _csrf: session.csrf, movieId: String(form.movieId), customerName: form.customerName, phoneNumber: form.phoneNumber,
    quantity: String(form.quantity),
  }).toString();
  return send({
    method: 'POST', url: `${baseUrl}/bookings`, body,
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: session.cookie },
    ...(agent ? { agent } : {}),
  });
}

/** POSTs a callback body to the app's callback URL. */
export function postCallback(baseUrl: string, body: string, token = PROCESS_CALLBACK_TOKEN): Promise<Sent> {
  return send({ method: 'POST', url: `${baseUrl}/api/payments/callback/${token}`, body, headers: { 'content-type': 'application/json' } });
}
