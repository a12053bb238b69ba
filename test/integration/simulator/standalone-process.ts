// `npm run simulator`'s program as a real process on a free port, for tests that run outside clients against it.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface StandaloneSimulator {
  /** http://127.0.0.1:PORT, the simulator mounted at / (and at /simulator). */
  base: string;
  output(): string;
  stop(): Promise<void>;
}

/** Starts `node --import tsx src/simulator/standalone.ts` with these variables and waits for its first log line. */
export async function startStandalone(env: Record<string, string> = {}): Promise<StandaloneSimulator> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/simulator/standalone.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', SIMULATOR_PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await once(child, 'exit');
    clearTimeout(timer);
  };
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const port = /"port":(\d+)/.exec(out)?.[1];
    if (port) return { base: `http://127.0.0.1:${port}`, output: () => out, stop };
    if (child.exitCode !== null) throw new Error(`the simulator exited: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(`the simulator did not start: ${out}`);
}
