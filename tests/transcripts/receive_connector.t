# Receive connectors. A fresh data directory has none until the server's first start.
$ edgectl Get-ReceiveConnector
$ edgectl New-ReceiveConnector Internet -Bindings 0.0.0.0:25 -Banner '220 mail.contoso.com ready' -Fqdn mail.contoso.com
$ edgectl New-ReceiveConnector Partners -Bindings 0.0.0.0:25 -RemoteIPRanges 192.0.2.0/24 -PermissionGroups AnonymousUsers,Partners -TarpitInterval 00:00:00
$ edgectl Get-ReceiveConnector
Identity Bindings   Enabled
-------- --------   -------
Internet 0.0.0.0:25 True
Partners 0.0.0.0:25 True
$ edgectl Set-ReceiveConnector Internet -MaxMessageSize 20MB -MaxRecipientsPerMessage 500 -ConnectionTimeout 00:05:00 -TarpitInterval 00:00:02
$ edgectl Get-ReceiveConnector Internet -Format List | grep -E '^(Identity|Banner|Fqdn|MaxMessageSize|MaxRecipientsPerMessage|ConnectionTimeout|TarpitInterval|PermissionGroups) '
Identity                                : Internet
Fqdn                                    : mail.contoso.com
Banner                                  : 220 mail.contoso.com ready
MaxMessageSize                          : 20MB
MaxRecipientsPerMessage                 : 500
ConnectionTimeout                       : 00:05:00
TarpitInterval                          : 00:00:02
PermissionGroups                        : AnonymousUsers
# Bad input for each kind of parameter; nothing changes.
$ edgectl Set-ReceiveConnector Internet -Bindings 0.0.0.0:99999
! edgectl: Set-ReceiveConnector: -Bindings: '0.0.0.0:99999' is not valid; expected a TCP port from 1 to 65535 after the address, not '0.0.0.0:99999'
[exit 1]
$ edgectl Set-ReceiveConnector Internet -Bindings mail.contoso.com:25
! edgectl: Set-ReceiveConnector: -Bindings: 'mail.contoso.com:25' is not valid; expected in the binding 'mail.contoso.com:25': expected an IPv4 address of four decimal parts 0..255 without leading zeros, such as 192.0.2.1, not 'mail.contoso.com'
[exit 1]
$ edgectl Set-ReceiveConnector Internet -RemoteIPRanges 10.0.0.0/33
! edgectl: Set-ReceiveConnector: -RemoteIPRanges: '10.0.0.0/33' is not valid; expected a prefix length from 0 to 32 after '/', not '10.0.0.0/33'
[exit 1]
$ edgectl Set-ReceiveConnector Internet -Banner 'Hello'
! edgectl: Set-ReceiveConnector: -Banner: 'Hello' is not valid; expected a banner that starts with "220 "
[exit 1]
$ edgectl Set-ReceiveConnector Internet -MaxRecipientsPerMessage -5
! edgectl: Set-ReceiveConnector: -MaxRecipientsPerMessage: '-5' is not valid; expected a whole number from 1 to 512000
[exit 1]
$ edgectl Set-ReceiveConnector Internet -MaxRecipientsPerMessage many
! edgectl: Set-ReceiveConnector: -MaxRecipientsPerMessage: 'many' is not valid; expected a whole number from 1 to 512000
[exit 1]
$ edgectl Set-ReceiveConnector Internet -ConnectionTimeout 1:2:3:4
! edgectl: Set-ReceiveConnector: -ConnectionTimeout: '1:2:3:4' is not valid; expected a time span [d.]hh:mm:ss from 00:00:01 to 1.00:00:00
[exit 1]
$ edgectl Set-ReceiveConnector Internet -PermissionGroups Everyone
! edgectl: Set-ReceiveConnector: -PermissionGroups: 'Everyone' is not valid; expected a comma list of None,AnonymousUsers,ExchangeUsers,ExchangeServers,ExchangeLegacyServers,Partners,Custom
[exit 1]
$ edgectl Set-ReceiveConnector Internet -Enabled yes
! edgectl: Set-ReceiveConnector: -Enabled: 'yes' is not valid; expected $true or $false
[exit 1]
# A value this server would not act on is refused, not stored as a promise.
$ edgectl Set-ReceiveConnector Internet -AuthMechanism Tls,BasicAuth
! edgectl: Set-ReceiveConnector: -AuthMechanism BasicAuth is not supported on this server (it offers no inbound AUTH)
[exit 1]
$ edgectl New-ReceiveConnector Intranet -Bindings 0.0.0.0:587 -AuthMechanism Integrated
! edgectl: New-ReceiveConnector: -AuthMechanism Integrated is not supported on this server (it offers no inbound AUTH)
[exit 1]
$ edgectl New-ReceiveConnector Internet -Bindings 0.0.0.0:26
! edgectl: New-ReceiveConnector: -Name: a ReceiveConnector named 'Internet' already exists
[exit 1]
$ edgectl New-ReceiveConnector Same -Bindings 0.0.0.0:25 -RemoteIPRanges 192.0.2.0/24
! edgectl: New-ReceiveConnector: -Bindings/-RemoteIPRanges: the Receive connector 'Partners' already has the same Bindings and RemoteIPRanges
[exit 1]
$ edgectl New-ReceiveConnector NoBindings
! edgectl: New-ReceiveConnector: -Bindings is required (Local IP:port pairs listened on (IPv4 and [IPv6]))
[exit 2]
$ edgectl Get-ReceiveConnector Internet -Format List | grep -E '^(Bindings|Banner|MaxRecipientsPerMessage|ConnectionTimeout|Enabled) '
Enabled                                 : True
Bindings                                : 0.0.0.0:25
Banner                                  : 220 mail.contoso.com ready
MaxRecipientsPerMessage                 : 500
ConnectionTimeout                       : 00:05:00
$ edgectl Remove-ReceiveConnector Partners
$ edgectl Get-ReceiveConnector
Identity Bindings   Enabled
-------- --------   -------
Internet 0.0.0.0:25 True
$ edgectl Get-ReceiveConnector Partners
! edgectl: Get-ReceiveConnector: no ReceiveConnector named 'Partners'; 'edgectl Get-ReceiveConnector' lists them
[exit 1]
