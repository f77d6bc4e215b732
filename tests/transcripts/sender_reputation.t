# Sender Reputation (issue 17): the Protocol Analysis agent's configuration, one object,
# Exchange's names and defaults; ours: MaxTrackedAddresses, ReputationFlushInterval.
$ edgectl Get-SenderReputationConfig
Identity                  : SenderReputationConfig
Enabled                   : True
ExternalMailEnabled       : True
InternalMailEnabled       : False
SrlBlockThreshold         : 7
SenderBlockingEnabled     : True
SenderBlockingPeriod      : 24
OpenProxyDetectionEnabled : False
MaxTrackedAddresses       : 100000
ReputationFlushInterval   : 00:00:05
$ edgectl Set-SenderReputationConfig -SrlBlockThreshold 6 -SenderBlockingPeriod 48 -MaxTrackedAddresses 5000
$ edgectl Get-SenderReputationConfig | grep -E '^(SrlBlockThreshold|SenderBlockingPeriod|MaxTrackedAddresses) '
SrlBlockThreshold         : 6
SenderBlockingPeriod      : 48
MaxTrackedAddresses       : 5000
# Bad input; nothing changes.
$ edgectl Set-SenderReputationConfig -SrlBlockThreshold 10
! edgectl: Set-SenderReputationConfig: -SrlBlockThreshold: '10' is not valid; expected a whole number from 0 to 9
[exit 1]
$ edgectl Set-SenderReputationConfig -SenderBlockingPeriod 49
! edgectl: Set-SenderReputationConfig: -SenderBlockingPeriod: '49' is not valid; expected a whole number from 0 to 48
[exit 1]
$ edgectl Set-SenderReputationConfig -OpenProxyDetectionEnabled '$true'
! edgectl: Set-SenderReputationConfig: -OpenProxyDetectionEnabled $true is not supported on this server (it has no open proxy test)
[exit 1]
$ edgectl Set-SenderReputationConfig -MaxTrackedAddresses 0
! edgectl: Set-SenderReputationConfig: -MaxTrackedAddresses: '0' is not valid; expected a whole number from 1 to 10000000
[exit 1]
$ edgectl Set-SenderReputationConfig Other -Enabled '$false'
! edgectl: Set-SenderReputationConfig: there is one SenderReputationConfig, named SenderReputationConfig; not 'Other'
[exit 1]
$ edgectl Get-SenderReputationConfig | grep -E '^(SrlBlockThreshold|SenderBlockingPeriod|OpenProxyDetectionEnabled) '
SrlBlockThreshold         : 6
SenderBlockingPeriod      : 48
OpenProxyDetectionEnabled : False
# Get-SenderReputation reads what the agent stored of one address.
$ edgectl Get-SenderReputation -IPAddress 192.0.2.1
! edgectl: Get-SenderReputation: no sender reputation for 192.0.2.1: the edge has not seen it (or forgot it)
[exit 1]
$ edgectl Get-SenderReputation -IPAddress not-an-address
! edgectl: Get-SenderReputation: -IPAddress: expected an IPv4 address of four decimal parts 0..255 without leading zeros, such as 192.0.2.1, not 'not-an-address'
[exit 1]
$ edgectl Get-SenderReputation
! edgectl: Get-SenderReputation: which address? give -IPAddress (for example 192.0.2.1 or 2001:db8::1)
[exit 2]
