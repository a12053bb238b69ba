// `npm run daraja:check [-- --push 2547XXXXXXXX]`: the configured Daraja credentials, tried for real. Exit 1 when wrong.
// It uses the app's own client on the token the running instances share: a token of its own would replace theirs.
import { buildServices } from '../compose.js';
import { runDarajaCheck } from '../daraja/check.js';
import { runCli } from './run-cli.js';

const USAGE = 'Usage: npm run daraja:check [-- --push 2547XXXXXXXX]';

function parseArgs(argv: string[]): { push?: string; help: boolean } {
  const args: { push?: string; help: boolean } = { help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--help' || a === '-h') args.help = true;
    else if (a === '--push') args.push = argv[++i] ?? '';
    else if (a.startsWith('--push=')) args.push = a.slice('--push='.length);
    else throw new Error(`Unknown argument ${JSON.stringify(a)}. ${USAGE}`);
  }
  return args;
}

runCli('Daraja check failed', async ({ config, logger, args: argv }) => {
  const args = parseArgs(argv);
  if (args.help) {
    console.log(`${USAGE}\nGets a Daraja access token with the configured credentials and, with --push, sends a KES 1 STK push.`);
    return 0;
  }
  const services = await buildServices(config, logger, { seed: false });
  try {
    const ok = await runDarajaCheck(config.daraja, {
      darajaEnv: config.darajaEnv,
      client: services.daraja,
      ...(args.push !== undefined ? { push: args.push } : {}),
      out: (line) => console.log(line),
    });
    return ok ? 0 : 1;
  } finally {
    await services.stop();
  }
}, { logLevel: (level) => (level === 'info' ? 'warn' : level) });
