import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { ROOT } from './processes.js';

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }>;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Sampled time that was not idle, in ms. */
  busyMs: number;
  idleMs: number;
  /** Functions by self time. */
  frames: Array<{ frame: string; ms: number; share: number }>;
  /** Self time grouped by where the code lives: a package, a src/ file, node: internals, GC. */
  modules: Array<{ module: string; ms: number; share: number }>;
}

function where(url: string): string {
  if (!url) return '(native)';
  const path = url.startsWith('file://') ? new URL(url).pathname : url;
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (nm) return nm[1]!;
  if (path.startsWith('node:')) return 'node: internals';
  const rel = relative(ROOT, path);
  return rel.startsWith('..') ? path : rel;
}

/** Self time per function and per module from a V8 .cpuprofile (node --cpu-prof), busiest first. */
export function summariseProfile(file: string, top = 15): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // A native frame (a socket write, a SQLite step) says little alone: name the nearest JavaScript module above it.
  const callerModule = (id: number): string => {
    for (let up = parent.get(id); up !== undefined; up = parent.get(up)) {
      const url = byId.get(up)?.callFrame.url;
      if (url && !url.startsWith('node:')) return where(url);
    }
    return '?';
  };
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const frames = new Map<string, number>();
  const modules = new Map<string, number>();
  let idle = 0;
  let busy = 0;
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (!n) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    if (functionName === '(idle)') {
      idle += us;
      continue;
    }
    busy += us;
    const mod = functionName.startsWith('(') ? functionName : url ? where(url) : `native, from ${callerModule(id)}`;
    // tsx hands V8 one-line modules, so a line number says nothing there; keep it for node: internals and packages.
    const name = `${functionName || '(anonymous)'} ${mod}${url && lineNumber > 0 ? `:${lineNumber + 1}` : ''}`;
    frames.set(name, (frames.get(name) ?? 0) + us);
    modules.set(mod, (modules.get(mod) ?? 0) + us);
  }
  const rank = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, us]) => ({ k, ms: us / 1000, share: busy ? us / busy : 0 }));
  return {
    busyMs: busy / 1000,
    idleMs: idle / 1000,
    frames: rank(frames).map(({ k, ms, share }) => ({ frame: k, ms, share })),
    modules: rank(modules).map(({ k, ms, share }) => ({ module: k, ms, share })),
  };
}

export function formatProfile(s: ProfileSummary, title: string): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const lines = [`${title}: ${s.busyMs.toFixed(0)} ms busy, ${s.idleMs.toFixed(0)} ms idle`];
  lines.push('  self time by module:');
  for (const m of s.modules) lines.push(`    ${pct(m.share).padStart(6)}  ${m.module}`);
  lines.push('  top frames by self time:');
  for (const f of s.frames) lines.push(`    ${pct(f.share).padStart(6)}  ${f.frame}`);
  return lines.join('\n');
}
