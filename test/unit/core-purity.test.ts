// src/core must stay pure: no I/O modules, no side-effecting folders, no
// timers, no clock, no process. Checked on the TypeScript syntax tree, so
// comments and strings cannot cause false alarms, and every form of import
// (static, type-only, re-export, dynamic, require) is seen.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const CORE = join(SRC, 'core');

/** Node modules that do I/O or schedule work; with or without "node:", and their subpaths (fs/promises). */
const IO_MODULES = [
  'fs',
  'net',
  'child_process',
  'http',
  'https',
  'http2',
  'timers',
  'dgram',
  'dns',
  'tls',
  'os',
  'process',
  'readline',
  'worker_threads',
  'cluster',
];
/** Folders of src/ whose modules have side effects. */
const SIDE_EFFECT_DIRS = ['sources', 'haproxy', 'state', 'reconcile', 'http', 'fleet', 'commands', 'demo'];
/** Single files of src/ outside core that the core may use. */
const ALLOWED_OUTSIDE = ['errors.ts'];
/** Loggers are side effects too. */
const FORBIDDEN_PACKAGES = ['pino', 'etcd3', '@kubernetes/client-node', 'chokidar', 'prom-client'];
const FORBIDDEN_GLOBALS = ['setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'clearImmediate', 'queueMicrotask', 'process', 'fetch', 'performance', 'console', 'require'];

/** What is wrong with one import specifier seen in `file` (null when fine). */
function badSpecifier(file: string, spec: string): string | null {
  const bare = spec.replace(/^node:/, '');
  const root = bare.split('/')[0] ?? bare;
  if (IO_MODULES.includes(root) && (spec.startsWith('node:') || !spec.startsWith('.'))) return `imports ${spec}`;
  if (FORBIDDEN_PACKAGES.some((p) => spec === p || spec.startsWith(`${p}/`))) return `imports ${spec}`;
  if (spec.startsWith('.')) {
    const target = resolve(dirname(file), spec);
    const rel = relative(SRC, target).split('\\').join('/');
    if (rel.startsWith('core/')) return null;
    if (ALLOWED_OUTSIDE.includes(rel)) return null;
    const dir = rel.split('/')[0] ?? '';
    if (SIDE_EFFECT_DIRS.includes(dir)) return `imports ${spec} (src/${dir} has side effects)`;
    return `imports ${spec} (outside src/core; only ${ALLOWED_OUTSIDE.map((f) => `src/${f}`).join(', ')} allowed)`;
  }
  return null;
}

/** Every purity violation in one source text, as "line N: what". */
function violations(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: string[] = [];
  const report = (node: ts.Node, what: string): void => {
    const { line } = source.getLineAndCharacterOfPosition(node.getStart(source));
    found.push(`line ${line + 1}: ${what}`);
  };
  const checkSpec = (node: ts.Node, spec: ts.Expression | undefined): void => {
    if (spec && ts.isStringLiteralLike(spec)) {
      const bad = badSpecifier(file, spec.text);
      if (bad) report(node, bad);
    }
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) checkSpec(node, node.moduleSpecifier);
    if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) checkSpec(node, node.moduleReference.expression);
    if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) checkSpec(node, node.argument.literal as ts.Expression);
    if (ts.isCallExpression(node)) {
      if (node.expression.kind === ts.SyntaxKind.ImportKeyword) checkSpec(node, node.arguments[0]);
      if (ts.isIdentifier(node.expression) && node.expression.text === 'require') checkSpec(node, node.arguments[0]);
    }
    if (ts.isIdentifier(node) && FORBIDDEN_GLOBALS.includes(node.text)) {
      const p = node.parent;
      const isMemberName =
        (ts.isPropertyAccessExpression(p) && p.name === node) ||
        ((ts.isPropertyAssignment(p) || ts.isPropertySignature(p) || ts.isPropertyDeclaration(p) || ts.isMethodDeclaration(p) || ts.isMethodSignature(p)) && p.name === node);
      if (!isMemberName) report(node, `uses ${node.text}`);
    }
    if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'Date' && node.name.text === 'now') report(node, 'uses Date.now');
    if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'Date' && (node.arguments?.length ?? 0) === 0) report(node, 'uses new Date() (the clock)');
    if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'globalThis') report(node, `uses globalThis.${node.name.text}`);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const coreFiles = readdirSync(CORE)
  .filter((f) => f.endsWith('.ts'))
  .sort();

t.test('src/core has the expected modules', async (t) => {
  t.ok(coreFiles.length >= 8, `found ${coreFiles.join(', ')}`);
  for (const f of ['model.ts', 'validate.ts', 'spec.ts', 'desired.ts', 'slots.ts', 'escape.ts', 'render.ts', 'plan.ts']) t.ok(coreFiles.includes(f), f);
});

for (const name of coreFiles) {
  t.test(`src/core/${name} is pure`, async (t) => {
    const file = join(CORE, name);
    t.strictSame(violations(file, readFileSync(file, 'utf8')), []);
  });
}

// The checker itself must catch what it is for; these sources are never written to disk.
t.test('the checker catches forbidden imports and globals', async (t) => {
  const file = join(CORE, 'probe.ts');
  const cases: Array<[string, RegExp]> = [
    ["import { readFileSync } from 'node:fs';", /imports node:fs/],
    ["import { readFile } from 'node:fs/promises';", /imports node:fs\/promises/],
    ["import fs from 'fs';", /imports fs/],
    ["import * as net from 'node:net';", /imports node:net/],
    ["import net from 'net';", /imports net/],
    ["import { spawn } from 'node:child_process';", /imports node:child_process/],
    ["import { spawn } from 'child_process';", /imports child_process/],
    ["import http from 'node:http';", /imports node:http/],
    ["import { setTimeout } from 'node:timers/promises';", /imports node:timers\/promises/],
    ["import { setTimeout as wait } from 'node:timers';", /imports node:timers/],
    ["import type { Source } from '../sources/source.ts';", /src\/sources has side effects/],
    ["import { apply } from '../haproxy/apply.ts';", /src\/haproxy has side effects/],
    ["export { Trigger } from '../reconcile/trigger.ts';", /src\/reconcile has side effects/],
    ["import { serve } from '../http/server.ts';", /src\/http has side effects/],
    ["import { flip } from '../fleet/flip.ts';", /src\/fleet has side effects/],
    ["import { run } from '../commands/run.ts';", /src\/commands has side effects/],
    ["import { loadConfig } from '../config.ts';", /outside src\/core/],
    ["import pino from 'pino';", /imports pino/],
    ["const m = await import('node:fs');", /imports node:fs/],
    ["const m = require('child_process');", /imports child_process/],
    ['setTimeout(() => {}, 10);', /uses setTimeout/],
    ['const i = setInterval(() => {}, 10);', /uses setInterval/],
    ['const now = Date.now();', /uses Date\.now/],
    ['const when = new Date();', /uses new Date\(\)/],
    ['const env = process.env.X;', /uses process/],
    ['console.log("x");', /uses console/],
    ['globalThis.setTimeout(() => {}, 1);', /uses globalThis\.setTimeout/],
  ];
  for (const [code, expected] of cases) {
    const found = violations(file, code);
    t.equal(found.length >= 1, true, `flags: ${code}`);
    t.match(found.join('; '), expected, code);
  }
});

t.test('the checker does not flag pure code, comments or strings', async (t) => {
  const file = join(CORE, 'probe.ts');
  const clean = [
    "import type { Backend } from './model.ts';",
    "import { SyncError } from '../errors.ts';",
    "import { Eta } from 'eta/core';",
    '// setTimeout, process and node:fs in a comment',
    "const s = 'uses setTimeout and Date.now() and process';",
    'const o = { process: 1, setTimeout: 2 };',
    'const v = o.process + o.setTimeout;',
    'const d = new Date(0);',
    'interface I { process: string }',
  ].join('\n');
  t.strictSame(violations(file, clean), []);
});
