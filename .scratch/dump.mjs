import { Parser, Language } from 'web-tree-sitter';
import fs from 'node:fs';
await Parser.init();
const lang = await Language.load('/work/wt/infra/node_modules/tree-sitter-bicep/tree-sitter-bicep.wasm');
const p = new Parser(); p.setLanguage(lang);
const t = p.parse(fs.readFileSync(process.argv[2], 'utf8'));
function walk(n, d) { console.log('  '.repeat(d) + n.type + (n.childCount === 0 ? ' ' + JSON.stringify(n.text) : '') + (n.isMissing ? ' MISSING' : '')); for (const c of n.children) walk(c, d + 1); }
walk(t.rootNode, 0);
