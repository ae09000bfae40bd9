import { describe, expect, it } from 'vitest';
import { dynconv } from './cli.js';

const COMMANDS = ['train', 'eval', 'generate', 'report', 'devices', 'bench', 'presets', 'prepare'];
const SUBCOMMANDS = ['bench e2e'];

describe('dynconv --help', () => {
  it('lists every subcommand', async () => {
    const r = await dynconv(['--help'], process.cwd());
    expect(r.code).toBe(0);
    for (const c of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^\\s+${c}\\s`, 'm'));
  });

  it.each(COMMANDS)('%s --help describes the command and its flags', async (command) => {
    const r = await dynconv([command, '--help'], process.cwd());
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('DESCRIPTION');
    expect(r.stdout).toContain(`dynconv ${command}`);
  });

  it.each(SUBCOMMANDS)('%s --help describes the subcommand', async (command) => {
    const r = await dynconv([...command.split(' '), '--help'], process.cwd());
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`dynconv ${command}`);
  });
});
