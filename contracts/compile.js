// Compiles the contracts in this directory with the solc-js that build.sh
// installed and writes build/<Name>.bin (hex creation bytecode) and
// build/<Name>.abi (JSON ABI). Run it through build.sh, not directly.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require('./node_modules/solc');

const want = process.env.SOLC_VERSION;
if (!want || !solc.version().startsWith(want + '+')) {
  console.error(`compile.js: loaded solc ${solc.version()}, build.sh pins ${want}`);
  process.exit(1);
}

const contracts = ['TetherToken', 'USDCToken', 'Forwarder'];
const sources = {};
for (const name of contracts) {
  // Source names (not paths) go into the metadata: keep them relative and fixed.
  sources[`${name}.sol`] = { content: fs.readFileSync(path.join(__dirname, `${name}.sol`), 'utf8') };
}

const input = {
  language: 'Solidity',
  sources,
  settings: {
    evmVersion: 'shanghai',
    optimizer: { enabled: true, runs: 200 },
    // No source hash in the bytecode: editing a comment does not change it.
    metadata: { bytecodeHash: 'none' },
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.methodIdentifiers'] } },
  },
};

const out = JSON.parse(solc.compile(JSON.stringify(input)));
let failed = false;
for (const e of out.errors || []) {
  console.error(e.formattedMessage || e.message);
  if (e.severity === 'error') failed = true;
}
if (failed) process.exit(1);

const dir = path.join(__dirname, 'build');
fs.mkdirSync(dir, { recursive: true });
for (const name of contracts) {
  const c = out.contracts[`${name}.sol`][name];
  const bin = c.evm.bytecode.object;
  if (!/^[0-9a-f]+$/.test(bin)) {
    console.error(`compile.js: ${name}: no bytecode (abstract contract or unlinked library?)`);
    process.exit(1);
  }
  fs.writeFileSync(path.join(dir, `${name}.bin`), bin + '\n');
  fs.writeFileSync(path.join(dir, `${name}.abi`), JSON.stringify(c.abi, null, 2) + '\n');
  console.log(`${name}: ${bin.length / 2} bytes of creation code`);
  for (const [sig, sel] of Object.entries(c.evm.methodIdentifiers)) console.log(`  0x${sel}  ${sig}`);
}
console.log(`solc ${solc.version()}, evm ${input.settings.evmVersion}, optimizer runs ${input.settings.optimizer.runs}`);
