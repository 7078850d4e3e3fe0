// Test-only: lets a test start a child Node process on the TypeScript sources, so the child runs exactly the code
// under test (never a stale build). No TypeScript runner (ts-node, tsx) is a dependency of this repository, and
// TypeScript's own transpileModule is all a test child needs. Use: node -r ./ts-register.cjs some-entry.ts
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');
const ts = require('typescript');

const root = path.resolve(__dirname, '../../..');
// The same mapping as jest.config.js: workspace libraries from their sources.
const LIB = /^@ct\/(job-domain|contracts|config|logging|persistence|queue|packaging|storage|testing)$/;
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function resolveLib(request, ...rest) {
  const lib = LIB.exec(request);
  return resolveFilename.call(this, lib ? path.join(root, 'libs', lib[1], 'src') : request, ...rest);
};

const compilerOptions = { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, experimentalDecorators: true };
require.extensions['.ts'] = (module, filename) => {
  const { outputText } = ts.transpileModule(fs.readFileSync(filename, 'utf8'), { fileName: filename, compilerOptions });
  module._compile(outputText, filename);
};
