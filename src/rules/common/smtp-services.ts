// The Exchange SMTP services a snapshot holds, and the process image that actually opens the
// outbound port-25 connections for each: what a rule about mail flow on an Exchange server asks.
import { getService, type NormalisedSnapshot } from '../../snapshot/normalise';
import { fileNameOf } from './glob';

/** The services that send SMTP on an Exchange server: IIS SMTP (2003), Transport and Front End Transport (2007+). */
export const SMTP_SERVICES = ['SMTPSVC', 'MSExchangeTransport', 'MSExchangeFrontEndTransport'] as const;

export type ImageSource = 'pathName' | 'assumedDefault' | 'knownWorker';

export interface SmtpService {
  readonly name: string;
  readonly state: string;
  readonly started: boolean;
  readonly pathName: string | null;
  /** The sending process's file name, e.g. EdgeTransport.exe. */
  readonly image: string;
  /** pathName: read from PathName; knownWorker: fixed by Exchange's design; assumedDefault: PathName missing. */
  readonly imageSource: ImageSource;
  readonly assumed: boolean;
}

const KNOWN_WORKERS: Readonly<Record<string, string>> = {
  // MSExchangeTransport.exe only controls the worker; EdgeTransport.exe speaks SMTP.
  msexchangetransport: 'EdgeTransport.exe',
  msexchangefrontendtransport: 'MSExchangeFrontendTransport.exe',
};

/** The executable named by a Win32_Service PathName (quoted or not, with arguments or not). */
export function imageOfPathName(pathName: string | null | undefined): string | undefined {
  const p = (pathName ?? '').trim();
  let exe: string;
  if (p.startsWith('"')) {
    // An unclosed quote: fileNameOf drops it.
    const end = p.indexOf('"', 1);
    exe = end === -1 ? p : p.slice(1, end);
  } else {
    // Unquoted: up to the first ".exe" followed by a blank or the end, else up to the first blank.
    const m = /(.*?\.exe)(?:\s|$)/i.exec(p);
    const blank = p.search(/\s/);
    exe = m?.[1] ?? (blank === -1 ? p : p.slice(0, blank));
  }
  const name = fileNameOf(exe);
  return name === '' ? undefined : name;
}

/** Every SMTP service the snapshot holds, with the image that sends for it. */
export function smtpServices(s: NormalisedSnapshot): SmtpService[] {
  const out: SmtpService[] = [];
  for (const wanted of SMTP_SERVICES) {
    const svc = getService(s, wanted);
    if (!svc) continue;
    const worker = KNOWN_WORKERS[svc.nameLower];
    const fromPath = worker ? undefined : imageOfPathName(svc.pathName);
    const image = worker ?? fromPath ?? 'inetinfo.exe';
    const imageSource: ImageSource = worker ? 'knownWorker' : fromPath ? 'pathName' : 'assumedDefault';
    out.push({
      name: svc.name,
      state: svc.state,
      started: svc.started,
      pathName: svc.pathName ?? null,
      image,
      imageSource,
      assumed: imageSource === 'assumedDefault',
    });
  }
  return out;
}
