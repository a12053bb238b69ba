import { randomInt } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { dialects, createTestDatabase, type TestDatabase } from '../../support/db.js';
import { formSession, freePort, postBooking, send, spawnApp, type AppProcess } from '../../support/process.js';

// The app in simulator mode, killed with SIGKILL while a ticket waits for its prompt, then started again.
let apps: AppProcess[] = [];
let database: TestDatabase | undefined;
afterEach(async () => {
  for (const a of apps) await a.stop(2000);
  apps = [];
  await database?.drop();
  database = undefined;
});

const json = async (url: string, init: { method?: 'GET' | 'POST'; body?: string; headers?: Record<string, string> } = {}) => {
  const r = await send({ method: init.method ?? 'GET', url, body: init.body, headers: { accept: 'application/json', ...init.headers } });
  if (r.kind !== 'answered') throw new Error(`${url}: ${r.kind}`);
  return { status: r.status, body: JSON.parse(r.body) as Record<string, unknown> };
};

describe.each(dialects)('the app with the built-in simulator on %s, after kill -9 and a restart', (dialect) => {
  it('when a Pending ticket\'s prompt was waiting, then it is still on the phone page, and paying it makes the ticket Paid by its callback', async () => {
    database = await createTestDatabase(dialect);
    const port = await freePort();
    // Manual prompts; the reconciler's query is pushed out of the way, so only the callback can make the ticket Paid.
    const env = { PORT: String(port), SIMULATOR_MODE: 'manual', PAYMENT_TIMEOUT_SECONDS: '600', RECONCILE_INTERVAL_SECONDS: '600' };
    const first = await spawnApp(database.url, env);
    apps.push(first);

    const movies = (await json(`${first.baseUrl}/api/movies`)).body as unknown as { movieId: number }[];
    const movieId = movies[0]!.movieId;
    const digits = String(randomInt(10_000_000, 99_999_999));
    const booked = await postBooking(first.baseUrl, await formSession(first.baseUrl, movieId), {
      movieId, customerName: 'Akinyi', phoneNumber: `07${digits}`, quantity: 2,
    });
    expect(booked.kind === 'answered' && booked.status).toBe(303);
    const ref = String(booked.kind === 'answered' ? booked.headers.location : '').split('/').pop()!;

    const waiting = async (app: AppProcess) => {
      const screen = (await json(`${app.baseUrl}/simulator/phone/prompts`)).body as { pending: { id: string; phoneNumber: string }[] };
      return screen.pending.find((p) => p.phoneNumber === `2547${digits}`);
    };
    await expect.poll(() => waiting(first), { timeout: 10_000 }).toBeDefined();
    const prompt = (await waiting(first))!;

    first.kill('SIGKILL');
    await first.exited;
    const second = await spawnApp(database.url, env);
    apps.push(second);

    const page = await send({ method: 'GET', url: `${second.baseUrl}/simulator/phone` });
    expect(page.kind === 'answered' && page.body).toContain(prompt.id);
    const paid = await json(`${second.baseUrl}/simulator/phone/prompts/${prompt.id}/pin`, {
      method: 'POST', body: 'pin=1234', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(paid).toMatchObject({ status: 200, body: { outcome: 'Paid' } });

    const status = () => json(`${second.baseUrl}/tickets/${ref}/status`).then((r) => r.body);
    await expect.poll(async () => (await status()).status, { timeout: 15_000 }).toBe('Paid');
    expect(await status()).toMatchObject({ status: 'Paid', confirmedBy: 'callback', mpesaReceiptNumber: expect.stringMatching(/^[A-Z0-9]{10}$/) });
  }, 90_000);
});
