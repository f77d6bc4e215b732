# The Connection Filtering Agent's IP Block List and IP Allow List (issue 17): entries
# numbered max + 1, an address, a CIDR block or a range a-b, IPv4 or IPv6; ExpirationTime
# in UTC. Empty at first.
$ edgectl Get-IPBlockListEntry
$ edgectl Add-IPBlockListEntry -IPAddress 192.0.2.1 -Comment 'one host'
Identity IPRange   ExpirationTime Comment
-------- -------   -------------- -------
       1 192.0.2.1                one host
# Host bits of a CIDR block are dropped, and said.
$ edgectl Add-IPBlockListEntry -IPRange 198.51.100.7/24
! edgectl: Add-IPBlockListEntry: host bits of 198.51.100.7/24 are ignored: stored as 198.51.100.0/24
Identity IPRange         ExpirationTime Comment
-------- -------         -------------- -------
       2 198.51.100.0/24
$ edgectl Add-IPBlockListEntry -IPRange 2001:db8::1-2001:db8::ff -ExpirationTime 2030-01-01T00:00:00Z
Identity IPRange                  ExpirationTime      Comment
-------- -------                  --------------      -------
       3 2001:db8::1-2001:db8::ff 2030-01-01 00:00:00
$ edgectl Get-IPBlockListEntry
Identity IPRange                  ExpirationTime      Comment
-------- -------                  --------------      -------
       1 192.0.2.1                                    one host
       2 198.51.100.0/24
       3 2001:db8::1-2001:db8::ff 2030-01-01 00:00:00
# -IPAddress finds the entries that hold an address.
$ edgectl Get-IPBlockListEntry -IPAddress 198.51.100.9
Identity IPRange         ExpirationTime Comment
-------- -------         -------------- -------
       2 198.51.100.0/24
$ edgectl Get-IPBlockListEntry 2 -Format List
Identity       : 2
IPRange        : 198.51.100.0/24
ExpirationTime : 
Comment        : 
IsMachine      : False
# Bad input: a clear error, nothing written.
$ edgectl Add-IPBlockListEntry -IPAddress 192.0.2.300
! edgectl: Add-IPBlockListEntry: -IPAddress: '192.0.2.300' is not an IP address: expected an IPv4 address of four decimal parts 0..255 without leading zeros, such as 192.0.2.1, not '192.0.2.300'
[exit 1]
$ edgectl Add-IPBlockListEntry -IPRange 192.0.2.9-192.0.2.1
! edgectl: Add-IPBlockListEntry: -IPRange: expected the first address of a range not to exceed the last, not '192.0.2.9-192.0.2.1'
[exit 1]
$ edgectl Add-IPBlockListEntry -IPRange 192.0.2.1-2001:db8::1
! edgectl: Add-IPBlockListEntry: -IPRange: expected both ends of a range in the same family (IPv4 or IPv6), not '192.0.2.1-2001:db8::1'
[exit 1]
$ edgectl Add-IPBlockListEntry -IPRange 10.0.0.0/33
! edgectl: Add-IPBlockListEntry: -IPRange: expected a prefix length from 0 to 32 after '/', not '10.0.0.0/33'
[exit 1]
$ edgectl Add-IPBlockListEntry -IPAddress 192.0.2.1 -ExpirationTime 2020-01-01T00:00:00Z
! edgectl: Add-IPBlockListEntry: -ExpirationTime: 2020-01-01T00:00:00Z is in the past; expected a time after now ({*})
[exit 1]
$ edgectl Add-IPBlockListEntry -IPAddress 192.0.2.1 -ExpirationTime tomorrow
! edgectl: Add-IPBlockListEntry: -ExpirationTime: 'tomorrow' is not a time; expected 2026-11-23, 2026-11-23 14:05:00 or 11/23/2026 2:05 PM
[exit 2]
$ edgectl Add-IPBlockListEntry -IPAddress 192.0.2.1 -IPRange 192.0.2.2
! edgectl: Add-IPBlockListEntry: give either -IPAddress (one address) or -IPRange (an address, a range a-b or a CIDR block), not both
[exit 2]
$ edgectl Remove-IPBlockListEntry 9
! edgectl: Remove-IPBlockListEntry: no IPBlockListEntry with Identity 9; 'edgectl Get-IPBlockListEntry' lists them
[exit 1]
$ edgectl Remove-IPBlockListEntry abc
! edgectl: Remove-IPBlockListEntry: -Identity: 'abc' is not an Identity; expected a whole number from 1 ('edgectl Get-IPBlockListEntry' lists them)
[exit 2]
$ edgectl Get-IPBlockListEntry -Identity 1 -IPAddress 192.0.2.1
! edgectl: Get-IPBlockListEntry: give -Identity or -IPAddress, not both
[exit 2]
$ edgectl Get-IPBlockListEntry | grep -c '^ *[0-9]'
3
# Remove; an Identity is not given again while a larger one exists.
$ edgectl Remove-IPBlockListEntry 1
$ edgectl Get-IPBlockListEntry 1
! edgectl: Get-IPBlockListEntry: no IPBlockListEntry with Identity 1; 'edgectl Get-IPBlockListEntry' lists them
[exit 1]
$ edgectl Add-IPBlockListEntry -IPAddress 192.0.2.1 | grep -o '^ *[0-9]*'
       4
# The IP Allow List: the same cmdlets, its own numbering.
$ edgectl Add-IPAllowListEntry -IPAddress ::1 -Comment 'loopback'
Identity IPRange ExpirationTime Comment
-------- ------- -------------- -------
       1 ::1                    loopback
$ edgectl Get-IPAllowListEntry -IPAddress ::1 -Json | python3 -c 'import json,sys; e=json.load(sys.stdin)[0]; print(e["Identity"], e["IPRange"], e["IsMachine"])'
1 ::1 False
$ edgectl Add-IPAllowListEntry
! edgectl: Add-IPAllowListEntry: give either -IPAddress (one address) or -IPRange (an address, a range a-b or a CIDR block), not both
[exit 2]
$ edgectl Remove-IPAllowListEntry
! edgectl: Remove-IPAllowListEntry: which IPAllowListEntry? give its Identity (a number; 'edgectl Get-IPAllowListEntry' lists them)
[exit 2]
$ edgectl Remove-IPAllowListEntry 1
$ edgectl Get-IPAllowListEntry
