// A minimal valid snapshot for contract tests; each test changes one thing.
import type { SnapshotInput } from '../../src/snapshot/schema';

export function sampleSnapshot(): SnapshotInput {
  return {
    schema: 'fleet-posture/snapshot@1',
    snapshotId: '0b6f3a2e-6a55-4f0e-9d47-2f7cfb7f4c11',
    collectedAt: '2026-11-28T01:00:00.000Z',
    collector: { name: 'Send-PostureSnapshot', version: '1.0.0', manifestVersion: 'sha256:' + '0'.repeat(64) },
    host: {
      name: 'EXCH01',
      fqdn: 'exch01.corp.contoso.com',
      os: { caption: 'Microsoft Windows Server 2003 R2 Enterprise Edition', version: '5.2.3790', architecture: '32-bit' },
      utcOffsetMinutes: 540,
    },
    registry: [
      {
        path: 'HKLM\\SOFTWARE\\Network Associates\\TVD\\VirusScan Enterprise\\CurrentVersion',
        view: '32',
        exists: true,
        lastWriteTime: '2026-10-01T08:12:00.000Z',
        values: [
          { name: 'szProductVer', type: 'REG_SZ', data: '8.0.0.912' },
          { name: 'szInstallDir', type: 'REG_SZ', data: 'C:\\Program Files\\Network Associates\\VirusScan\\' },
        ],
      },
      { path: 'HKLM\\SOFTWARE\\McAfee\\SystemCore\\VSCore\\On Access Scanner\\BehaviourBlocking', view: '64', exists: false },
      {
        path: 'HKLM\\SOFTWARE\\Network Associates\\TVD\\Shared Components\\On Access Scanner\\BehaviourBlocking',
        view: '32',
        exists: true,
        error: { code: 'AccessDenied', message: 'Requested registry access is not allowed.' },
      },
    ],
    services: [
      {
        name: 'McShield',
        displayName: 'Network Associates McShield',
        state: 'Running',
        started: true,
        startMode: 'Auto',
        pathName: '"C:\\Program Files\\Network Associates\\VirusScan\\Mcshield.exe"',
        processId: 1432,
      },
      {
        name: 'SMTPSVC',
        displayName: 'Simple Mail Transfer Protocol (SMTP)',
        state: 'Running',
        started: true,
        startMode: 'Auto',
        pathName: 'C:\\WINDOWS\\System32\\inetsrv\\inetinfo.exe',
        processId: 1688,
      },
    ],
    files: [
      {
        path: 'C:\\Documents and Settings\\All Users\\Application Data\\Network Associates\\VirusScan\\AccessProtectionLog.txt',
        exists: true,
        size: 20480,
        lastWriteTime: '2026-11-28T00:55:10.000Z',
        tail: '',
      },
    ],
  };
}
