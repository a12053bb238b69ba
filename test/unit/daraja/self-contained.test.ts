import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Every module specifier a TypeScript file names: imports, `import type`, re-exports and dynamic imports. */
function specifiers(source: string): string[] {
  const found: string[] = [];
  const patterns = [/\bfrom\s+['"]([^'"]+)['"]/g, /\bimport\s+['"]([^'"]+)['"]/g, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g];
  for (const re of patterns) for (const m of source.matchAll(re)) found.push(m[1]!);
  return found;
}

/** The relative imports of the files under `folder` that lead outside it, as "file → target". */
function importsLeaving(folder: string): string[] {
  const dir = join(ROOT, folder);
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .flatMap((f) => {
      const file = join(dir, f);
      return specifiers(readFileSync(file, 'utf8'))
        .filter((s) => s.startsWith('.'))
        .filter((s) => relative(dir, resolve(dirname(file), s)).startsWith('..'))
        .map((s) => `${relative(ROOT, file)} → ${s}`);
    });
}

describe('src/daraja and src/simulator stand alone (another app can take either without the rest of Tikiti)', () => {
  it.each(['src/daraja', 'src/simulator'])('when every file of %s is read, then none imports from outside the folder, not even a type', (folder) => {
    expect(importsLeaving(folder)).toStrictEqual([]);
  });

  it('when the example is read, then it uses the client through its entry point only', () => {
    const source = readFileSync(join(ROOT, 'examples/daraja-client.ts'), 'utf8');
    expect(specifiers(source).filter((s) => s.startsWith('.'))).toStrictEqual(['../src/daraja/index.js']);
  });
});
