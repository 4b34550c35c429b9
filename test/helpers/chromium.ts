import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';

/** The Chromium the browser suites drive (CHROMIUM_PATH overrides). */
export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
/** In CI, or with REQUIRE_BROWSER=1, a missing Chromium fails the suite instead of skipping it. */
const REQUIRED = process.env['REQUIRE_BROWSER'] === '1' || process.env['CI'] !== undefined;

/**
 * Skips the suite, saying so loudly, when Chromium is not installed (unless it is required).
 * Call it first in the suite's `before` hook; `ctx` is the hook's `this`.
 */
export function skipWithoutChromium(ctx: Mocha.Context, what: string): void {
  if (existsSync(CHROMIUM)) return;
  if (REQUIRED)
    throw new Error(
      `Chromium not found at ${CHROMIUM} (REQUIRE_BROWSER/CI set): apt-get install -y chromium, or set CHROMIUM_PATH`,
    );
  console.warn(
    `\n    !!! SKIPPING ${what}: no Chromium at ${CHROMIUM}. Install it (apt-get install -y chromium) or set CHROMIUM_PATH. !!!\n`,
  );
  ctx.skip();
}

/** Launches headless Chromium (after `skipWithoutChromium`). */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--headless',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}
