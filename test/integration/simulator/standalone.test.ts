import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../support/wait.js';
import { push } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
let child: ChildProcess | undefined;

afterEach(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  child = undefined;
});

/** Starts `npm run simulator`'s program on a free port and resolves with its base URL, read from its first log line. */
async function startStandalone(env: Record<string, string>): Promise<{ base: string; output: () => string }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/simulator/standalone.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', SIMULATOR_PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = proc;
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  // Its first log line names the port; or it exits, having refused to start.
  let port: string | undefined;
  try {
    await waitFor('the simulator to log its port or exit', () => (port = /"port":(\d+)/.exec(out)?.[1]) !== undefined || proc.exitCode !== null, { timeout: 15_000 });
  } catch {
    throw new Error(`simulator did not start: ${out}`);
  }
  if (port === undefined) throw new Error(`simulator exited: ${out}`);
  return { base: `http://127.0.0.1:${port}`, output: () => out };
}

describe('npm run simulator', () => {
  it('when started, then it serves the Daraja API at / and at /simulator, and stops cleanly on SIGTERM', async () => {
    const { base } = await startStandalone({ SIMULATOR_MODE: 'auto', SIMULATOR_DELAY_MS: '50' });
    const atRoot = await push(base);
    expect(atRoot.body).toMatchObject({ ResponseCode: '0', CheckoutRequestID: expect.stringMatching(/^ws_CO_/) });
    const atMount = await push(`${base}/simulator`);
    expect(atMount.body.ResponseCode).toBe('0');
    await request(base).get('/phone').expect(200).expect(/assets\/phone\.js/);
    await request(base).get('/simulator/phone').expect(200).expect(/\/simulator\/assets\/phone\.js/);

    child!.kill('SIGTERM');
    const [code] = (await once(child!, 'exit')) as [number | null];
    expect(code).toBe(0);
  });

  it('when DARAJA_CONSUMER_KEY/SECRET are set, then the token endpoint checks them', async () => {
    const { base } = await startStandalone({ DARAJA_CONSUMER_KEY: 'k', DARAJA_CONSUMER_SECRET: 's' });
    const bad = await request(base).get('/oauth/v1/generate?grant_type=client_credentials').auth('k', 'wrong').expect(400);
    expect(bad.body.errorCode).toBe('400.008.01');
    const good = await request(base).get('/oauth/v1/generate?grant_type=client_credentials').auth('k', 's').expect(200);
    expect(good.body.expires_in).toBe('3599');
  });

  it('when started, then it says it must not be reachable from outside, since it posts callbacks wherever it is asked', async () => {
    const { output } = await startStandalone({});
    await new Promise((r) => setTimeout(r, 200));
    expect(output()).toContain('This simulator must not be reachable from outside this machine or your network');
  });

  it('when SIMULATOR_STATE_FILE is set, then a prompt pushed before a restart is there after it', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'tikiti-standalone-'));
    try {
      const env = { SIMULATOR_STATE_FILE: join(dir, 'state.jsonl') };
      const first = await startStandalone(env);
      const { body } = await push(first.base);
      child!.kill('SIGKILL');
      await once(child!, 'exit');
      const second = await startStandalone(env);
      const screen = await request(second.base).get('/phone/prompts').expect(200);
      expect((screen.body.pending as { id: string }[]).map((p) => p.id)).toStrictEqual([body.CheckoutRequestID]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('when SIMULATOR_MODE is not manual or auto, then it refuses to start and names the variable', async () => {
    await expect(startStandalone({ SIMULATOR_MODE: 'fast' })).rejects.toThrow(/SIMULATOR_MODE/);
    expect(child!.exitCode ?? (await once(child!, 'exit'))[0]).toBe(1);
  });
});
