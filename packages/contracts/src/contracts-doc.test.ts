import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as contracts from './index.js';

const doc = readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../docs/contracts.md'), 'utf8');

describe('docs/contracts.md', () => {
  it('names in its contracts table only schemas and functions that @edge-ml/contracts exports', () => {
    const table = doc.slice(doc.indexOf('| contract | schema | described in |'), doc.indexOf('## Defined elsewhere'));
    const named = table
      .split('\n')
      .slice(2)
      .flatMap((row) => [...(row.split('|')[2] ?? '').matchAll(/`(\w+)`/g)].map(([, name]) => name ?? ''));
    expect(named.length).toBeGreaterThan(15);
    expect(named.filter((name) => !(name in contracts))).toEqual([]);
  });
});
