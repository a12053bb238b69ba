import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a server (MariaDB in the outage tests): `close()` is the database going away (the listener
 * stops and every open connection is cut, as when the server dies), `open()` brings it back on the same port.
 */
export interface TcpProxy {
  port: number;
  /** host:port to put in a URL in place of the real server's. */
  address: string;
  isOpen(): boolean;
  open(): Promise<void>;
  close(): Promise<void>;
}

export async function tcpProxy(target: { host: string; port: number }, opts: { port?: number; open?: boolean } = {}): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = opts.port ?? 0;

  const open = async () => {
    if (server) return;
    const s = createServer((client) => {
      const upstream = connect(target.port, target.host);
      for (const sock of [client, upstream]) {
        sockets.add(sock);
        sock.on('close', () => sockets.delete(sock));
        sock.on('error', () => undefined);
      }
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    port = (s.address() as { port: number }).port;
    server = s;
  };

  const close = async () => {
    const s = server;
    server = undefined;
    for (const sock of sockets) sock.destroy();
    sockets.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };

  await open();
  if (opts.open === false) await close();
  return {
    get port() { return port; },
    get address() { return `127.0.0.1:${port}`; },
    isOpen: () => server !== undefined,
    open,
    close,
  };
}
