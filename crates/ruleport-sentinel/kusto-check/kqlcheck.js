#!/usr/bin/env node
// Validate Kusto queries with Microsoft's Kusto.Language parser and binder (npm
// @kusto/language-service-next), offline.
//
// Usage: node kqlcheck.js SCHEMA.json [SCHEMA2.json ...] < queries.jsonl
//   SCHEMA.json: {"Table": {"Column": "kusto type", ...}, ...}; several files are merged.
//   stdin: one JSON object per line, {"id": "...", "query": "..."}.
//   stdout: one JSON object per input line,
//     {"id", "ok", "diagnostics": [{code, severity, category, message, start, length}]}.
// `ok` is false when any diagnostic has severity "Error". Exit status 0 unless the script
// itself failed (bad arguments, unreadable schema).
'use strict';

const fs = require('fs');
const path = require('path');
const readline = require('readline');

const pkg = path.join(__dirname, 'node_modules', '@kusto', 'language-service-next');
require(path.join(pkg, 'bridge.js'));
require(path.join(pkg, 'Kusto.Language.Bridge.js'));
const K = global.Kusto.Language;
const S = K.Symbols;

// Columns every Log Analytics table has, which the doc-derived schemas sometimes omit.
const STANDARD_COLUMNS = {
  TenantId: 'string',
  TimeGenerated: 'datetime',
  Type: 'string',
  SourceSystem: 'string',
  _ResourceId: 'string',
  _SubscriptionId: 'string',
  _BilledSize: 'real',
  _IsBillable: 'string',
  _ItemId: 'string',
};

const KNOWN_TYPES = new Set([
  'string', 'long', 'int', 'real', 'double', 'decimal', 'bool', 'boolean', 'datetime', 'date',
  'timespan', 'time', 'dynamic', 'guid', 'uniqueid',
]);

function quoteName(name) {
  return "['" + name.replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "']";
}

function buildGlobals(schemaFiles) {
  const tables = {};
  for (const f of schemaFiles) {
    const data = JSON.parse(fs.readFileSync(f, 'utf8'));
    for (const [table, cols] of Object.entries(data)) {
      tables[table] = Object.assign(tables[table] || {}, cols);
    }
  }
  const symbols = [];
  for (const [table, cols] of Object.entries(tables)) {
    const merged = Object.assign({}, STANDARD_COLUMNS, cols);
    const parts = [];
    for (const [col, type] of Object.entries(merged)) {
      const t = String(type).toLowerCase();
      parts.push(quoteName(col) + ':' + (KNOWN_TYPES.has(t) ? t : 'string'));
    }
    symbols.push(new S.TableSymbol.$ctor7(table, '(' + parts.join(', ') + ')', null));
  }
  const db = new S.DatabaseSymbol.ctor('db', symbols);
  return K.GlobalState.Default.WithDatabase(db);
}

function listOf(netList) {
  const out = [];
  if (!netList) return out;
  const n = netList.Count;
  for (let i = 0; i < n; i++) out.push(netList.getItem(i));
  return out;
}

function check(globals, query) {
  const code = K.KustoCode.ParseAndAnalyze(query, globals);
  const diags = listOf(code.GetDiagnostics()).map((d) => ({
    code: d.Code,
    severity: d.Severity,
    category: d.Category,
    message: d.Message,
    start: d.Start,
    length: d.Length,
  }));
  return { ok: !diags.some((d) => d.severity === 'Error'), diagnostics: diags };
}

function main() {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    process.stderr.write('usage: kqlcheck.js SCHEMA.json [...] < queries.jsonl\n');
    process.exit(2);
  }
  const globals = buildGlobals(files);
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  rl.on('line', (line) => {
    if (!line.trim()) return;
    let item;
    try {
      item = JSON.parse(line);
    } catch (e) {
      process.stdout.write(JSON.stringify({ id: null, ok: false, diagnostics: [
        { code: 'INPUT', severity: 'Error', category: 'Input', message: 'bad JSON line: ' + e.message, start: 0, length: 0 },
      ] }) + '\n');
      return;
    }
    let result;
    try {
      result = check(globals, String(item.query));
    } catch (e) {
      result = { ok: false, diagnostics: [
        { code: 'CRASH', severity: 'Error', category: 'Internal', message: String(e && e.message || e), start: 0, length: 0 },
      ] };
    }
    process.stdout.write(JSON.stringify(Object.assign({ id: item.id }, result)) + '\n');
  });
}

main();
