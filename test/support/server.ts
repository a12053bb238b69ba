import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Dialect } from '../../src/core/db/database.js';
import { createTestApp, type TestApp, type TestAppOptions } from './app.js';

export interface TestServer extends TestApp {
  server: Server;
  port: number;
  baseUrl: string;
}

/**
 * The whole app listening on a real 127.0.0.1 port, so the Daraja client reaches the built-in simulator over HTTP
 * and the simulator posts callbacks back to the app, as in production. The port is bound before the config is
 * built, so PORT, PUBLIC_BASE_URL and the simulator's URL are all right. Default: SIMULATOR_MODE=auto, 50 ms.
 */
export async function startTestServer(
  dialect: Dialect,
  env: Record<string, string | undefined> = {},
  opts: TestAppOptions = {},
): Promise<TestServer> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const baseUrl = `http://127.0.0.1:${port}`;
  const t = await createTestApp(dialect, { PORT: String(port), PUBLIC_BASE_URL: baseUrl, ...env }, opts);
  server.on('request', t.app);
  return {
    ...t,
    server,
    port,
    baseUrl,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await t.close();
    },
  };
}
