/**
 * Shared by the examples: runs an example's `main(url)` when its file is executed directly
 * (`npx tsx client-sdk/examples/work-queue.ts [ws://host:port]`), and not when a test
 * imports it.
 */
import { argv, exit } from 'node:process';
import { pathToFileURL } from 'node:url';

/** The broker URL examples use by default: `npm start`'s broker. */
export const DEFAULT_URL = 'ws://127.0.0.1:5680';

/** Calls `main` with the URL from the command line if `moduleUrl` is the script being run. */
export function runIfMain(moduleUrl: string, main: (url: string) => Promise<unknown>): void {
  const script = argv[1];
  if (script === undefined || pathToFileURL(script).href !== moduleUrl) return;
  main(argv[2] ?? DEFAULT_URL).then(
    (result) => {
      console.log(JSON.stringify(result, null, 2));
      exit(0);
    },
    (err: unknown) => {
      console.error(err);
      exit(1);
    },
  );
}
