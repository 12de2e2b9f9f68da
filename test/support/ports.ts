import net from 'node:net';

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A TCP port that was free a moment ago on 127.0.0.1, picked below the OS's ephemeral range
 * (32768+): a port the OS hands out for `listen(0)` can be taken again by any test's outgoing
 * connection before the service binds it (EADDRINUSE with suites running in parallel). The
 * range also leaves room for a demo's 34 ports from here.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (await bindable(port)) return port;
  }
}
