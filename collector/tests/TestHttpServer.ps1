# A real HTTP server for the Pester tests, on the loopback interface: it answers each connection
# with the next canned response, so the collector's own request wrapper (Invoke-WebRequest and the
# header handling of the PowerShell edition under test) reads what a service or proxy would send.

function New-TestHttpResponse {
    <#
    .SYNOPSIS
        The raw text of one HTTP/1.1 response: status line, the given headers, a JSON body, and
        Connection: close (each request gets a connection of its own).
    .EXAMPLE
        New-TestHttpResponse -StatusCode 503 -Reason 'Service Unavailable' -Headers @{ 'Retry-After' = '120' } -Body '{"error":"storage_unavailable"}'
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseShouldProcessForStateChangingFunctions', '', Justification = 'Builds a string; changes nothing.')]
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [int]$StatusCode,
        [string]$Reason = 'Status',
        [hashtable]$Headers = @{},
        [string]$Body = ''
    )
    $bytes = [System.Text.Encoding]::UTF8.GetByteCount($Body)
    $text = "HTTP/1.1 $StatusCode $Reason`r`n"
    foreach ($name in $Headers.Keys) { $text += ('{0}: {1}' -f $name, $Headers[$name]) + "`r`n" }
    $text += "Content-Type: application/json; charset=utf-8`r`nContent-Length: $bytes`r`nConnection: close`r`n`r`n$Body"
    return $text
}

function Start-TestHttpServer {
    <#
    .SYNOPSIS
        Listens on 127.0.0.1 (a free port) and answers the next connections with Responses, one
        each, in order; then stops accepting. Returns Uri (http://127.0.0.1:PORT) and Requests (the
        request lines it received, e.g. "POST /api/snapshots HTTP/1.1"). Stop it with
        Stop-TestHttpServer.
    .EXAMPLE
        $server = Start-TestHttpServer -Responses @((New-TestHttpResponse -StatusCode 201 -Body '{}'))
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseShouldProcessForStateChangingFunctions', '', Justification = 'A test server on the loopback interface.')]
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [string[]]$Responses
    )
    $listener = New-Object System.Net.Sockets.TcpListener([System.Net.IPAddress]::Loopback, 0)
    $listener.Start()
    $requests = [System.Collections.ArrayList]::Synchronized((New-Object System.Collections.ArrayList))
    $shell = [powershell]::Create()
    $serve = {
        param($Listener, [string[]]$Responses, $Requests)
        foreach ($response in $Responses) {
            $client = $Listener.AcceptTcpClient()
            try {
                $stream = $client.GetStream()
                # The whole request (headers, then Content-Length bytes of body) before answering,
                # so the client never sees its upload cut off.
                $buffer = New-Object byte[] 65536
                $received = New-Object System.IO.MemoryStream
                $headerEnd = -1
                $length = 0
                while ($true) {
                    $n = $stream.Read($buffer, 0, $buffer.Length)
                    if ($n -le 0) { break }
                    $received.Write($buffer, 0, $n)
                    $text = [System.Text.Encoding]::ASCII.GetString($received.ToArray())
                    if ($headerEnd -lt 0) {
                        $headerEnd = $text.IndexOf("`r`n`r`n")
                        if ($headerEnd -ge 0) {
                            $m = [regex]::Match($text.Substring(0, $headerEnd), '(?im)^Content-Length:\s*(\d+)')
                            if ($m.Success) { $length = [int]$m.Groups[1].Value }
                            [void]$Requests.Add(($text -split "`r`n")[0])
                            if ($text -match '(?im)^Expect:\s*100-continue') {
                                $continue = [System.Text.Encoding]::ASCII.GetBytes("HTTP/1.1 100 Continue`r`n`r`n")
                                $stream.Write($continue, 0, $continue.Length)
                            }
                        }
                    }
                    if ($headerEnd -ge 0 -and $received.Length -ge $headerEnd + 4 + $length) { break }
                }
                $out = [System.Text.Encoding]::UTF8.GetBytes($response)
                $stream.Write($out, 0, $out.Length)
                $stream.Flush()
            } finally {
                $client.Close()
            }
        }
    }
    [void]$shell.AddScript($serve.ToString()).AddArgument($listener).AddArgument($Responses).AddArgument($requests)
    $handle = $shell.BeginInvoke()
    return [pscustomobject]@{
        Uri      = ('http://127.0.0.1:{0}' -f $listener.LocalEndpoint.Port)
        Requests = $requests
        Listener = $listener
        Shell    = $shell
        Handle   = $handle
    }
}

function Stop-TestHttpServer {
    <#
    .SYNOPSIS
        Stops a server of Start-TestHttpServer, whether or not it answered all its responses.
    .EXAMPLE
        Stop-TestHttpServer -Server $server
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseShouldProcessForStateChangingFunctions', '', Justification = 'Stops a test server.')]
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        $Server
    )
    # Stopping the listener ends a wait for a connection that never came.
    $Server.Listener.Stop()
    $Server.Shell.Stop()
    $Server.Shell.Dispose()
}
