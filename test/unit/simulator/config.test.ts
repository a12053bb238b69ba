import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config.js';

// The simulator's settings in the app's configuration (src/config.ts), and the one use of NODE_ENV.
const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
};

describe('the simulator in a production deployment', () => {
  it('when NODE_ENV=production and DARAJA_ENV is simulator (the Docker image\'s defaults), then the app refuses to start and says how to mean it', () => {
    expect(problemsOf({ NODE_ENV: 'production' })).toStrictEqual([
      'DARAJA_ENV=simulator with NODE_ENV=production: the simulator takes no real money and anyone who reaches it can pay any prompt. Set DARAJA_ENV=sandbox or production, or SIMULATOR_PUBLIC=on if a public demo is meant.',
    ]);
  });

  it('when NODE_ENV=production, DARAJA_ENV is simulator and SIMULATOR_PUBLIC=on, then it starts', () => {
    expect(problemsOf({ NODE_ENV: 'production', SIMULATOR_PUBLIC: 'on' })).toStrictEqual([]);
  });

  it('when NODE_ENV is anything else, then the simulator needs no say-so', () => {
    expect(problemsOf({ NODE_ENV: 'development' })).toStrictEqual([]);
    expect(problemsOf({})).toStrictEqual([]);
  });

  it('when SIMULATOR_PUBLIC is neither on nor off, then the variable is named with its fix', () => {
    expect(problemsOf({ SIMULATOR_PUBLIC: 'yes' })).toStrictEqual(['SIMULATOR_PUBLIC="yes" is not valid: use on or off.']);
  });
});

describe('the built-in simulator\'s settings', () => {
  it('when nothing is set, then prompts time out after 60 s, it is lenient, and posts callbacks to PUBLIC_BASE_URL only', () => {
    const c = loadConfig({ PUBLIC_BASE_URL: 'https://tikiti.example.com/' });
    expect(c.simulator).toMatchObject({ promptSeconds: 60, strict: false, callbackOrigins: ['https://tikiti.example.com'] });
  });

  it('when SIMULATOR_STRICT=on, SIMULATOR_PROMPT_SECONDS and SIMULATOR_CALLBACK_ORIGINS are set, then they are taken as origins', () => {
    const c = loadConfig({
      SIMULATOR_STRICT: 'on', SIMULATOR_PROMPT_SECONDS: '15', SIMULATOR_CALLBACK_ORIGINS: 'http://localhost:3000/x, https://demo.example.com',
    });
    expect(c.simulator).toMatchObject({ strict: true, promptSeconds: 15, callbackOrigins: ['http://localhost:3000', 'https://demo.example.com'] });
  });

  it('when SIMULATOR_CALLBACK_ORIGINS holds something that is not an http(s) URL, then it is named', () => {
    expect(problemsOf({ SIMULATOR_CALLBACK_ORIGINS: 'localhost:3000' })).toStrictEqual([
      'SIMULATOR_CALLBACK_ORIGINS has "localhost:3000", not http(s) URLs: list origins like http://localhost:3000, separated by commas.',
    ]);
  });

  it('when SIMULATOR_PROMPT_SECONDS is 0, then it is refused', () => {
    expect(problemsOf({ SIMULATOR_PROMPT_SECONDS: '0' })[0]).toMatch(/^SIMULATOR_PROMPT_SECONDS="0" is not valid/);
  });

  it('when the database is SQLite, then the simulator keeps its state beside the database file, one file per port', () => {
    expect(loadConfig({ DATABASE_URL: 'sqlite:/srv/tikiti/app.db', PORT: '3001' }).simulator.statePath).toBe('/srv/tikiti/simulator-state-3001.jsonl');
  });
});
