import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

/**
 * Headless Chromium with WebGPU on the CPU: SwiftShader's Vulkan driver (it
 * ships inside Chromium) backs the WebGPU adapter, so no GPU is needed. The
 * remaining flags keep Chromium off the network, which CI does not have.
 */
export const WEBGPU_SWIFTSHADER_FLAGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--use-webgpu-adapter=swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export interface LaunchedChromium {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/** Launches `executablePath` headless with a fresh profile directory, removed on close. */
export async function launchChromium(executablePath: string): Promise<LaunchedChromium> {
  const profile = await mkdtemp(join(tmpdir(), 'dynconv-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: WEBGPU_SWIFTSHADER_FLAGS,
    viewport: { width: 1100, height: 760 },
    timeout: 60_000,
  });
  return {
    context,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
