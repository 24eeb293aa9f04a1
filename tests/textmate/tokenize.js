#!/usr/bin/env node
// Tokenize an NPL file with the VS Code TextMate grammar, the way VS Code
// does (vscode-textmate + the Oniguruma regex engine compiled to wasm), and
// print the tokens as JSON: [{"line": 1, "text": "def", "scopes": [...]}, ...].
//
// Usage: node tokenize.js FILE [GRAMMAR]
// GRAMMAR defaults to editors/vscode/syntaxes/npl.tmLanguage.json.
'use strict';

const fs = require('fs');
const path = require('path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const DEFAULT_GRAMMAR = path.join(
  __dirname, '..', '..', 'editors', 'vscode', 'syntaxes', 'npl.tmLanguage.json');

async function loadGrammar(grammarPath) {
  const wasm = fs.readFileSync(
    path.join(path.dirname(require.resolve('vscode-oniguruma')), 'onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (text) => new oniguruma.OnigString(text),
    }),
    loadGrammar: async (scopeName) => {
      if (scopeName !== 'source.npl') return null;
      return vsctm.parseRawGrammar(fs.readFileSync(grammarPath, 'utf8'), grammarPath);
    },
  });
  return registry.loadGrammar('source.npl');
}

function tokenize(grammar, source) {
  const tokens = [];
  let state = vsctm.INITIAL;
  source.split(/\r?\n/).forEach((lineText, index) => {
    const result = grammar.tokenizeLine(lineText, state);
    for (const token of result.tokens) {
      const text = lineText.substring(token.startIndex, token.endIndex);
      if (text.length > 0) tokens.push({ line: index + 1, text, scopes: token.scopes });
    }
    state = result.ruleStack;
  });
  return tokens;
}

async function main() {
  const [file, grammarPath = DEFAULT_GRAMMAR] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node tokenize.js FILE [GRAMMAR]\n');
    process.exit(2);
  }
  const grammar = await loadGrammar(grammarPath);
  if (!grammar) throw new Error(`no grammar for source.npl in ${grammarPath}`);
  process.stdout.write(JSON.stringify(tokenize(grammar, fs.readFileSync(file, 'utf8'))) + '\n');
}

main().catch((err) => {
  process.stderr.write(`tokenize.js: ${err.stack || err}\n`);
  process.exit(1);
});
