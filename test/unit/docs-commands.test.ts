// Docs check: every `dualstream …` and `npm run …` command in a shell block of README.md and
// docs/*.md names a subcommand, flags and scripts that exist. (What the commands do is tested by
// the integration tests that run them: cli-commands, start-signals, readme-snippets.)
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { createProgram } from '../../src/cli/program.js';

const root = new URL('../../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
  scripts: Record<string, string>;
};
const files = [
  'README.md',
  ...readdirSync(new URL('docs/', root))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** Command lines of ```sh blocks and `$ ` lines of plain blocks, without comments. */
function commandLines(text: string): string[] {
  const out: string[] = [];
  let lang: string | undefined; // inside a fenced block when defined
  for (const raw of text.split('\n')) {
    const fence = /^```(\w*)\s*$/.exec(raw);
    if (fence) {
      lang = lang === undefined ? fence[1]! : undefined;
      continue;
    }
    if (lang !== 'sh' && lang !== 'bash' && lang !== '') continue;
    let line = raw.replace(/\s+#.*$/, '').trim();
    if (lang === '') {
      if (!line.startsWith('$ ')) continue;
      line = line.slice(2);
    }
    for (const part of line.split('&&')) if (part.trim()) out.push(part.trim());
  }
  return out;
}

/** Split on spaces, keeping single-quoted strings together. */
function words(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

function check(line: string): string | undefined {
  const w = words(line).filter((x) => !/^[A-Z_]+=/.test(x));
  if (w[0] === 'npx') w.shift();
  if (w[0] === 'npm') {
    if (w[1] === 'run') return w[2]! in pkg.scripts ? undefined : `no npm script "${w[2]}"`;
    if (w[1] === 'start' || w[1] === 'test')
      return w[1] in pkg.scripts ? undefined : `no npm ${w[1]}`;
    return undefined; // npm install …
  }
  if (w[0] !== 'dualstream') return undefined;
  let cmd: Command = createProgram();
  let i = 1;
  for (; i < w.length && !w[i]!.startsWith('-'); i++) {
    const sub = cmd.commands.find((c) => c.name() === w[i]);
    if (!sub) break;
    cmd = sub;
  }
  if (cmd.name() === 'dualstream') return `unknown command in "${line}"`;
  const longs = new Set(cmd.options.map((o) => o.long));
  for (const flag of w.slice(i).filter((x) => x.startsWith('--'))) {
    const name = flag.split('=')[0]!;
    if (name !== '--help' && !longs.has(name)) return `"${cmd.name()}" has no flag ${name}`;
  }
  return undefined;
}

describe('commands shown in the docs', () => {
  for (const file of files) {
    it(`${file}: every dualstream and npm command exists`, () => {
      const lines = commandLines(readFileSync(new URL(file, root), 'utf8'));
      const problems = lines.map((l) => [l, check(l)]).filter(([, p]) => p !== undefined);
      expect(problems).toEqual([]);
    });
  }

  it('finds the README commands (the check itself is not vacuous)', () => {
    const lines = commandLines(readFileSync(new URL('README.md', root), 'utf8'));
    expect(lines).toContain('npx dualstream retry-failed --include-invalid');
    expect(check('npx dualstream retry-failed --no-such-flag')).toMatch(/no flag --no-such-flag/);
    expect(check('npx dualstream retry-faild')).toMatch(/unknown command/);
  });
});
