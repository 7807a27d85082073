// PLACEHOLDER until the real rule lands (issue 2): returns Unknown for every snapshot.
import type { Rule } from '../types';

export const mcafeePort25Blocked: Rule = {
  id: 'mcafee-port25-blocked',
  version: '0.0.0',
  title: { en: 'Port 25 is blocked', ja: 'ポート 25 がブロックされている' },
  rationale: { en: 'placeholder', ja: 'placeholder' },
  severity: 'Warning',
  references: [],
  reasonCodes: { NotImplemented: 'Unknown' },
  needs: {
    registry: [{ path: 'HKLM\\SOFTWARE\\Network Associates\\TVD\\VirusScan Enterprise\\CurrentVersion', recurse: false }],
    services: ['McShield'],
    files: [],
  },
  evaluate: () => ({
    status: 'Unknown',
    reasonCode: 'NotImplemented',
    message: { en: 'placeholder', ja: 'placeholder' },
    remediation: [],
    evidence: {},
  }),
};
