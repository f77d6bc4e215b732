# Get-Help shows every parameter with its type, default and meaning, from the same
# tables the parser and the settings use.
$ edgectl Get-Help Set-SendConnector | grep -A3 -E '^    -(SourceIPAddress|MaxMessageSize|AddressSpaces) '
    -AddressSpaces <AddressSpace[]>
        SMTP:domain;cost entries: contoso.com, *.contoso.com, * or -- (the Authoritative and InternalRelay accepted domains)

    -DNSRoutingEnabled <Boolean>
--
    -SourceIPAddress <IPAddress>
        Local address outbound connections are bound to before connecting; 0.0.0.0 = the OS chooses
        Default: 0.0.0.0

--
    -MaxMessageSize <Unlimited<ByteQuantifiedSize>>
        Larger messages are refused (NDR 5.3.4); they never fall through to a less specific connector
        Default: 10MB
$ edgectl get-help get-queue | head -8
NAME
    Get-Queue

SYNOPSIS
    List the queues (Submission, next hops, Unreachable, Poison)

SYNTAX
    Get-Queue [[-Identity] <QueueIdentity>] [-Filter <String>] [-Format <Table|List>] [-Json] [-ResultSize <Unlimited<Int32>>] [-BookmarkIndex <Int32>] [-BookmarkObject <Identity>] [-IncludeBookmark <Boolean>] [-SearchForward <Boolean>] [-ReturnPageInfo]
$ edgectl Get-Help Set-Nothing
! edgectl: Get-Help: there is no cmdlet Set-Nothing; 'edgectl help' lists them
[exit 2]
# Issue 16 added Get-/Set-TransportAgent, Get-AgentLog (and Enable-/Disable-TransportAgent).
# Issue 17 (connection filtering): Add-/Get-/Remove-IPBlockListEntry and -IPAllowListEntry,
# Get-/Set-IPBlockListConfig, -IPAllowListConfig, -TransportConfig.
$ edgectl help | grep -c -E '^  (Get|Set|New|Remove|Suspend|Resume|Retry|Export|Test)-'
97
$ edgectl help | grep -E '^  (Get-BackPressure|Get-MessageTrackingLog|Retry-Queue) '
  Retry-Queue                     Try a queue in Retry now; with -Resubmit $true route its messages again
  Get-MessageTrackingLog          Search the message tracking log
  Get-BackPressure                The running server's back-pressure level, since when, and each resource's reading and thresholds
# The lists bash completion reads.
$ edgectl --list-cmdlets | grep -c .
109
$ edgectl --list-parameters set-receiveconnector | grep -E '^-(Banner|Enabled|Bindings) '
-Enabled Boolean
-Bindings IPBinding[]
-Banner String
# The completion script itself, as bash runs it on TAB.
$ bash -c 'source {SOURCE}/conf/edgectl.bash-completion; COMP_WORDS=(edgectl Set-SendC); COMP_CWORD=3; _edgectl; echo "${COMPREPLY[@]}"'
Set-SendConnector
$ bash -c 'source {SOURCE}/conf/edgectl.bash-completion; COMP_WORDS=(edgectl Set-SendConnector X -SourceI); COMP_CWORD=5; _edgectl; echo "${COMPREPLY[@]}"'
-SourceIPAddress
$ bash -c 'source {SOURCE}/conf/edgectl.bash-completion; COMP_WORDS=(edgectl Set-SendConnector X -Enabled ""); COMP_CWORD=6; _edgectl; echo "${COMPREPLY[@]}"'
'$true' '$false' true false
