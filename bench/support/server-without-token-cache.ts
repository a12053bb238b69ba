// The app as `npm start` runs it, but with the Daraja token fetched before every call, as the user's guide advises:
// the booking benchmark's baseline for what caching the token saves. Never a way to run Tikiti for real.
import { runCli } from '../../src/cli/run-cli.js';
import { serve } from '../../src/server.js';

runCli('Tikiti failed to start', (ctx) => serve(ctx, { cacheTokens: false }));
