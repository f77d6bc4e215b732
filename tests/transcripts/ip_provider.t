# IP Block List providers (DNSBL) and IP Allow List providers (DNSWL), issue 17:
# Exchange's cmdlets, plus Weight (per provider) and Threshold / LookupTimeout (the
# configuration), as postscreen users know them. Priority stays 1..N: Add- puts a
# provider last (or where -Priority says), Set- moves it and the others close up.
$ edgectl Get-IPBlockListProvidersConfig
Identity            : IPBlockListProvidersConfig
Enabled             : True
ExternalMailEnabled : True
InternalMailEnabled : False
BypassedRecipients  : 
Threshold           : 1
LookupTimeout       : 00:00:05
$ edgectl Add-IPBlockListProvider Zen -LookupDomain zen.spamhaus.org -IPAddressesMatch 127.0.0.2,127.0.0.4 -RejectionResponse 'Listed at Spamhaus ZEN'
$ edgectl Add-IPBlockListProvider -Name Barracuda -LookupDomain b.barracudacentral.org
$ edgectl Get-IPBlockListProvider
Identity  LookupDomain           Priority Weight Enabled
--------  ------------           -------- ------ -------
Zen       zen.spamhaus.org              1      1 True
Barracuda b.barracudacentral.org        2      1 True
$ edgectl Get-IPBlockListProvider zen -Format List
Identity          : Zen
Name              : Zen
LookupDomain      : zen.spamhaus.org
AnyMatch          : False
BitmaskMatch      : 
IPAddressesMatch  : 127.0.0.2, 127.0.0.4
Priority          : 1
RejectionResponse : Listed at Spamhaus ZEN
Enabled           : True
Weight            : 1
# -Priority 1 puts a new one first; the others move down.
$ edgectl Add-IPBlockListProvider SpamCop -LookupDomain bl.spamcop.net -BitmaskMatch 127.0.0.2 -Priority 1
$ edgectl Get-IPBlockListProvider
Identity  LookupDomain           Priority Weight Enabled
--------  ------------           -------- ------ -------
SpamCop   bl.spamcop.net                1      1 True
Zen       zen.spamhaus.org              2      1 True
Barracuda b.barracudacentral.org        3      1 True
$ edgectl Set-IPBlockListProvider SpamCop -Priority 3
$ edgectl Get-IPBlockListProvider
Identity  LookupDomain           Priority Weight Enabled
--------  ------------           -------- ------ -------
Zen       zen.spamhaus.org              1      1 True
Barracuda b.barracudacentral.org        2      1 True
SpamCop   bl.spamcop.net                3      1 True
# Weights: two weak lists block together, one alone does not. Without -Weight a new
# provider weighs the Threshold, so it blocks alone, as in Exchange.
$ edgectl Set-IPBlockListProvidersConfig -Threshold 2 -LookupTimeout 00:00:03 -BypassedRecipients postmaster@contoso.com
$ edgectl Set-IPBlockListProvider Zen -Weight 1
$ edgectl Set-IPBlockListProvider Barracuda -Weight 1
$ edgectl Add-IPBlockListProvider Strong -LookupDomain strong.example.test
$ edgectl Get-IPBlockListProvider
Identity  LookupDomain           Priority Weight Enabled
--------  ------------           -------- ------ -------
Zen       zen.spamhaus.org              1      1 True
Barracuda b.barracudacentral.org        2      1 True
SpamCop   bl.spamcop.net                3      1 True
Strong    strong.example.test           4      2 True
$ edgectl Get-IPBlockListProvidersConfig
Identity            : IPBlockListProvidersConfig
Enabled             : True
ExternalMailEnabled : True
InternalMailEnabled : False
BypassedRecipients  : postmaster@contoso.com
Threshold           : 2
LookupTimeout       : 00:00:03
# Rename, disable, remove: the others close up.
$ edgectl Set-IPBlockListProvider Barracuda -Name BRBL -Enabled '$false'
$ edgectl Remove-IPBlockListProvider Zen
$ edgectl Get-IPBlockListProvider
Identity LookupDomain           Priority Weight Enabled
-------- ------------           -------- ------ -------
BRBL     b.barracudacentral.org        1      1 False
SpamCop  bl.spamcop.net                2      1 True
Strong   strong.example.test           3      2 True
$ edgectl Get-IPBlockListProvider -Json | python3 -c 'import json,sys; print([(p["Identity"], p["Priority"], p["Weight"], p["Enabled"]) for p in json.load(sys.stdin)])'
[('BRBL', 1, 1, False), ('SpamCop', 2, 1, True), ('Strong', 3, 2, True)]
# The allow-list side.
$ edgectl Add-IPAllowListProvider DNSWL -LookupDomain list.dnswl.org -BitmaskMatch 127.0.0.2
$ edgectl Add-IPAllowListProvider Local -LookupDomain wl.example.test -AnyMatch '$true' -Priority 1
$ edgectl Get-IPAllowListProvider
Identity LookupDomain    Priority Enabled
-------- ------------    -------- -------
Local    wl.example.test        1 True
DNSWL    list.dnswl.org         2 True
$ edgectl Get-IPAllowListProvider DNSWL -Format List
Identity         : DNSWL
Name             : DNSWL
LookupDomain     : list.dnswl.org
AnyMatch         : False
BitmaskMatch     : 127.0.0.2
IPAddressesMatch : 
Priority         : 2
Enabled          : True
$ edgectl Set-IPAllowListProvidersConfig -InternalMailEnabled '$true'
$ edgectl Get-IPAllowListProvidersConfig
Identity            : IPAllowListProvidersConfig
Enabled             : True
ExternalMailEnabled : True
InternalMailEnabled : True
$ edgectl Remove-IPAllowListProvider Local
$ edgectl Get-IPAllowListProvider
Identity LookupDomain   Priority Enabled
-------- ------------   -------- -------
DNSWL    list.dnswl.org        1 True
# Bad input; nothing changes.
$ edgectl Set-IPBlockListProvider Nobody -Enabled '$false'
! edgectl: Set-IPBlockListProvider: no IPBlockListProvider named 'Nobody'; 'edgectl Get-IPBlockListProvider' lists them
[exit 1]
$ edgectl Remove-IPBlockListProvider Nobody
! edgectl: Remove-IPBlockListProvider: no IPBlockListProvider named 'Nobody'; 'edgectl Get-IPBlockListProvider' lists them
[exit 1]
$ edgectl Test-IPBlockListProvider Nobody -IPAddress 127.0.0.2
! edgectl: Test-IPBlockListProvider: no IPBlockListProvider named 'Nobody'; 'edgectl Get-IPBlockListProvider' lists them
[exit 1]
$ edgectl Add-IPBlockListProvider Bad -LookupDomain 'not a domain'
! edgectl: Add-IPBlockListProvider: -LookupDomain: 'not a domain' is not valid; expected only letters, digits and hyphens in the labels of 'not a domain'
[exit 1]
$ edgectl Add-IPBlockListProvider Bad
! edgectl: Add-IPBlockListProvider: -LookupDomain is required (The list's DNS zone: the client's reversed address is asked under it (zen.spamhaus.org))
[exit 2]
$ edgectl Add-IPBlockListProvider Bad -LookupDomain bad.test -BitmaskMatch 10.0.0.4
! edgectl: Add-IPBlockListProvider: -BitmaskMatch: '10.0.0.4' is not valid; expected an IPv4 address in 127.0.0.0/8 such as 127.0.0.4
[exit 1]
$ edgectl Add-IPBlockListProvider Bad -LookupDomain bad.test -BitmaskMatch 127.0.0
! edgectl: Add-IPBlockListProvider: -BitmaskMatch: '127.0.0' is not valid; expected an IP address such as 192.0.2.1 or 2001:db8::1
[exit 1]
$ edgectl Add-IPBlockListProvider Bad -LookupDomain bad.test -IPAddressesMatch 127.0.0.2,192.0.2.1
! edgectl: Add-IPBlockListProvider: -IPAddressesMatch: '192.0.2.1' is not valid; expected IPv4 addresses in 127.0.0.0/8 such as 127.0.0.2
[exit 1]
$ edgectl Add-IPBlockListProvider Bad -LookupDomain bad.test -Weight 0
! edgectl: Add-IPBlockListProvider: -Weight: '0' is not valid; expected a whole number from 1 to 100
[exit 1]
$ edgectl Add-IPBlockListProvider Bad -LookupDomain bad.test -Priority 9
! edgectl: Add-IPBlockListProvider: -Priority: 9 is out of range; expected 1 to 4 (the providers' places, 1 asked first)
[exit 1]
$ edgectl Add-IPBlockListProvider Bad -LookupDomain bad.test -RejectionResponse "$(python3 -c 'print("x"*241)')"
! edgectl: Add-IPBlockListProvider: -RejectionResponse: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' is not valid; expected at most 240 characters
[exit 1]
$ edgectl Add-IPBlockListProvider strong -LookupDomain other.test
! edgectl: Add-IPBlockListProvider: -Name: an IPBlockListProvider named 'Strong' already exists
[exit 1]
$ edgectl Set-IPBlockListProvider Strong -Priority 0
! edgectl: Set-IPBlockListProvider: -Priority: 0 is out of range; expected 1 to 3 (the providers' places, 1 asked first)
[exit 1]
$ edgectl Set-IPBlockListProvider Strong -Priority first
! edgectl: Set-IPBlockListProvider: -Priority: 'first' is not a whole number
[exit 2]
$ edgectl Set-IPBlockListProvidersConfig -Threshold 0
! edgectl: Set-IPBlockListProvidersConfig: -Threshold: '0' is not valid; expected a whole number from 1 to 100
[exit 1]
$ edgectl Set-IPBlockListProvidersConfig -LookupTimeout 00:05:00
! edgectl: Set-IPBlockListProvidersConfig: -LookupTimeout: '00:05:00' is not valid; expected a time span [d.]hh:mm:ss from 00:00:01 to 00:01:00
[exit 1]
$ edgectl Set-IPBlockListProvidersConfig -BypassedRecipients 'not an address'
! edgectl: Set-IPBlockListProvidersConfig: -BypassedRecipients: 'not an address' is not valid; expected an e-mail address such as postmaster@contoso.com
[exit 1]
$ edgectl Test-IPBlockListProvider Strong -IPAddress 300.1.2.3
! edgectl: Test-IPBlockListProvider: -IPAddress: '300.1.2.3' is not valid; expected an IP address such as 192.0.2.1 or 2001:db8::1
[exit 1]
$ edgectl Test-IPBlockListProvider Strong
! edgectl: Test-IPBlockListProvider: which address? give -IPAddress (192.0.2.1 or 2001:db8::1)
[exit 2]
$ edgectl Add-IPAllowListProvider Bad -LookupDomain bad.test -RejectionResponse 'no such thing'
! edgectl: Add-IPAllowListProvider: there is no parameter -RejectionResponse; 'edgectl Get-Help Add-IPAllowListProvider' lists them
[exit 2]
$ edgectl Get-IPBlockListProvider
Identity LookupDomain           Priority Weight Enabled
-------- ------------           -------- ------ -------
BRBL     b.barracudacentral.org        1      1 False
SpamCop  bl.spamcop.net                2      1 True
Strong   strong.example.test           3      2 True
