import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import nock from 'nock';
import { describe, expect, it } from 'vitest';

// test/support/setup.ts locks the network for every test file; these prove it does, here as in any other file.

/** What http.get of `url` ends with: nock's refusal, another error, or an answer. */
function outcomeOf(url: string): Promise<NodeJS.ErrnoException> {
  return new Promise((resolve) => {
    get(url, (res) => {
      res.resume();
      resolve(Object.assign(new Error('answered'), { code: 'ANSWERED' }));
    }).on('error', resolve);
  });
}

describe('the network lock every test file runs under', () => {
  it('when a test asks a host on the internet, then the request fails at once and never leaves the machine', async () => {
    await expect(fetch('http://example.com/')).rejects.toThrow();
    expect(await outcomeOf('http://example.com/')).toMatchObject({ name: 'NetConnectNotAllowedError', code: 'ENETUNREACH' });
  });

  it('when a test asks a server on 127.0.0.1 or localhost, then it is answered', async () => {
    const server = createServer((_req, res) => res.end('local'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as AddressInfo;
      expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('local');
      expect(await (await fetch(`http://localhost:${port}/`)).text()).toBe('local');
    } finally {
      server.close();
    }
  });

  it('when a test opens the network and leaves an interceptor behind, then neither outlives it (1 of 2)', () => {
    nock.enableNetConnect();
    nock('http://leftover.example').get('/').reply(200, 'stale');
    expect(nock.pendingMocks()).toHaveLength(1);
  });

  it('when a test opens the network and leaves an interceptor behind, then neither outlives it (2 of 2)', async () => {
    expect(nock.pendingMocks()).toEqual([]);
    expect(await outcomeOf('http://leftover.example/')).toMatchObject({ name: 'NetConnectNotAllowedError' });
  });
});
