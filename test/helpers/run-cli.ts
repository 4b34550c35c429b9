import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../broker/dist/cli/main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real `switchyard` binary (node broker/dist/cli/main.js). Inherited SWITCHYARD_*
 * variables are dropped so only `env` sets them; `input` is written to stdin.
 */
export function runCli(
  args: string[],
  options: { env?: Record<string, string>; input?: string | Buffer; ms?: number } = {},
): Promise<CliResult> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('SWITCHYARD_')) delete env[k];
  Object.assign(env, options.env);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`switchyard ${args.join(' ')} did not exit:\n${stdout}\n${stderr}`));
    }, options.ms ?? 15_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** The column start of each header word in an aligned table's first line. */
export function columnStarts(header: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of header.matchAll(/\S+(?: \S+)*/g)) out.set(m[0], m.index);
  return out;
}
