/**
 * Kill -9 in the middle of a stream of appends, then recover: every append the child saw
 * acknowledged must be present and intact. Runs a real child process against the real file
 * system; several rounds reuse the same directory so recovery of a recovered log is covered.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { payload, tmpDir } from './test-util';
import { Wal } from './wal';

const CHILD = path.join(__dirname, '..', 'test-fixtures', 'crash-child.js');
const GROUPS = 8;

interface Ack {
  group: number;
  index: number;
  term: number;
}

function runAndKill(dir: string, term: number, killAfterAcks: number): Promise<Ack[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir, String(GROUPS), '32', String(term)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acks: Ack[] = [];
    let buf = '';
    let stderr = '';
    let killed = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buf += chunk;
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const line of lines) {
        if (line === 'ready' || line === '') continue;
        const [group, index, t] = line.split(' ').map(Number);
        acks.push({ group, index, term: t });
      }
      if (!killed && acks.length >= killAfterAcks) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(acks);
      else reject(new Error(`child exited with ${code}: ${stderr}`));
    });
  });
}

describe('WAL crash safety (kill -9)', () => {
  let dir: string;
  beforeAll(() => {
    dir = tmpDir('weft-wal-crash-');
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every acknowledged append across repeated SIGKILLs', async () => {
    const everAcked = new Map<string, number>(); // "g:i" -> term
    for (let round = 1; round <= 4; round++) {
      const acks = await runAndKill(dir, round, 1500 + round * 700);
      expect(acks.length).toBeGreaterThan(0);
      for (const a of acks) everAcked.set(`${a.group}:${a.index}`, a.term);

      const wal = await Wal.open(dir, { segmentBytes: 256 * 1024 });
      // Collect problems and assert once: tens of thousands of expect() calls are slow.
      const problems: string[] = [];
      for (const [key, term] of everAcked) {
        const [g, i] = key.split(':').map(Number);
        const s = wal.storage(g);
        if (s.lastIndex() < i) {
          problems.push(`${key}: lost (last index ${s.lastIndex()})`);
          continue;
        }
        const [e] = s.entries(i, i + 1, Infinity);
        // The child only appends past the recovered last index, so nothing acknowledged is
        // ever legitimately overwritten: the term must be the one acknowledged.
        if (e.term !== term) problems.push(`${key}: term ${e.term}, acknowledged ${term}`);
        if (!Buffer.from(e.data).equals(Buffer.from(payload(g, i, term, 16 + ((i * 7) % 200))))) {
          problems.push(`${key}: payload differs`);
        }
        if (s.initialState().hardState.commit < i) problems.push(`${key}: hard state behind`);
      }
      expect(problems).toEqual([]);
      // Logs are contiguous from 1.
      for (let g = 0; g < GROUPS; g++) {
        const s = wal.storage(g);
        expect(s.firstIndex()).toBe(1);
        expect(s.entries(1, s.lastIndex() + 1, Infinity)).toHaveLength(s.lastIndex());
      }
      await wal.close();
    }
  }, 60_000);
});
