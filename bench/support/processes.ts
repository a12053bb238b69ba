import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/** The repository root (bench/support/../..). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A port the OS says is free now (released at once; a tiny race we accept on a benchmark box). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** Only what a Node child needs from ours: a developer's DATABASE_URL, REDIS_URL or SMTP_URL must not leak in. */
function baseEnv(): Record<string, string> {
  const keep = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ', 'SYSTEMROOT'];
  const env: Record<string, string> = {};
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k]!;
  return env;
}

const children = new Set<ChildProcess>();
let exitHookInstalled = false;
function trackChild(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // A crashed or interrupted run must not leave a server holding a port or the SQLite file.
    process.once('exit', () => {
      for (const c of children) if (c.pid) try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
    });
  }
}

export interface NodeChild {
  name: string;
  pid: number;
  port: number;
  baseUrl: string;
  logFile: string;
  /** VmRSS and VmHWM of the child from /proc/<pid>/status, in bytes (Linux only; undefined elsewhere). */
  memory(): { rss: number; hwm: number } | undefined;
  /** CPU time the child has used so far (user + system), in ms, from /proc/<pid>/stat (Linux only). */
  cpuMs(): number | undefined;
  /** SIGTERM, wait for a clean exit (the app drains and closes the database), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<number | null>;
  /** The .cpuprofile written on exit, when started with `cpuProfileDir`. */
  cpuProfiles(): string[];
}

export interface StartOptions {
  name: string;
  /** Script relative to the repository root, run with `node --import tsx`. */
  script: string;
  env: Record<string, string>;
  port: number;
  /** Path polled until it answers 200. */
  readyPath: string;
  workDir: string;
  cpuProfileDir?: string;
  timeoutMs?: number;
  /** Another checkout to run the script from (A/B experiments on a copy of the code); the repository by default. */
  cwd?: string;
}

/**
 * Starts a Node program as its own process (so its CPU and memory are its own, not the load generator's), logs to a
 * file, and waits until `readyPath` answers 200.
 */
export async function startNodeChild(o: StartOptions): Promise<NodeChild> {
  mkdirSync(o.workDir, { recursive: true });
  const logFile = join(o.workDir, `${o.name}.log`);
  const fd = openSync(logFile, 'a');
  const args = ['--import', 'tsx'];
  if (o.cpuProfileDir) {
    mkdirSync(o.cpuProfileDir, { recursive: true });
    args.push('--cpu-prof', `--cpu-prof-dir=${o.cpuProfileDir}`);
  }
  args.push(o.script);
  const child = spawn(process.execPath, args, {
    cwd: o.cwd ?? ROOT,
    env: { ...baseEnv(), TIKITI_NO_DOTENV: '1', ...o.env, PORT: String(o.port) },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  trackChild(child);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => { exitCode = code; resolve(code); }));
  const baseUrl = `http://127.0.0.1:${o.port}`;
  const deadline = Date.now() + (o.timeoutMs ?? 30_000);
  for (;;) {
    if (exitCode !== undefined) throw new Error(`${o.name} exited (${exitCode}) before it was ready:\n${tail(logFile)}`);
    try {
      const r = await fetch(baseUrl + o.readyPath, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      if (r.status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${o.name} was not ready after ${o.timeoutMs ?? 30_000} ms:\n${tail(logFile)}`);
    }
    await sleep(50);
  }
  const pid = child.pid!;
  return {
    name: o.name,
    pid,
    port: o.port,
    baseUrl,
    logFile,
    memory: () => readProcMemory(pid),
    cpuMs: () => readProcCpuMs(pid),
    async stop(graceMs = 20_000) {
      if (exitCode !== undefined) return exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    cpuProfiles() {
      if (!o.cpuProfileDir) return [];
      return readdirSync(o.cpuProfileDir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(o.cpuProfileDir!, f));
    },
  };
}

export function readProcMemory(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

/** utime + stime of a process in ms (fields 14 and 15 of /proc/<pid>/stat, in clock ticks of 10 ms on Linux). */
export function readProcCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
