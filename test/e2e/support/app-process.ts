import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../support/process.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The repository root: the app is started from here, as README says. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export const ADMIN_USER = 'e2e-admin';
export const ADMIN_PASSWORD = 'e2e-admin-password-0123456789';

export interface AppProcess {
  /** http://127.0.0.1:PORT — the only origin the browser may talk to. */
  baseUrl: string;
  port: number;
  /** The app's stdout and stderr so far, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}


/**
 * Starts the real app the way README says (`node --import tsx src/server.ts` from the repository root) on a free
 * port, with a fresh SQLite database in a temporary folder (created, migrated and seeded by the app itself), and
 * waits for /readyz. Manual simulator mode unless `env` says otherwise.
 */
export async function startApp(env: Record<string, string> = {}): Promise<AppProcess> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tikiti-e2e-'));
  const baseUrl = `http://127.0.0.1:${port}`;
  let output = '';
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? dir,
      TZ: process.env.TZ ?? 'UTC',
      TIKITI_NO_DOTENV: '1', // a developer's .env never leaks into the run
      PORT: String(port),
      PUBLIC_BASE_URL: baseUrl,
      DATABASE_URL: `sqlite:${join(dir, 'tikiti.db')}`,
      LOG_LEVEL: 'warn',
      ADMIN_USER,
      ADMIN_PASSWORD,
      SIMULATOR_MODE: 'manual',
      SIMULATOR_DELAY_MS: '300',
      // Every browser request comes from 127.0.0.1: the per-client and per-phone limits are tested elsewhere.
      RATE_LIMIT_PUSHES_PER_PHONE: '1000',
      RATE_LIMIT_BOOKINGS_PER_IP: '1000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  let exited: number | null | undefined;
  const exit = new Promise<void>((resolve) =>
    child.on('exit', (code, signal) => {
      exited = code;
      output += `\n[the app exited: code ${code}, signal ${signal}]\n`;
      resolve();
    }),
  );

  const stop = async () => {
    if (exited === undefined) {
      child.kill('SIGTERM');
      const killed = await Promise.race([exit.then(() => true), sleep(5000).then(() => false)]);
      if (!killed) {
        child.kill('SIGKILL');
        await exit;
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited !== undefined) {
      await stop();
      throw new Error(`the app exited (code ${exited}) before it was ready:\n${output}`);
    }
    try {
      const res = await fetch(`${baseUrl}/readyz`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the app did not answer /readyz within 60 s:\n${output}`);
    }
    await sleep(100);
  }

  return { baseUrl, port, output: () => output, stop };
}

export interface ApiMovie {
  movieId: number;
  title: string;
  price: number;
  maximumTickets: number;
  ticketsLeft: number;
}

/** The catalogue as /api/movies gives it. */
export async function listMovies(app: AppProcess): Promise<ApiMovie[]> {
  const res = await fetch(`${app.baseUrl}/api/movies`);
  if (!res.ok) throw new Error(`/api/movies answered ${res.status}`);
  return (await res.json()) as ApiMovie[];
}

export async function movieByTitle(app: AppProcess, title: string): Promise<ApiMovie> {
  const movie = (await listMovies(app)).find((m) => m.title === title);
  if (!movie) throw new Error(`no movie titled ${title} in the demo catalogue`);
  return movie;
}

/** Creates a movie through the admin API, so a test owns its seats: `{ title, price, maximumTickets }`. */
export async function createMovie(
  app: AppProcess,
  movie: { title: string; price: number; maximumTickets: number; description?: string; showTime?: string },
): Promise<number> {
  const showTime = new Date(Date.now() + 3 * 86_400_000).toISOString();
  const res = await fetch(`${app.baseUrl}/admin/api/movies`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Basic ${Buffer.from(`${ADMIN_USER}:${ADMIN_PASSWORD}`).toString('base64')}`,
    },
    body: JSON.stringify({ description: `A show made for one end-to-end test.`, showTime, ...movie }),
  });
  const body = (await res.json()) as { movieId?: number };
  if (res.status !== 201 || typeof body.movieId !== 'number') {
    throw new Error(`POST /admin/api/movies answered ${res.status}: ${JSON.stringify(body)}`);
  }
  return body.movieId;
}

export interface TicketStatus {
  ref: string;
  status: 'Pending' | 'Paid' | 'Failed';
  quantity: number;
  totalAmount: number;
  mpesaReceiptNumber: string | null;
  transactionDate: string | null;
  failureReason: string | null;
}

/** GET /tickets/{ref}/status for a ticket page URL. */
export async function ticketStatus(ticketUrl: string): Promise<TicketStatus> {
  const res = await fetch(`${ticketUrl.replace(/[?#].*$/, '')}/status`, { headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`${ticketUrl}/status answered ${res.status}`);
  return (await res.json()) as TicketStatus;
}

/** Polls the status JSON until the ticket leaves Pending. */
export async function waitForFinalStatus(ticketUrl: string, timeoutMs = 20_000): Promise<TicketStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await ticketStatus(ticketUrl);
    if (s.status !== 'Pending') return s;
    if (Date.now() > deadline) throw new Error(`${ticketUrl} still Pending after ${timeoutMs} ms`);
    await sleep(200);
  }
}
