# Send connectors.
$ edgectl New-SendConnector "To Internet" -AddressSpaces '*' -Fqdn edge.contoso.com
$ edgectl New-SendConnector Inbound -AddressSpaces contoso.com,'SMTP:*.contoso.com;5' -DNSRoutingEnabled '$false' -SmartHosts hub1.contoso.com,[127.0.0.1] -SmartHostAuthMechanism BasicAuth -AuthenticationCredential 'edge:s3cret'
$ edgectl Get-SendConnector
Identity    AddressSpaces                            Enabled
--------    -------------                            -------
Inbound     SMTP:contoso.com;1, SMTP:*.contoso.com;5 True
To Internet SMTP:*;1                                 True
$ edgectl Get-SendConnector Inbound -Format List | grep -E '^(AddressSpaces|DNSRoutingEnabled|SmartHosts|SmartHostAuthMechanism|AuthenticationCredential|Port|SourceIPAddress) '
AddressSpaces                : SMTP:contoso.com;1, SMTP:*.contoso.com;5
DNSRoutingEnabled            : False
SmartHosts                   : hub1.contoso.com, [127.0.0.1]
SmartHostAuthMechanism       : BasicAuth
AuthenticationCredential     : edge:********
Port                         : 25
SourceIPAddress              : 0.0.0.0
# SourceIPAddress: 0.0.0.0 or an address this host has (127.0.0.3 is on lo).
# The change is made; the warning (issue 17, Test-SendConnector) depends on this host's DNS.
$ edgectl Set-SendConnector "To Internet" -SourceIPAddress 127.0.0.3
! edgectl: Set-SendConnector: warning: receivers may refuse mail from Send connector 'To Internet' (SourceIPAddress 127.0.0.3): {*}
$ edgectl Set-SendConnector "To Internet" -SourceIPAddress 10.9.9.9
! edgectl: Set-SendConnector: -SourceIPAddress: 10.9.9.9 is not an address of this host; expected 0.0.0.0 (any) or an address configured on one of its interfaces
[exit 1]
$ edgectl Set-SendConnector "To Internet" -SourceIPAddress 300.1.1.1
! edgectl: Set-SendConnector: -SourceIPAddress: '300.1.1.1' is not valid; expected an IP address such as 192.0.2.1 or 2001:db8::1
[exit 1]
$ edgectl Get-SendConnector "To Internet" -Format List | grep -E '^SourceIPAddress '
SourceIPAddress              : 127.0.0.3
# Smart hosts are required without DNS routing, and refused with it.
$ edgectl New-SendConnector NoHosts -AddressSpaces x.test -DNSRoutingEnabled '$false'
! edgectl: New-SendConnector: -SmartHosts is required when -DNSRoutingEnabled is $false
[exit 1]
$ edgectl Set-SendConnector "To Internet" -SmartHosts 127.0.0.1
! edgectl: Set-SendConnector: -SmartHosts can be set only when -DNSRoutingEnabled is $false
[exit 1]
$ edgectl Set-SendConnector Inbound -RequireTLS '$true' -IgnoreSTARTTLS '$true'
! edgectl: Set-SendConnector: -IgnoreSTARTTLS must be $false when -RequireTLS is $true
[exit 1]
# Address-space syntax, ports, sizes, time spans.
$ edgectl Set-SendConnector Inbound -AddressSpaces 'SMTP:contoso.com;0'
! edgectl: Set-SendConnector: -AddressSpaces: 'SMTP:contoso.com;0' is not valid; expected a cost from 1 to 100 after ';', not 'SMTP:contoso.com;0'
[exit 1]
$ edgectl Set-SendConnector Inbound -AddressSpaces 'bad domain'
! edgectl: Set-SendConnector: -AddressSpaces: 'bad domain' is not valid; expected in the address space 'bad domain': expected only letters, digits and hyphens in the labels of 'bad domain'
[exit 1]
$ edgectl Set-SendConnector Inbound -Port 0
! edgectl: Set-SendConnector: -Port: '0' is not valid; expected a whole number from 1 to 65535
[exit 1]
$ edgectl Set-SendConnector Inbound -MaxMessageSize 3GB
! edgectl: Set-SendConnector: -MaxMessageSize: '3GB' is not valid; expected a size such as 10MB, 500KB or 65536 bytes, from 0 to 2147483647, or unlimited
[exit 1]
$ edgectl Set-SendConnector Inbound -ConnectionInactivityTimeOut 00:00:00
! edgectl: Set-SendConnector: -ConnectionInactivityTimeOut: '00:00:00' is not valid; expected a time span [d.]hh:mm:ss from 00:00:01 to 1.00:00:00
[exit 1]
$ edgectl New-SendConnector Inbound -AddressSpaces y.test
! edgectl: New-SendConnector: -Name: a SendConnector named 'Inbound' already exists
[exit 1]
$ edgectl Get-SendConnector
Identity    AddressSpaces                            Enabled
--------    -------------                            -------
Inbound     SMTP:contoso.com;1, SMTP:*.contoso.com;5 True
To Internet SMTP:*;1                                 True
$ edgectl Remove-SendConnector Inbound
$ edgectl Get-SendConnector -Filter "AddressSpaces -like '*contoso*'"
$ edgectl Set-SendConnector "To Internet" -AllowPrivateTargetAddresses maybe
! edgectl: Set-SendConnector: -AllowPrivateTargetAddresses: 'maybe' is not valid; expected $true or $false
[exit 1]
$ edgectl Set-SendConnector "To Internet" -AllowPrivateTargetAddresses
! edgectl: Set-SendConnector: -AllowPrivateTargetAddresses needs a value; write '$true' or '$false' in quotes (bash expands an unquoted $true to nothing), or true / false
[exit 2]
$ edgectl Get-SendConnector "To Internet" -Format List | grep -E '^AllowPrivateTargetAddresses '
AllowPrivateTargetAddresses  : False
$ edgectl Set-SendConnector "To Internet" -AllowPrivateTargetAddresses '$true'
$ edgectl Get-SendConnector "To Internet" -Format List | grep -E '^AllowPrivateTargetAddresses '
AllowPrivateTargetAddresses  : True
