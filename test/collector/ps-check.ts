// Static checks of the PowerShell collector that run where PowerShell cannot (Linux CI, `npm test`):
// a real PowerShell grammar (tree-sitter-powershell) for syntax, plus checks that the scripts stay
// runnable on Windows PowerShell 5.1 (no PowerShell 7-only syntax, cmdlets, parameters or
// variables), carry comment-based help, use approved verbs, and are ASCII (5.1 reads a BOM-less
// script in the ANSI code page).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { Language, Parser, type Node } from 'web-tree-sitter';

export interface Finding {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

let parserPromise: Promise<Parser> | undefined;

export function powershellParser(): Promise<Parser> {
  parserPromise ??= (async () => {
    await Parser.init();
    const require = createRequire(__filename);
    const wasm = join(require.resolve('tree-sitter-powershell/package.json'), '..', 'tree-sitter-powershell.wasm');
    const parser = new Parser();
    parser.setLanguage(await Language.load(wasm));
    return parser;
  })();
  return parserPromise;
}

/** PowerShell 7-only parameters of cmdlets that exist in Windows PowerShell 5.1 (lower case). */
export const PS7_ONLY_PARAMETERS: Readonly<Record<string, readonly string[]>> = {
  'invoke-restmethod': [
    'skipcertificatecheck', 'statuscodevariable', 'maximumretrycount', 'retryintervalsec', 'sslprotocol', 'authentication', 'token',
    'allowunencryptedauthentication', 'skipheadervalidation', 'skiphttperrorcheck', 'responseheadersvariable', 'resume', 'form',
    'httpversion', 'noproxy', 'preserveauthorizationonredirect', 'custommethod', 'preservehttpmethodonredirect',
    'connectiontimeoutseconds', 'operationtimeoutseconds', 'allowinsecureredirect', 'unixsocket',
  ],
  'invoke-webrequest': [
    'skipcertificatecheck', 'maximumretrycount', 'retryintervalsec', 'sslprotocol', 'authentication', 'token',
    'allowunencryptedauthentication', 'skipheadervalidation', 'skiphttperrorcheck', 'resume', 'form', 'httpversion', 'noproxy',
    'preserveauthorizationonredirect', 'custommethod', 'preservehttpmethodonredirect', 'connectiontimeoutseconds',
    'operationtimeoutseconds', 'allowinsecureredirect', 'unixsocket',
  ],
  'convertfrom-json': ['ashashtable', 'depth', 'noenumerate', 'datekind'],
  'convertto-json': ['asarray', 'enumsasstrings', 'escapehandling'],
  'foreach-object': ['parallel', 'throttlelimit', 'timeoutseconds', 'asjob', 'usenewrunspace'],
  'get-content': ['asbytestream'],
  'set-content': ['asbytestream'],
  'add-content': ['asbytestream'],
  'select-object': ['skipindex'],
  'get-date': ['asutc', 'unixtimeseconds'],
  'test-connection': ['targetname', 'ping', 'tcpport', 'traceroute', 'mtusize', 'repeat', 'timeoutseconds', 'ipv4', 'ipv6', 'resolvedestination'],
  'select-string': ['raw', 'noemphasis'],
  'split-path': ['extension', 'leafbase'],
  'get-random': ['shuffle'],
  'sort-object': ['top', 'bottom', 'stable'],
  'get-childitem': ['followsymlink'],
  'start-process': ['environment'],
  'wait-process': ['any', 'passthru'],
};

/** Windows PowerShell 5.1 parameters of the cmdlets above whose names share a prefix with a PowerShell 7-only one. */
const PS51_PARAMETERS: Readonly<Record<string, readonly string[]>> = {
  'select-object': ['property', 'excludeproperty', 'expandproperty', 'unique', 'last', 'first', 'skip', 'skiplast', 'wait', 'index', 'inputobject'],
  'split-path': ['path', 'literalpath', 'parent', 'leaf', 'qualifier', 'noqualifier', 'resolve', 'isabsolute', 'credential'],
  'test-connection': ['computername', 'source', 'count', 'delay', 'quiet', 'buffersize', 'throttlelimit', 'timetolive', 'impersonation', 'authentication', 'credential', 'asjob', 'dcomauthentication', 'wsmanauthentication', 'protocol'],
  'get-childitem': ['path', 'literalpath', 'filter', 'include', 'exclude', 'recurse', 'depth', 'force', 'name', 'attributes', 'directory', 'file', 'hidden', 'readonly', 'system'],
};

const CMDLET_ALIASES: Readonly<Record<string, string>> = {
  irm: 'invoke-restmethod',
  iwr: 'invoke-webrequest',
  curl: 'invoke-webrequest',
  wget: 'invoke-webrequest',
  '%': 'foreach-object',
  foreach: 'foreach-object',
  gc: 'get-content',
  cat: 'get-content',
  type: 'get-content',
  sc: 'set-content',
  ac: 'add-content',
  select: 'select-object',
  sls: 'select-string',
  sort: 'sort-object',
  gci: 'get-childitem',
  ls: 'get-childitem',
  dir: 'get-childitem',
  saps: 'start-process',
  start: 'start-process',
};

/** Cmdlets that Windows PowerShell 5.1 does not have. */
export const PS7_ONLY_CMDLETS: readonly string[] = [
  'get-error', 'join-string', 'test-json', 'convertfrom-markdown', 'show-markdown', 'get-markdownoption', 'set-markdownoption',
  'get-uptime', 'remove-service', 'get-pssubsystem', 'enable-experimentalfeature', 'disable-experimentalfeature',
  'get-experimentalfeature', 'convertto-clixml', 'convertfrom-clixml', 'start-threadjob',
];

/** Automatic variables that exist only in PowerShell 6+ (under StrictMode 5.1 throws on them). */
export const PS7_ONLY_VARIABLES: readonly string[] = ['$psstyle', '$iswindows', '$islinux', '$ismacos', '$iscoreclr', '$psnativecommandargumentpassing', '$psnativecommanduseerroractionpreference'];

/** Operators that only PowerShell 7 tokenises; the grammar gives error nodes for most, this catches the rest. */
const PS7_OPERATOR_TOKENS = new Set(['??', '??=', '?.', '?[', '&&', '||']);

/** Encodings PowerShell 7 accepts for -Encoding that 5.1 does not. */
const PS7_ONLY_ENCODINGS = new Set(['utf8nobom', 'utf8bom', 'ansi']);

/** Get-Verb of Windows PowerShell 5.1. */
export const APPROVED_VERBS: ReadonlySet<string> = new Set(
  (
    'Add Approve Assert Backup Block Checkpoint Clear Close Compare Complete Compress Confirm Connect Convert ConvertFrom ConvertTo Copy ' +
    'Debug Deny Disable Disconnect Dismount Edit Enable Enter Exit Expand Export Find Format Get Grant Group Hide Import Initialize Install ' +
    'Invoke Join Limit Lock Measure Merge Mount Move New Open Optimize Out Ping Pop Protect Publish Push Read Receive Redo Register Remove ' +
    'Rename Repair Request Reset Resize Resolve Restart Restore Resume Revoke Save Search Select Send Set Show Skip Split Start Step Stop ' +
    'Submit Suspend Switch Sync Test Trace Unblock Undo Uninstall Unlock Unprotect Unpublish Unregister Update Use Wait Watch Write'
  )
    .toLowerCase()
    .split(' '),
);

function walk(node: Node, visit: (n: Node) => void): void {
  visit(node);
  for (const child of node.children) walk(child, visit);
}

function line(n: Node): number {
  return n.startPosition.row + 1;
}

/** Syntax errors: every ERROR and MISSING node the grammar produced. */
export function syntaxFindings(file: string, tree: Node): Finding[] {
  const out: Finding[] = [];
  walk(tree, (n) => {
    if (n.isError) out.push({ file, line: line(n), message: `syntax error near ${JSON.stringify(n.text.slice(0, 40))}` });
    else if (n.isMissing) out.push({ file, line: line(n), message: `syntax error: missing ${JSON.stringify(n.type)}` });
  });
  return out;
}

function commandName(cmd: Node): string | undefined {
  const name = cmd.children.find((c) => c.type === 'command_name');
  return name?.text.toLowerCase();
}

function commandParameters(cmd: Node): Node[] {
  const out: Node[] = [];
  const elements = cmd.children.find((c) => c.type === 'command_elements');
  for (const c of elements?.children ?? []) if (c.type === 'command_parameter') out.push(c);
  return out;
}

/** PowerShell 7-only constructs: operators, pipeline chains, clean blocks, cmdlets, parameters, variables, encodings. */
export function ps7Findings(file: string, tree: Node): Finding[] {
  const out: Finding[] = [];
  walk(tree, (n) => {
    if (n.type === 'pipeline_chain_tail') out.push({ file, line: line(n), message: `pipeline chain operator ${JSON.stringify(n.children[0]?.text ?? '')} is PowerShell 7 only` });
    if (n.childCount === 0 && PS7_OPERATOR_TOKENS.has(n.text) && n.type !== 'comment') out.push({ file, line: line(n), message: `operator ${n.text} is PowerShell 7 only` });
    if ((n.type === 'expandable_string_literal' || n.type === 'expandable_here_string_literal') && /`u\{/.test(n.text)) {
      out.push({ file, line: line(n), message: 'the `u{...} escape is PowerShell 6+ only (Windows PowerShell 5.1 prints it as text)' });
    }
    if (n.type === 'variable' && PS7_ONLY_VARIABLES.includes(n.text.toLowerCase())) out.push({ file, line: line(n), message: `automatic variable ${n.text} does not exist in Windows PowerShell 5.1` });
    if (n.type !== 'command') return;
    const raw = commandName(n);
    if (raw === undefined) return;
    const name = CMDLET_ALIASES[raw] ?? raw;
    const params = commandParameters(n);
    if (name === 'clean' && n.descendantsOfType('script_block_expression').length > 0 && params.length === 0) {
      out.push({ file, line: line(n), message: 'the clean { } block is PowerShell 7.3+ only' });
    }
    if (PS7_ONLY_CMDLETS.includes(name)) out.push({ file, line: line(n), message: `${raw} does not exist in Windows PowerShell 5.1` });
    const only = PS7_ONLY_PARAMETERS[name] ?? [];
    for (const p of params) {
      const written = p.text.replace(/^-/, '').replace(/:.*$/, '').toLowerCase();
      // PowerShell accepts any unambiguous prefix of a parameter name; a prefix that also starts a
      // 5.1 parameter (Select-Object -Skip, Split-Path -Leaf) is that 5.1 parameter.
      const known51 = (PS51_PARAMETERS[name] ?? []).some((k) => k.startsWith(written));
      const hit = only.find((o) => o === written || (written.length >= 3 && !known51 && o.startsWith(written)));
      if (hit) out.push({ file, line: line(p), message: `${raw} -${hit} is PowerShell 7 only` });
    }
    const elements = n.children.find((c) => c.type === 'command_elements')?.children ?? [];
    elements.forEach((c, i) => {
      if (c.type !== 'command_parameter' || !/^-encoding(:|$)/i.test(c.text)) return;
      const inline = c.text.includes(':') ? c.text.slice(c.text.indexOf(':') + 1) : undefined;
      const next = inline ?? elements.slice(i + 1).find((e) => e.type !== 'command_argument_sep')?.text ?? '';
      const value = next.replace(/^['"]|['"]$/g, '').toLowerCase();
      if (PS7_ONLY_ENCODINGS.has(value)) out.push({ file, line: line(c), message: `-Encoding ${value} is PowerShell 7 only` });
    });
  });
  return out;
}

/** Every function: an approved verb and comment-based help with .SYNOPSIS and .EXAMPLE. */
export function functionFindings(file: string, tree: Node): Finding[] {
  const out: Finding[] = [];
  for (const fn of tree.descendantsOfType('function_statement')) {
    const name = fn.children.find((c) => c.type === 'function_name')?.text ?? '';
    const verb = name.includes('-') ? name.slice(0, name.indexOf('-')) : '';
    if (!APPROVED_VERBS.has(verb.toLowerCase())) out.push({ file, line: line(fn), message: `function ${name}: "${verb}" is not an approved verb (Get-Verb)` });
    const help = fn.descendantsOfType('comment').find((c) => c.text.startsWith('<#'));
    if (!help || !/\.SYNOPSIS/i.test(help.text) || !/\.EXAMPLE/i.test(help.text)) {
      out.push({ file, line: line(fn), message: `function ${name}: no comment-based help with .SYNOPSIS and .EXAMPLE` });
    }
  }
  return out;
}

/** An entry script: help with .SYNOPSIS, .DESCRIPTION and .EXAMPLE before param(), and Set-StrictMode -Version Latest. */
export function scriptFindings(file: string, source: string): Finding[] {
  const out: Finding[] = [];
  const help = /^\s*<#([\s\S]*?)#>/.exec(source);
  if (!help || !/\.SYNOPSIS/i.test(help[1] ?? '') || !/\.DESCRIPTION/i.test(help[1] ?? '') || !/\.EXAMPLE/i.test(help[1] ?? '')) {
    out.push({ file, line: 1, message: 'no comment-based help (.SYNOPSIS, .DESCRIPTION, .EXAMPLE) at the top of the script' });
  }
  if (!/^\s*Set-StrictMode\s+-Version\s+Latest\s*$/im.test(source)) out.push({ file, line: 1, message: 'no "Set-StrictMode -Version Latest"' });
  return out;
}

/** Windows PowerShell 5.1 reads a script without a BOM in the ANSI code page: keep scripts ASCII. */
export function encodingFindings(file: string, bytes: Buffer): Finding[] {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return [];
  const i = bytes.findIndex((b) => b > 0x7f);
  if (i < 0) return [];
  const lineNo = bytes.subarray(0, i).toString('latin1').split('\n').length;
  return [{ file, line: lineNo, message: 'non-ASCII byte in a script without a UTF-8 BOM (Windows PowerShell 5.1 would read it as ANSI)' }];
}

export async function checkSource(file: string, source: string, kind: 'entry' | 'private' | 'test'): Promise<Finding[]> {
  const parser = await powershellParser();
  const tree = parser.parse(source);
  if (!tree) return [{ file, line: 1, message: 'the parser returned no tree' }];
  const root = tree.rootNode;
  const findings = [...syntaxFindings(file, root), ...ps7Findings(file, root)];
  if (kind !== 'test') findings.push(...functionFindings(file, root));
  if (kind === 'entry') findings.push(...scriptFindings(file, source));
  tree.delete();
  return findings;
}

export function listPs1(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...listPs1(full));
    else if (/\.ps1$/i.test(name)) out.push(full);
  }
  return out;
}

export async function checkFile(root: string, full: string): Promise<Finding[]> {
  const file = relative(root, full).replace(/\\/g, '/');
  const bytes = readFileSync(full);
  const kind = /\.Tests\.ps1$/i.test(file) || file.startsWith('collector/tests/') ? 'test' : /^collector\/[^/]+\.ps1$/.test(file) ? 'entry' : 'private';
  const text = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3).toString('utf8') : bytes.toString('utf8');
  return [...encodingFindings(file, bytes), ...(await checkSource(file, text, kind))];
}

export function formatFindings(findings: readonly Finding[]): string {
  return findings.map((f) => `${f.file}:${f.line}: ${f.message}`).join('\n');
}
