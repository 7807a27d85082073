// How code reaches the function app: the compiled template turns off the FTP and SCM basic-auth
// publishing credentials, so deploying needs an Entra identity with a role on the app.
import { describe, expect, it } from 'vitest';
import { dig, resourcesOfType } from './arm';

describe('deployment credentials of the function app', () => {
  it('allow neither FTP nor SCM basic authentication', () => {
    const policies = resourcesOfType('Microsoft.Web/sites/basicPublishingCredentialsPolicies').map(({ resource }) => ({
      // The child's name, the last literal of `[format('{0}/{1}', <app>, 'ftp')]`.
      name: /'(\w+)'\)\]$/.exec(resource.name)?.[1],
      allow: dig(resource, 'properties', 'allow'),
    }));
    expect(policies.sort((a, b) => String(a.name).localeCompare(String(b.name)))).toEqual([
      { name: 'ftp', allow: false },
      { name: 'scm', allow: false },
    ]);
  });
});
