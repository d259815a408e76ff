// The README's "API" section lists exactly what src/index.ts exports, values and types, both ways.
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as api from '../../src/index.js';

const root = new URL('../../', import.meta.url);

/** Every name the entry module exports, with whether it exists at runtime. */
function exportsOfIndex(): Map<string, 'value' | 'type'> {
  const file = fileURLToPath(new URL('src/index.ts', root));
  const program = ts.createProgram([file], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    skipLibCheck: true,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file);
  const moduleSymbol = source && checker.getSymbolAtLocation(source);
  if (!moduleSymbol) throw new Error('src/index.ts could not be read');
  const out = new Map<string, 'value' | 'type'>();
  for (const symbol of checker.getExportsOfModule(moduleSymbol)) {
    const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    out.set(symbol.name, target.flags & ts.SymbolFlags.Value ? 'value' : 'type');
  }
  return out;
}

/** The names in backticks of the README's "## API" section (up to the next section). */
function namesInReadme(): Set<string> {
  const readme = readFileSync(new URL('README.md', root), 'utf8');
  const start = readme.indexOf('\n## API\n');
  expect(start, 'README.md has an "## API" section').toBeGreaterThan(0);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const names = new Set<string>();
  // Only list items name exports; the introduction shows an import line.
  for (const line of section.split('\n')) {
    if (!/^\s*(- |\S)/.test(line) || line.includes("from 'bullmq-dualstream'")) continue;
    for (const m of line.matchAll(/`([A-Za-z_$][\w$]*)`/g)) names.add(m[1]!);
  }
  return names;
}

describe('public API', () => {
  const exported = exportsOfIndex();
  const listed = namesInReadme();

  it('exports by name, no export * (every name is chosen)', () => {
    const source = readFileSync(new URL('src/index.ts', root), 'utf8');
    expect(source).not.toMatch(/export \*/);
  });

  it('the README lists every exported name', () => {
    const missing = [...exported.keys()].filter((n) => !listed.has(n)).sort();
    expect(missing).toEqual([]);
  });

  it('the README lists nothing that is not exported', () => {
    const extra = [...listed].filter((n) => !exported.has(n)).sort();
    expect(extra).toEqual([]);
  });

  it('runtime exports and the type checker agree', () => {
    const values = [...exported].filter(([, kind]) => kind === 'value').map(([n]) => n);
    expect(Object.keys(api).sort()).toEqual(values.sort());
  });

  it('every name the README and docs import from the package is exported', () => {
    const files = ['README.md', ...readdirSync(new URL('docs/', root)).map((f) => `docs/${f}`)];
    const imported: string[] = [];
    for (const file of files.filter((f) => f.endsWith('.md'))) {
      const text = readFileSync(new URL(file, root), 'utf8');
      for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'bullmq-dualstream'/g)) {
        for (const name of m[1]!.split(',')) {
          const n = name.replace(/^\s*type\s+/, '').trim();
          // The README's API section shows the form with an ellipsis, not names.
          if (/^[A-Za-z_$][\w$]*$/.test(n)) imported.push(n);
        }
      }
    }
    expect(imported.length).toBeGreaterThan(0);
    expect(imported.filter((n) => !exported.has(n))).toEqual([]);
  });

  it('keeps internals internal', () => {
    for (const name of [
      'findOrphans',
      'LockExtender',
      'refreshQueueDepth',
      'createPublishProcessor',
      'OwnershipScripts',
      'SignalGate',
      'jobEventId',
    ]) {
      expect(exported.has(name), name).toBe(false);
    }
  });
});
