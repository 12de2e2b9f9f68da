#!/usr/bin/env node
// The `weft` command. Runs the compiled CLI; `npm ci` builds it (the prepare script).
const path = require('node:path');
const entry = path.join(__dirname, '..', 'dist', 'apps', 'cli', 'src', 'main.js');
try {
  require.resolve(entry);
} catch {
  process.stderr.write('weft: not built yet; run `npm run build` in the Weft checkout first\n');
  process.exit(1);
}
require(entry);
