import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startStandalone, type StandaloneSimulator } from '../simulator/standalone-process.js';

const run = promisify(execFile);

describe('examples/daraja-client.ts against npm run simulator', () => {
  let sim: StandaloneSimulator;
  beforeAll(async () => {
    sim = await startStandalone({ SIMULATOR_MODE: 'manual', SIMULATOR_DELAY_MS: '100' });
  });
  afterAll(() => sim?.stop());

  it('when run, then it pushes, receives the callback and queries, and exits 0', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/daraja-client.ts'], {
      cwd: ROOT, env: { PATH: process.env.PATH ?? '', DARAJA_BASE_URL: sim.base }, timeout: 30_000,
    });
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^push accepted: ws_CO_\d+708374149$/);
    expect(lines[1]).toMatch(/^callback: paid, receipt [A-Z0-9]{10}, KES 1$/);
    expect(lines[2]).toBe('query: paid (ResultCode 0)');
  });

  it('when the phone is one whose customer cancels, then the callback and the query both say so', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/daraja-client.ts'], {
      cwd: ROOT, env: { PATH: process.env.PATH ?? '', DARAJA_BASE_URL: sim.base, PHONE: '254700000001' }, timeout: 30_000,
    });
    expect(stdout).toContain('callback: not paid, ResultCode 1032 (Request cancelled by user)');
    expect(stdout).toContain('query: failed (ResultCode 1032)');
  });
});
