import { expect } from 'vitest';
import { ConfigError, loadConfig, type Config } from '../../src/config.js';

/** A config as the app would load it from these variables (and nothing from the real environment). */
export function testConfig(env: Record<string, string | undefined> = {}): Readonly<Config> {
  return loadConfig({
    LOG_LEVEL: 'silent',
    SIMULATOR_MODE: 'auto',
    SIMULATOR_DELAY_MS: '50',
    CSRF_SECRET: 'test-csrf-secret-0123456789abcdef',
    ...env,
  });
}

/** The problems loadConfig lists for these variables; fails the test when it accepts them. */
export function configProblems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected the config to be refused');
}
