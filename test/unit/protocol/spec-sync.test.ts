import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { ErrorCode, FRAME_SCHEMAS } from '@switchyard/client/protocol';

const spec = readFileSync(new URL('../../../spec/protocol.md', import.meta.url), 'utf8');

/** Rows of the markdown table whose first cell is a `code` span: frame name -> row. */
function frameRows(): Map<string, string> {
  const rows = new Map<string, string>();
  for (const line of spec.split('\n')) {
    const m = /^\| `(\w+)` \| (0x[0-9a-f]{2}) \| (.*?) \|/.exec(line);
    if (m) rows.set(m[1]!, line);
  }
  return rows;
}

describe('spec/protocol.md', () => {
  it('documents every frame type with its code and fields in order, and no others', () => {
    const rows = frameRows();
    for (const [name, schema] of Object.entries(FRAME_SCHEMAS)) {
      const row = rows.get(name);
      expect(row, `frame ${name} missing from spec/protocol.md`).to.be.a('string');
      expect(row).to.contain(`0x${schema.code.toString(16).padStart(2, '0')}`);
      const fields = schema.fields.map(([f, kind]) => (kind === 'content' ? 'content' : `${f}: ${kind}`));
      expect(row).to.contain(fields.length === 0 ? '—' : fields.join(', '));
    }
    expect([...rows.keys()].sort()).to.deep.equal(Object.keys(FRAME_SCHEMAS).sort());
  });

  it('documents every reply code with its name, and no others', () => {
    const documented = new Map<number, string>();
    for (const m of spec.matchAll(/^\| (\d{3}) \| ([A-Z_]+) \|/gm)) documented.set(Number(m[1]), m[2]!);
    for (const [name, code] of Object.entries(ErrorCode)) expect(documented.get(code), `code ${code}`).to.equal(name);
    expect(documented.size).to.equal(Object.keys(ErrorCode).length);
  });
});
