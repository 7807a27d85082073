# The error codes the service answers with, each with the one HTTP status it comes with: only an
# answer carrying one of them at its status is the service's own. A proxy, a firewall or an Azure
# front end answers in its own words ({"error":"invalid_token"} from an OAuth proxy,
# {"error":"access_denied"}, an HTML page), which say nothing about the key, the enrolment or
# the snapshot. test/collector/service-codes.test.ts holds this list equal to the TypeScript
# service's (API_ERROR_STATUS in src/app/errors.ts, and the local host's own in src/local/host.ts).

function Get-PostureServiceErrorTable {
    <#
    .SYNOPSIS
        Every error code the service (and the local host that `npm start` runs) answers with, and
        its HTTP status.
    .EXAMPLE
        (Get-PostureServiceErrorTable)['key_revoked']
        Returns 401.
    #>
    [CmdletBinding()]
    [OutputType([hashtable])]
    param()
    return @{
        # API_ERROR_STATUS, src/app/errors.ts
        'invalid_json'           = 400
        'invalid_snapshot'       = 400
        'collected_in_future'    = 400
        'invalid_query'          = 400
        'invalid_waiver'         = 400
        'invalid_baseline'       = 400
        'invalid_enrolment'      = 400
        'incomplete_body'        = 400
        'unauthorized'           = 401
        'key_revoked'            = 401
        'forbidden'              = 403
        'not_found'              = 404
        'already_decided'        = 409
        'request_replaced'       = 409
        'request_closed'         = 409
        'enrolment_superseded'   = 409
        'unknown_request_state'  = 409
        'snapshot_id_reused'     = 409
        'precondition_failed'    = 412
        'too_large'              = 413
        'unsupported_media_type' = 415
        'rate_limited'           = 429
        'storage_unavailable'    = 503
        'deployment_in_progress' = 503
        'internal_error'         = 500
        # The local host's own answers, src/local/host.ts
        'invalid_request'        = 400
        'method_not_allowed'     = 405
        'request_timeout'        = 408
        'host_busy'              = 429
        'headers_too_large'      = 431
    }
}
