import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

interface Packed {
  name: string;
  files: { path: string }[];
}

/** What `npm pack` would publish for the workspace at `dir` (a dry run: nothing is written). */
function pack(dir: string): Packed {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts', '-w', dir], { cwd: ROOT, encoding: 'utf8' });
  return (JSON.parse(out) as Packed[])[0] as Packed;
}

/** The package and every package it depends on, transitively, resolved as Node would from `from`. */
function closure(name: string, from: string, seen = new Map<string, string>()): Map<string, string> {
  const require = createRequire(join(from, 'noop.js'));
  let manifest: string;
  try {
    manifest = require.resolve(`${name}/package.json`);
  } catch {
    // Packages whose exports hide package.json: walk up from the entry point.
    let dir = dirname(require.resolve(name));
    while (!existsSync(join(dir, 'package.json')) || JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name !== name) {
      dir = dirname(dir);
    }
    manifest = join(dir, 'package.json');
  }
  const dir = dirname(manifest);
  if (seen.has(name)) return seen;
  seen.set(name, dir);
  const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { dependencies?: Record<string, string> };
  for (const dep of Object.keys(pkg.dependencies ?? {})) closure(dep, dir, seen);
  return seen;
}

describe('@keyward/client is publishable', () => {
  it.each([
    ['packages/sdk', '@keyward/client'],
    ['packages/wire', '@keyward/wire'],
  ])('%s packs as %s: public, built JavaScript and types only', (dir, name) => {
    const manifest = JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest.name).toBe(name);
    expect(manifest.private).toBeUndefined();
    const packed = pack(dir);
    expect(packed.name).toBe(name);
    const paths = packed.files.map((f) => f.path).sort();
    expect(paths).toContain('package.json');
    expect(paths).toContain('dist/index.js');
    expect(paths).toContain('dist/index.d.ts');
    // No sources, tests, maps or build state: only what a consumer runs and type-checks against.
    for (const path of paths) expect(path).toMatch(/^(package\.json|dist\/[\w/-]+\.(js|d\.ts))$/);
  });

  it('depends only on publishable packages, none of them native (no addon, no install script)', () => {
    const deps = closure('@keyward/client', join(ROOT, 'packages', 'cli'));
    expect([...deps.keys()]).toEqual(expect.arrayContaining(['@keyward/client', '@keyward/wire', 'jose', 'undici']));
    for (const [name, dir] of deps) {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        private?: boolean;
        gypfile?: boolean;
        scripts?: Record<string, string>;
      };
      expect(pkg.private, name).not.toBe(true);
      expect(pkg.gypfile ?? false, name).toBe(false);
      expect(existsSync(join(dir, 'binding.gyp')), name).toBe(false);
      for (const hook of ['preinstall', 'install', 'postinstall']) expect(pkg.scripts?.[hook], `${name} ${hook}`).toBeUndefined();
    }
  });
});
