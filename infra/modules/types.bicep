// Types and functions shared by the Bicep files (imported with `import`).

@export()
@description('Resource tags: name to value.')
type resourceTags = {
  *: string
}

@export()
@description('Someone given a role: the Entra object id and the kind of principal. Role assignments name the kind so that a principal created moments before still resolves while Entra replicates it.')
type principal = {
  @description('Entra object id of the user, group or service principal.')
  id: string
  @description('The kind of principal.')
  type: 'User' | 'Group' | 'ServicePrincipal'
}

@export()
@description('Why a table prefix cannot be used, or \'\' when it can. The service\'s rule (src/store/client.ts): empty, or an ASCII letter followed by ASCII letters and digits, at most 31 characters.')
func tablePrefixProblem(prefix string) string =>
  // Counted, not compared: ARM compares strings linguistically (the Kelvin sign equals K), while
  // uriComponent leaves exactly A-Z a-z 0-9 - . _ ~ unescaped, so equal lengths mean plain ASCII.
  empty(prefix)
    ? ''
    : length(prefix) > 31
        ? 'tablePrefix must be at most 31 characters long.'
        : length(uriComponent(prefix)) != length(prefix) || length(replace(replace(replace(replace(prefix, '-', ''), '.', ''), '_', ''), '~', '')) != length(prefix)
            ? 'tablePrefix may hold only letters and digits.'
            : contains('0123456789', substring(prefix, 0, 1)) ? 'tablePrefix must start with a letter.' : ''
