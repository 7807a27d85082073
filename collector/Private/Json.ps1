# JSON helpers that behave the same on Windows PowerShell 2.0, 5.1 and PowerShell 7.
# Snapshots are written by ConvertTo-PostureJson rather than ConvertTo-Json: it has no depth
# limit, never wraps arrays as {"value":...,"Count":...} (a Windows PowerShell 5.1 quirk), keeps
# REG_QWORD data as a string, and writes half of a UTF-16 surrogate pair as U+FFFD (the service
# refuses a snapshot holding one, so the output is always one it takes).

# Half of a UTF-16 surrogate pair: a high one with no low one after it, or a low one with no high
# one before it. A whole pair (an emoji, a rare CJK character) is not matched.
$script:PostureHalfCharacterPattern = '[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]'

function ConvertTo-PostureJsonString {
    <#
    .SYNOPSIS
        Quotes and escapes one string as a JSON string literal. Half of a UTF-16 surrogate pair
        is written as \ufffd (U+FFFD): Repair-PostureSnapshotText replaces them in a snapshot
        first and says where; this is the backstop for any other string.
    .EXAMPLE
        ConvertTo-PostureJsonString -Value 'C:\Temp'
        Returns "C:\\Temp" (with the quotes).
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [AllowEmptyString()]
        [string]$Value
    )
    $evaluator = [System.Text.RegularExpressions.MatchEvaluator] {
        param($m)
        $c = [int][char]$m.Value
        if ($c -eq 0x22) { return '\"' }
        if ($c -eq 0x5C) { return '\\' }
        if ($c -eq 0x0A) { return '\n' }
        if ($c -eq 0x0D) { return '\r' }
        if ($c -eq 0x09) { return '\t' }
        if ($c -ge 0xD800 -and $c -le 0xDFFF) { return '\ufffd' }
        return ('\u{0:x4}' -f $c)
    }
    $pattern = '[\x00-\x1f"\\]|' + $script:PostureHalfCharacterPattern
    return '"' + [System.Text.RegularExpressions.Regex]::Replace($Value, $pattern, $evaluator) + '"'
}

function Repair-PostureJsonEscape {
    <#
    .SYNOPSIS
        JSON text with each escaped half of a UTF-16 surrogate pair written as \ufffd: a \uD800-
        \uDBFF escape not followed by a \uDC00-\uDFFF one, or a low one not preceded by a high
        one, in either case of hex. An escaped whole pair, and everything else, stays as it is.
        Returns Json (the text to send) and Replaced (how many escapes were replaced). An older
        collector wrote a half character so in the snapshots it spooled, and the service refuses
        a snapshot holding one.
    .EXAMPLE
        Repair-PostureJsonEscape -Json '{"a":"x\ud800y"}'
        Returns Json {"a":"x\ufffdy"} and Replaced 1.
    #>
    [CmdletBinding()]
    [OutputType([hashtable])]
    param(
        [Parameter(Mandatory = $true)]
        [AllowEmptyString()]
        [string]$Json
    )
    $count = @{ Replaced = 0 }
    # Left to right, one escape at a time: a whole pair is taken before either half, and an
    # escaped backslash (\\) before the "u..." after it, so literal text "\\ud800" is no escape.
    $pattern = '(?i)(\\ud[89ab][0-9a-f]{2}\\ud[c-f][0-9a-f]{2})|(\\ud[89a-f][0-9a-f]{2})|\\.'
    $evaluator = [System.Text.RegularExpressions.MatchEvaluator] {
        param($m)
        if ($m.Groups[2].Success) {
            $count.Replaced++
            return '\ufffd'
        }
        return $m.Value
    }
    $text = [System.Text.RegularExpressions.Regex]::Replace($Json, $pattern, $evaluator)
    return @{ Json = $text; Replaced = $count.Replaced }
}

function ConvertTo-PostureJson {
    <#
    .SYNOPSIS
        Serialises hashtables, ordered dictionaries, arrays and scalars to JSON text.
    .DESCRIPTION
        Dictionaries become objects (in their key order), other enumerables become arrays,
        DateTime values become ISO 8601 UTC strings, numbers use the invariant culture.
    .EXAMPLE
        ConvertTo-PostureJson -InputObject @{ a = 1; b = @('x') }
        Returns {"a":1,"b":["x"]} (key order of a hashtable is not defined).
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [AllowNull()]
        [AllowEmptyString()]
        [AllowEmptyCollection()]
        $InputObject
    )
    $inv = [System.Globalization.CultureInfo]::InvariantCulture
    $v = $InputObject
    if ($null -eq $v) { return 'null' }
    if ($v -is [string] -or $v -is [char]) { return (ConvertTo-PostureJsonString -Value ([string]$v)) }
    if ($v -is [bool]) { if ($v) { return 'true' } else { return 'false' } }
    if ($v -is [datetime]) { return (ConvertTo-PostureJsonString -Value ($v.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", $inv))) }
    if ($v -is [byte] -or $v -is [sbyte] -or $v -is [int16] -or $v -is [uint16] -or $v -is [int] -or $v -is [uint32] -or $v -is [long] -or $v -is [uint64] -or $v -is [decimal]) {
        return $v.ToString($inv)
    }
    if ($v -is [double] -or $v -is [single]) { return ([double]$v).ToString('R', $inv) }
    if ($v -is [System.Collections.IDictionary]) {
        $parts = New-Object System.Collections.Generic.List[string]
        foreach ($key in $v.Keys) {
            $parts.Add((ConvertTo-PostureJsonString -Value ([string]$key)) + ':' + (ConvertTo-PostureJson -InputObject $v[$key]))
        }
        return '{' + [string]::Join(',', $parts.ToArray()) + '}'
    }
    if ($v -is [System.Management.Automation.PSCustomObject]) {
        $parts = New-Object System.Collections.Generic.List[string]
        foreach ($p in $v.PSObject.Properties) {
            $parts.Add((ConvertTo-PostureJsonString -Value $p.Name) + ':' + (ConvertTo-PostureJson -InputObject $p.Value))
        }
        return '{' + [string]::Join(',', $parts.ToArray()) + '}'
    }
    if ($v -is [System.Collections.IEnumerable]) {
        $parts = New-Object System.Collections.Generic.List[string]
        foreach ($item in $v) { $parts.Add((ConvertTo-PostureJson -InputObject $item)) }
        return '[' + [string]::Join(',', $parts.ToArray()) + ']'
    }
    return (ConvertTo-PostureJsonString -Value ([string]$v))
}

function ConvertFrom-PostureJson {
    <#
    .SYNOPSIS
        Parses JSON text: ConvertFrom-Json where it exists (3.0+), else JavaScriptSerializer (2.0).
    .EXAMPLE
        ConvertFrom-PostureJson -Json '{"schema":"fleet-posture/manifest@1"}'
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [string]$Json
    )
    if (Get-Command -Name ConvertFrom-Json -ErrorAction SilentlyContinue) {
        return (ConvertFrom-Json -InputObject $Json)
    }
    Add-Type -AssemblyName System.Web.Extensions
    $serializer = New-Object System.Web.Script.Serialization.JavaScriptSerializer
    $serializer.MaxJsonLength = [int]::MaxValue
    return $serializer.DeserializeObject($Json)
}

function Get-PostureMember {
    <#
    .SYNOPSIS
        Reads a property of a parsed JSON object (PSCustomObject or dictionary) or returns $Default,
        without tripping Set-StrictMode on a missing property.
    .EXAMPLE
        Get-PostureMember -InputObject $manifest -Name 'registry' -Default @()
    #>
    [CmdletBinding()]
    param(
        [AllowNull()]
        $InputObject,
        [Parameter(Mandatory = $true)]
        [string]$Name,
        $Default = $null
    )
    if ($null -eq $InputObject) { return $Default }
    if ($InputObject -is [System.Collections.IDictionary]) {
        if ($InputObject.Contains($Name)) { return $InputObject[$Name] }
        return $Default
    }
    $prop = $InputObject.PSObject.Properties[$Name]
    if ($null -eq $prop) { return $Default }
    return $prop.Value
}
