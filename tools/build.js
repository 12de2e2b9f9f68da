#!/usr/bin/env node
// Compiles apps/, libs/ and bench/ to dist/ with SWC (decorator metadata kept, @weft/* paths
// rewritten to relative requires). Type checking is `npm run typecheck`'s job, not the build's.
const { execFileSync } = require('node:child_process');
const { existsSync, rmSync } = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const dirs = ['apps', 'libs', 'bench'].filter((d) => existsSync(path.join(root, d)));
rmSync(path.join(root, 'dist'), { recursive: true, force: true });
execFileSync(
  process.execPath,
  [require.resolve('@swc/cli/bin/swc.js'), ...dirs, '--out-dir', 'dist', '--quiet',
   '--ignore', '**/*.spec.ts', '--ignore', '**/*.test.ts'],
  { cwd: root, stdio: 'inherit' },
);
