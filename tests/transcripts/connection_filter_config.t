# The lists' configurations (singletons) and Set-TransportConfig -InternalSMTPServers
# (issue 17). Defaults: both lists on for internet mail, off for hubs and partners;
# the built-in rejection texts.
$ edgectl Get-IPBlockListConfig
Identity                      : IPBlockListConfig
Enabled                       : True
ExternalMailEnabled           : True
InternalMailEnabled           : False
StaticEntryRejectionResponse  : 
MachineEntryRejectionResponse : 
$ edgectl Set-IPBlockListConfig -StaticEntryRejectionResponse 'Go away, you are on our list' -InternalMailEnabled '$true'
$ edgectl Get-IPBlockListConfig | grep -E '^(InternalMailEnabled|StaticEntryRejectionResponse) '
InternalMailEnabled           : True
StaticEntryRejectionResponse  : Go away, you are on our list
# A response is one line of printable ASCII, at most 240 characters.
$ edgectl Set-IPBlockListConfig -StaticEntryRejectionResponse "$(printf 'x%.0s' $(seq 241))" 2>&1 | grep -o 'expected at most 240 characters'
expected at most 240 characters
$ edgectl Set-IPBlockListConfig -MachineEntryRejectionResponse "$(printf 'caf\303\251')"
! edgectl: Set-IPBlockListConfig: -MachineEntryRejectionResponse: expected printable ASCII text (letters, digits, punctuation, spaces)
[exit 1]
$ edgectl Set-IPBlockListConfig -Enabled maybe
! edgectl: Set-IPBlockListConfig: -Enabled: 'maybe' is not valid; expected $true or $false
[exit 1]
$ edgectl Get-IPAllowListConfig
Identity            : IPAllowListConfig
Enabled             : True
ExternalMailEnabled : True
InternalMailEnabled : False
$ edgectl Set-IPAllowListConfig -Enabled '$false'
$ edgectl Get-IPAllowListConfig | grep '^Enabled'
Enabled             : False
$ edgectl Set-IPAllowListConfig -Other x
! edgectl: Set-IPAllowListConfig: there is no parameter -Other; 'edgectl Get-Help Set-IPAllowListConfig' lists them
[exit 2]
$ edgectl Get-TransportConfig
Identity                   : TransportConfig
TLSSendDomainSecureList    : 
InternalSMTPServers        : 
TLSReceiveDomainSecureList : 
MaxReceiveSize             : 10MB
MaxSendSize                : 10MB
MaxRecipientEnvelopeLimit  : 5000
GenerateCopyOfDSNFor       : 5.4.8, 5.4.6, 5.4.4, 5.2.4, 5.2.0, 5.1.4
$ edgectl Set-TransportConfig -InternalSMTPServers 10.0.0.0/8,192.0.2.5
$ edgectl Get-TransportConfig
Identity                   : TransportConfig
TLSSendDomainSecureList    : 
InternalSMTPServers        : 10.0.0.0/8, 192.0.2.5
TLSReceiveDomainSecureList : 
MaxReceiveSize             : 10MB
MaxSendSize                : 10MB
MaxRecipientEnvelopeLimit  : 5000
GenerateCopyOfDSNFor       : 5.4.8, 5.4.6, 5.4.4, 5.2.4, 5.2.0, 5.1.4
$ edgectl Set-TransportConfig -InternalSMTPServers nope
! edgectl: Set-TransportConfig: -InternalSMTPServers: 'nope' is not valid; expected an IP address, a range such as 192.0.2.1-192.0.2.9 or a CIDR block such as 192.0.2.0/24: expected an IPv4 address of four decimal parts 0..255 without leading zeros, such as 192.0.2.1, not 'nope'
[exit 1]
$ edgectl Set-TransportConfig -InternalSMTPServers 10.0.0.5-10.0.0.1
! edgectl: Set-TransportConfig: -InternalSMTPServers: '10.0.0.5-10.0.0.1' is not valid; expected the first address of a range not to exceed the last, not '10.0.0.5-10.0.0.1'
[exit 1]
$ edgectl Get-TransportConfig | grep InternalSMTPServers
InternalSMTPServers        : 10.0.0.0/8, 192.0.2.5
