// Parser for the services CSV an administrator writes with
//   Get-CimInstance Win32_Service | Select Name,DisplayName,State,Started,StartMode,PathName | Export-Csv services.csv
// (or Get-WmiObject): Windows PowerShell 5.1 writes a "#TYPE ..." first line (unless
// -NoTypeInformation), ASCII by default (UTF-8 with BOM or UTF-16 with -Encoding), every field
// quoted with embedded quotes doubled; PowerShell 7 writes UTF-8 without "#TYPE". Pure: text in,
// contract service entries out.
import type { ServiceEntry } from './schema';

export class ServicesCsvError extends Error {
  constructor(
    message: string,
    readonly line?: number,
  ) {
    super(line === undefined ? message : `line ${line}: ${message}`);
  }
}

/** RFC 4180 records: quoted fields may hold commas, doubled quotes and line breaks. */
export function parseCsvRecords(text: string): Array<{ fields: string[]; line: number }> {
  const records: Array<{ fields: string[]; line: number }> = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let atFieldStart = true;
  let line = 1;
  let recordLine = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
      continue;
    }
    // After the closing quote the next quote would have been read as an escaped one, so
    // atFieldStart can stay as it was until the next character.
    if (c === '"' && atFieldStart) {
      quoted = true;
    } else if (c === ',') {
      fields.push(field);
      field = '';
      atFieldStart = true;
    } else if (c === '\r' || c === '\n') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      fields.push(field);
      if (!(fields.length === 1 && fields[0] === '')) records.push({ fields, line: recordLine });
      fields = [];
      field = '';
      atFieldStart = true;
      line++;
      recordLine = line;
    } else {
      field += c;
      atFieldStart = false;
    }
  }
  if (quoted) throw new ServicesCsvError('a quoted field is not closed', recordLine);
  fields.push(field);
  if (!(fields.length === 1 && fields[0] === '')) records.push({ fields, line: recordLine });
  return records;
}

const REQUIRED = ['name', 'state', 'started'] as const;

function parseBool(text: string, line: number, column: string): boolean {
  const t = text.trim().toLowerCase();
  if (t === 'true') return true;
  if (t === 'false') return false;
  throw new ServicesCsvError(`${column} must be True or False, not ${JSON.stringify(text)}`, line);
}

/** Service entries from the CSV text. Empty DisplayName/StartMode/PathName cells become null (Export-Csv writes null as ""). */
export function parseServicesCsv(text: string): ServiceEntry[] {
  const records = parseCsvRecords(text.replace(/^\uFEFF/, ''));
  let i = 0;
  if (records[0]?.fields[0]!.startsWith('#TYPE')) i++;
  const header = records[i];
  if (!header) throw new ServicesCsvError('the services CSV is empty');
  const columns = header.fields.map((f) => f.trim().toLowerCase());
  for (const r of REQUIRED) {
    if (!columns.includes(r)) {
      throw new ServicesCsvError(
        `the services CSV has no ${r} column (write it with: Get-CimInstance Win32_Service | Select Name,DisplayName,State,Started,StartMode,PathName | Export-Csv services.csv)`,
        header.line,
      );
    }
  }
  // A missing column reads as index -1, which holds undefined.
  const col = (fields: string[], name: string): string | undefined => fields[columns.indexOf(name)];
  const nullable = (v: string | undefined): string | null | undefined => (v === '' ? null : v);
  const out: ServiceEntry[] = [];
  for (const record of records.slice(i + 1)) {
    if (record.fields.length !== columns.length) {
      throw new ServicesCsvError(`expected ${columns.length} fields, found ${record.fields.length}`, record.line);
    }
    // Name, State and Started are required columns and every record has every column.
    const name = col(record.fields, 'name')!;
    if (name === '') throw new ServicesCsvError('a service without a Name', record.line);
    const entry: ServiceEntry = {
      name,
      state: col(record.fields, 'state')!,
      started: parseBool(col(record.fields, 'started')!, record.line, 'Started'),
    };
    const displayName = nullable(col(record.fields, 'displayname'));
    if (displayName !== undefined) entry.displayName = displayName;
    const startMode = nullable(col(record.fields, 'startmode'));
    if (startMode !== undefined) entry.startMode = startMode;
    const pathName = nullable(col(record.fields, 'pathname'));
    if (pathName !== undefined) entry.pathName = pathName;
    const pid = col(record.fields, 'processid');
    if (pid !== undefined && pid !== '') {
      if (!/^\d+$/.test(pid)) throw new ServicesCsvError(`ProcessId must be a number, not ${JSON.stringify(pid)}`, record.line);
      entry.processId = Number(pid);
    }
    if (entry.state === '') throw new ServicesCsvError(`service ${name} has no State`, record.line);
    out.push(entry);
  }
  return out;
}
