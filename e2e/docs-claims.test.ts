import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');
const userDocs = ['README.md', ...readdirSync(path.join(root, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];

describe('what README.md and docs/ tell a user', () => {
  it('names only npm scripts that package.json defines', () => {
    const scripts = Object.keys((JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts);
    // `npm run [--silent] NAME`, and `npm start` / `npm test`, which run the scripts of those names.
    const commands = /npm run (?:--?[\w-]+ )*([\w:-]+)|npm (start|test)\b/g;
    const named = userDocs.flatMap((file) => [...read(file).matchAll(commands)].map(([, script, shorthand]) => ({ file, script: script ?? shorthand ?? '' })));
    expect(named.length).toBeGreaterThan(10);
    expect(named.filter(({ script }) => !scripts.includes(script))).toEqual([]);
  });

  it('shows in docs/development.md a layout of folders that exist, naming every workspace project and top-level folder', () => {
    const markdown = read('docs/development.md');
    const block = markdown.slice(markdown.indexOf('```\n') + 4, markdown.indexOf('```', markdown.indexOf('```\n') + 4));
    const listed = [...block.matchAll(/^(\S+)\s{2,}/gm)].map(([, entry]) => (entry ?? '').replace(/\/$/, ''));
    expect(listed.filter((entry) => !existsSync(path.join(root, entry)))).toEqual([]);
    const projects = ['packages', 'modules', 'tools'].flatMap((group) => readdirSync(path.join(root, group)).map((name) => `${group}/${name}`));
    // Folders git ignores (node_modules, config, test output) are not part of the layout.
    const ignored = read('.gitignore').split('\n').map((line) => line.trim().replace(/^\//, '').replace(/\/$/, ''));
    const topLevel = readdirSync(root, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.') && !ignored.includes(entry.name) && !['packages', 'modules', 'tools'].includes(entry.name))
      .map((entry) => entry.name);
    expect([...projects, ...topLevel].filter((entry) => !listed.includes(entry))).toEqual([]);
  });
});
