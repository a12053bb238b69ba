// `npm run simulator`: the Daraja simulator alone, for any app. A separate program from Tikiti, so it reads its few
// settings here rather than through the app's config, and logs through pino itself.
import type { Server } from 'node:http';
import express from 'express';
import { pino } from 'pino';
import { z } from 'zod';
import { SANDBOX_PASSKEY, createSimulator } from './index.js';

const Env = z.object({
  SIMULATOR_PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  SIMULATOR_MODE: z.enum(['manual', 'auto']).default('manual'),
  SIMULATOR_DELAY_MS: z.coerce.number().int().min(0).default(1500),
  SIMULATOR_PROMPT_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
  SIMULATOR_STRICT: z.enum(['on', 'off']).default('off'),
  SIMULATOR_STATE_FILE: z.string().min(1).optional(),
  DARAJA_PASSKEY: z.string().min(1).default(SANDBOX_PASSKEY),
  DARAJA_CONSUMER_KEY: z.string().min(1).optional(),
  DARAJA_CONSUMER_SECRET: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

// An empty variable means "not set", as in a .env file with `KEY=`.
const parsed = Env.safeParse(Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== '')));
if (!parsed.success) {
  for (const issue of parsed.error.issues) console.error(`simulator: ${issue.path.join('.')}: ${issue.message}`);
  process.exit(1);
}
const env = parsed.data;
const logger = pino({ level: env.LOG_LEVEL });

const simulator = createSimulator({
  mode: env.SIMULATOR_MODE,
  delayMs: env.SIMULATOR_DELAY_MS,
  promptSeconds: env.SIMULATOR_PROMPT_SECONDS,
  strict: env.SIMULATOR_STRICT === 'on',
  ...(env.SIMULATOR_STATE_FILE ? { statePath: env.SIMULATOR_STATE_FILE } : {}),
  passkey: env.DARAJA_PASSKEY,
  consumerKey: env.DARAJA_CONSUMER_KEY,
  consumerSecret: env.DARAJA_CONSUMER_SECRET,
  logger,
});

const app = express();
app.disable('x-powered-by');
// Both mounts: DARAJA_BASE_URL=http://localhost:4000 works, and so do links written for the built-in /simulator.
app.use('/simulator', simulator.router);
app.use('/', simulator.router);

const server: Server = app.listen(env.SIMULATOR_PORT, () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : env.SIMULATOR_PORT;
  logger.info(
    {
      port, mode: env.SIMULATOR_MODE, delayMs: env.SIMULATOR_DELAY_MS, promptSeconds: env.SIMULATOR_PROMPT_SECONDS,
      strict: env.SIMULATOR_STRICT, checksCredentials: Boolean(env.DARAJA_CONSUMER_KEY), stateFile: env.SIMULATOR_STATE_FILE,
    },
    `Daraja simulator on http://localhost:${port} (set DARAJA_BASE_URL to it); phone at http://localhost:${port}/phone`,
  );
  // It posts a callback to whatever URL a push names, and anyone who reaches it can "pay": a developer's tool only.
  logger.warn('This simulator must not be reachable from outside this machine or your network: it posts callbacks to any URL a request names, and anyone who reaches it can pay any prompt.');
});
server.on('error', (err) => {
  logger.fatal({ err }, 'simulator: cannot listen');
  process.exit(1);
});

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'simulator: stopping');
  await simulator.close(); // sends held answers first, so open requests can finish
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 5000).unref();
}
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
