# The collector's release, sent with every snapshot and enrolment request.

function Get-PostureCollectorVersion {
    <#
    .SYNOPSIS
        The collector's release.
    .DESCRIPTION
        From 1.1.0 the collector keeps the request secret of a re-enrolment across runs (in
        config.dat) until a key answers it, and says so by this version in its enrolment requests:
        the service then lets only that secret, not a copy of the host's facts, take the place of
        the request when the collector sends it again.
    .EXAMPLE
        Get-PostureCollectorVersion
        Returns '1.1.0'.
    #>
    [CmdletBinding()]
    param()
    return '1.1.0'
}
