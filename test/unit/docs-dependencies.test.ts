// The "Dependencies and why" table (README.md or a docs/ page) lists exactly the runtime
// dependencies of package.json: adding or removing one without saying why fails here.
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
  dependencies: Record<string, string>;
};

function documents(): Array<{ name: string; text: string }> {
  const docs = readdirSync(new URL('docs/', root))
    .filter((f) => f.endsWith('.md'))
    .map((f) => ({ name: `docs/${f}`, text: readFileSync(new URL(`docs/${f}`, root), 'utf8') }));
  return [{ name: 'README.md', text: readFileSync(new URL('README.md', root), 'utf8') }, ...docs];
}

/** Package names in the first column of the table under the "Dependencies and why" heading. */
function tablePackages(text: string): string[] {
  const section = text.split(/^#+ Dependencies and why\s*$/m)[1]?.split(/^#+ /m)[0] ?? '';
  const rows = section.split('\n').filter((l) => l.startsWith('|'));
  return rows
    .slice(2) // header and separator
    .flatMap((row) => [...(row.split('|')[1] ?? '').matchAll(/`([^`\s]+)`/g)].map((m) => m[1]!));
}

describe('dependency table', () => {
  it('exists once and names exactly the dependencies of package.json', () => {
    const withTable = documents().filter((d) => /^#+ Dependencies and why\s*$/m.test(d.text));
    expect(withTable.map((d) => d.name)).toHaveLength(1);
    const listed = tablePackages(withTable[0]!.text);
    expect([...listed].sort()).toEqual(Object.keys(pkg.dependencies).sort());
  });
});
