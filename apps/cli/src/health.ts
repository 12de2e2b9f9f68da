import http from 'node:http';

/** GETs http://host:port/health; resolves true on a 200 within the timeout. */
export function checkHealth(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: '/health', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/** GETs a JSON document (any status code); undefined if the service does not answer in time. */
export function getJson(host: string, port: number, path: string, timeoutMs = 2000): Promise<unknown> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as unknown);
        } catch {
          resolve(undefined);
        }
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

/** Polls /health until it answers or the deadline passes. */
export async function waitHealthy(host: string, port: number, deadlineMs: number): Promise<boolean> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (await checkHealth(host, port)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}
