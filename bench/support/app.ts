import { join } from 'node:path';
import { freePort, startNodeChild, type NodeChild } from './processes.js';

/** A fixed callback token (48 hex characters, as `openssl rand -hex 24` gives), so the load generator knows the URL. */
export const CALLBACK_TOKEN = '5b0c1e7d9a2f4c6e8b1d3f5a7c9e0b2d4f6a8c1e3b5d7f90';
export const CSRF_SECRET = 'bench-csrf-secret-0123456789abcdef0123456789';

export interface AppProcess extends NodeChild {
  callbackUrl: string;
}

/**
 * Tikiti exactly as `npm start` runs it (node --import tsx src/server.ts), in its own process, on the given database.
 * The reconciler is pushed out of the way (a Pending ticket is not due for a day), so only the load under test runs.
 * Logs go to a file at LOG_LEVEL=info, as in production (BENCH_LOG_LEVEL overrides).
 */
export async function startApp(o: {
  name: string;
  databaseUrl: string;
  workDir: string;
  env?: Record<string, string>;
  cpuProfileDir?: string;
  /** Run the app from another checkout (A/B experiments); this repository by default. */
  cwd?: string;
  /** The entry point; `npm start`'s src/server.ts by default. */
  script?: string;
}): Promise<AppProcess> {
  const port = await freePort();
  const child = await startNodeChild({
    name: o.name,
    script: o.script ?? 'src/server.ts',
    port,
    readyPath: '/readyz',
    workDir: join(o.workDir, 'logs'),
    cpuProfileDir: o.cpuProfileDir,
    timeoutMs: 60_000,
    cwd: o.cwd,
    env: {
      NODE_ENV: 'production',
      DATABASE_URL: o.databaseUrl,
      DARAJA_ENV: 'simulator',
      // Production's settings against the simulator, on 127.0.0.1: meant, so said (the app refuses it otherwise).
      SIMULATOR_PUBLIC: 'on',
      SIMULATOR_MODE: 'manual',
      PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
      MPESA_CALLBACK_TOKEN: CALLBACK_TOKEN,
      CSRF_SECRET,
      PAYMENT_TIMEOUT_SECONDS: '86400',
      RECONCILE_INTERVAL_SECONDS: '86400',
      RATE_LIMIT_BOOKINGS_PER_IP: '1000000',
      RATE_LIMIT_PUSHES_PER_PHONE: '1000000',
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
      ...o.env,
    },
  });
  return { ...child, callbackUrl: `${child.baseUrl}/api/payments/callback/${CALLBACK_TOKEN}` };
}

/** The bare Express baseline (bench/support/hello-server.ts), in its own process like the app. */
export async function startHello(workDir: string): Promise<AppProcess> {
  const port = await freePort();
  const child = await startNodeChild({
    name: 'hello',
    script: 'bench/support/hello-server.ts',
    port,
    readyPath: '/healthz',
    workDir: join(workDir, 'logs'),
    env: { NODE_ENV: 'production' },
  });
  return { ...child, callbackUrl: `${child.baseUrl}/api/payments/callback/${CALLBACK_TOKEN}` };
}
