import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Code cites the spec rule it enforces as `spec/<file>.md §<Heading>`. A citation that names no
 * real heading sends the reader nowhere, so every one must resolve to a heading of that file.
 * `spec §X` without a file is refused too: it is ambiguous.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SCANNED_DIRS = ['broker/src', 'client-sdk/src', 'client-sdk/examples', 'scripts', 'test', 'spec'];
/** Folders whose own markdown files (READMEs, guides) are scanned too, not their subfolders. */
const MARKDOWN_DIRS = ['', 'broker', 'client-sdk'];
const SCANNED_EXT = /\.(ts|mts|js|mjs|md|html)$/;

interface SpecRef {
  file: string;
  /** The text right after `§`, up to the end of the comment line (for matching and messages). */
  text: string;
  /** The heading it names, or undefined when it names none. */
  heading: string | undefined;
  /** Offset in the scanned text just past the matched heading (or past `§` when unresolved). */
  end: number;
}

/** Headings of a markdown file, as written and without a leading `N. ` section number. */
export function specHeadings(markdown: string): string[] {
  const out: string[] = [];
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const m = fenced ? null : /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const title = m[1]!;
    out.push(title);
    // `## 5. Channels` may be cited as §5. Channels, §5 Channels, §Channels or §5.
    const numbered = /^(\d+(?:\.\d+)*)\.?\s+(.+)$/.exec(title);
    if (numbered) out.push(numbered[2]!, `${numbered[1]!} ${numbered[2]!}`, numbered[1]!);
  }
  return out;
}

/**
 * What may follow a heading's name in a citation: end of text, sentence or clause punctuation,
 * a parenthesised detail (`§Queue (Get)`), or the next citation (`§Exchanges and §Queues`).
 * Not a further word: `§Access control` must not pass for the heading `Access`.
 */
const AFTER_HEADING = /^(?:$|[.,;:)"'`]|\s*$|\s+\(|\s+(?:and|or)\s+§|\s*\n)/;

/** After a bare section number (`§6 lists …`) anything but a further digit will do. */
const AFTER_NUMBER = /^(?!\.?\d)/;

function resolve(text: string, headings: readonly string[]): string | undefined {
  let best: string | undefined;
  for (const h of headings) {
    const after = /^\d+$/.test(h) ? AFTER_NUMBER : AFTER_HEADING;
    if (text.startsWith(h) && after.test(text.slice(h.length)) && (!best || h.length > best.length)) best = h;
  }
  return best;
}

/**
 * Finds `spec/<file>.md §<Heading>` citations (also with the path in backticks, as markdown
 * writes it, and chained `… §A and §B` ones) in `source`.
 * Comment continuations (`\n * `, `\n // `) are joined first, so a citation may wrap.
 * `bare` collects `spec §X` citations that name no file.
 */
export function findSpecRefs(
  source: string,
  headingsOf: (file: string) => readonly string[] | undefined,
): { refs: SpecRef[]; bare: string[] } {
  const text = source.replace(/\s*\n\s*(?:\*(?!\/)|\/\/)?\s*/g, ' ');
  const refs: SpecRef[] = [];
  const bare: string[] = [];
  for (const m of text.matchAll(/(?:spec\/([\w-]+\.md)`?\s+|\bspec\s+)?§/g)) {
    const at = m.index + m[0].length;
    const rest = text.slice(at, at + 160);
    let file = m[1];
    if (!file) {
      if (m[0].startsWith('spec')) {
        bare.push(`spec §${rest.slice(0, 40)}`);
        continue;
      }
      // A chained citation inherits the file of the one it follows: `spec/x.md §A and §B`.
      const prev = refs.at(-1);
      if (!prev || !/^\s*(?:,|,?\s*(?:and|or))\s*$/.test(text.slice(prev.end, m.index))) continue;
      file = prev.file;
    }
    const heading = resolve(rest, headingsOf(file) ?? []);
    refs.push({ file, text: rest.split(/[.;)]/)[0]!.slice(0, 60), heading, end: heading ? at + heading.length : at });
  }
  return { refs, bare };
}

function* walk(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (SCANNED_EXT.test(entry.name)) yield path;
  }
}

describe('spec references (spec/*.md §Section)', () => {
  const specDir = join(ROOT, 'spec');
  const headings = new Map<string, string[]>();
  for (const name of readdirSync(specDir)) {
    if (name.endsWith('.md')) headings.set(name, specHeadings(readFileSync(join(specDir, name), 'utf8')));
  }
  const headingsOf = (file: string) => headings.get(file);

  it('resolve to a real heading of the named spec file', () => {
    const self = fileURLToPath(import.meta.url); // its examples below are not citations
    const files = [
      ...SCANNED_DIRS.flatMap((d) => [...walk(join(ROOT, d))]),
      ...MARKDOWN_DIRS.flatMap((d) =>
        readdirSync(join(ROOT, d))
          .filter((f) => f.endsWith('.md'))
          .map((f) => join(ROOT, d, f)),
      ),
    ];
    const broken: string[] = [];
    let count = 0;
    for (const path of files) {
      if (path === self) continue;
      const { refs, bare } = findSpecRefs(readFileSync(path, 'utf8'), headingsOf);
      const where = relative(ROOT, path);
      for (const ref of refs) {
        count++;
        if (!headings.has(ref.file)) broken.push(`${where}: spec/${ref.file} does not exist`);
        else if (!ref.heading) broken.push(`${where}: spec/${ref.file} has no heading "§${ref.text}"`);
      }
      for (const b of bare) broken.push(`${where}: "${b}" names no spec file (write spec/<file>.md §Heading)`);
    }
    expect(broken, broken.join('\n')).to.deep.equal([]);
    // The scan must see the citations that exist, or it proves nothing.
    expect(count).to.be.greaterThan(40);
  });

  describe('the reference finder', () => {
    const md = '# T\n## 5. Channels\n## Queue\n## Access\n## Users, vhosts and permissions\n### Exchanges\n## Queues\n';
    const find = (src: string) => findSpecRefs(src, (f) => (f === 'x.md' ? specHeadings(md) : undefined));

    it('accepts headings followed by punctuation, a parenthesised detail or another citation', () => {
      const { refs } = find(
        'see spec/x.md §Queue (Get). spec/x.md §Users, vhosts and permissions, and spec/x.md §Exchanges and §Queues.',
      );
      expect(refs.map((r) => r.heading)).to.deep.equal([
        'Queue',
        'Users, vhosts and permissions',
        'Exchanges',
        'Queues',
      ]);
    });

    it('matches numbered headings with or without their number, across wrapped comment lines', () => {
      const { refs } = find(
        ' * rules (spec/x.md\n * §Channels) and spec/x.md §5 Channels (Recover); `spec/x.md` §5, §8.',
      );
      expect(refs.map((r) => r.heading)).to.deep.equal(['Channels', '5 Channels', '5', undefined]);
    });

    it('refuses a heading that is only a prefix of the cited words, and unknown headings', () => {
      const { refs } = find('spec/x.md §Access control. spec/x.md §Nowhere.');
      expect(refs.map((r) => r.heading)).to.deep.equal([undefined, undefined]);
    });

    it('reports citations without a file and ignores other standards’ sections', () => {
      const { refs, bare } = find('spec §3 says so; RFC 9110 §13.1 and AMQP 0-9-1 §1.2 do not count.');
      expect(refs).to.deep.equal([]);
      expect(bare).to.have.length(1);
    });
  });
});
