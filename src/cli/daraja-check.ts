// `npm run daraja:check [--push 2547XXXXXXXX]`: the configured Daraja credentials, tried for real. Exit 1 when wrong.
import { ConfigError, loadConfigFromEnvironment } from '../core/config.js';
import { runDarajaCheck } from './check.js';

function parseArgs(argv: string[]): { push?: string; help: boolean } {
  const args: { push?: string; help: boolean } = { help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--help' || a === '-h') args.help = true;
    else if (a === '--push') args.push = argv[++i] ?? '';
    else if (a.startsWith('--push=')) args.push = a.slice('--push='.length);
    else throw new Error(`Unknown argument ${JSON.stringify(a)}. Usage: npm run daraja:check [-- --push 2547XXXXXXXX]`);
  }
  return args;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    console.log('Usage: npm run daraja:check [-- --push 2547XXXXXXXX]\nGets a Daraja access token with the configured credentials and, with --push, sends a KES 1 STK push.');
    return 0;
  }
  let config;
  try {
    config = await loadConfigFromEnvironment();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.log('Daraja check: the configuration is not valid.');
      for (const p of err.problems) console.log(`  WRONG  ${p}`);
      return 1;
    }
    throw err;
  }
  const ok = await runDarajaCheck(config.daraja, {
    darajaEnv: config.darajaEnv,
    ...(args.push !== undefined ? { push: args.push } : {}),
    out: (line) => console.log(line),
  });
  return ok ? 0 : 1;
}

main().then(
  (code) => { process.exitCode = code; },
  (err: unknown) => { console.error(err instanceof Error ? err.message : String(err)); process.exitCode = 1; },
);
