// Free loopback ports for tests that must know a port before a process starts. Where the process
// can report its own port (tandemd's ready line), prefer listening on port 0 instead: nothing can
// take the port between choosing it and binding it.
import net from 'node:net';

/** Binds 127.0.0.1:0, reads the port the kernel chose, releases it and returns it. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ host, port: 0, exclusive: true }, () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr && typeof addr === 'object') resolve(addr.port);
        else reject(new Error('freePort: the listener has no address'));
      });
    });
  });
}

/** `count` distinct free ports. */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort(host));
  return [...ports];
}
