import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A reverse proxy as ngrok or a load balancer is one: it takes requests on `listen` and forwards them to `target`,
 * appending the address it saw the request come from to X-Forwarded-For (after whatever the client wrote there).
 */
export async function forwardingProxy(target: { host: string; port: number }, listen: { host: string }): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const seen = (req.socket.remoteAddress ?? '').replace(/^::ffff:(?=\d+\.)/, '');
    const prior = req.headers['x-forwarded-for'];
    const headers = { ...req.headers, 'x-forwarded-for': prior ? `${String(prior)}, ${seen}` : seen, connection: 'close' };
    const upstream = request({ host: target.host, port: target.port, method: req.method, path: req.url, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => {
      res.statusCode = 502;
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, listen.host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
