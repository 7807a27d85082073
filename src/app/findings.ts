// The statuses that are findings, Warning and Error: entering or leaving one raises an alert
// record, a waiver accepts only them, and the summary counts them apart when waived.
export const FINDING_STATUSES = ['Warning', 'Error'] as const;

/** Is `status` (or none) a finding? */
export const isFinding = (status: string | undefined): boolean => (FINDING_STATUSES as readonly (string | undefined)[]).includes(status);
