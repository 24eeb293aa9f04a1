#!/usr/bin/env node
// Tokenize NPL files with the VS Code TextMate grammar, the way VS Code does
// (vscode-textmate + the Oniguruma regex engine compiled to wasm), and print
// the tokens as one JSON object keyed by file name:
//   {"FILE": [{"line": 1, "text": "def", "scopes": ["source.npl", ...]}, ...]}
//
// Usage: node tokenize.js [--grammar PATH] FILE...
// The grammar defaults to editors/vscode/syntaxes/npl.tmLanguage.json.
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
  const args = process.argv.slice(2);
  let grammarPath = DEFAULT_GRAMMAR;
  if (args[0] === '--grammar') {
    grammarPath = args[1];
    args.splice(0, 2);
  }
  if (args.length === 0 || !grammarPath) {
    process.stderr.write('usage: node tokenize.js [--grammar PATH] FILE...\n');
    process.exit(2);
  }
  const grammar = await loadGrammar(grammarPath);
  if (!grammar) throw new Error(`no grammar for source.npl in ${grammarPath}`);
  const result = {};
  for (const file of args) result[file] = tokenize(grammar, fs.readFileSync(file, 'utf8'));
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((err) => {
  process.stderr.write(`tokenize.js: ${err.stack || err}\n`);
  process.exit(1);
});
