# IP Block List providers (DNSBL) and IP Allow List providers (DNSWL), issue 17:
# Exchange's cmdlets, plus Weight (per provider) and Threshold / LookupTimeout (the
# configuration), as postscreen users know them. Priority stays 1..N: Add- puts a
# provider last (or where -Priority says), Set- moves it and the others close up.
$ edgectl Get-IPBlockListProvidersConfig
$ edgectl Add-IPBlockListProvider Zen -LookupDomain zen.spamhaus.org -IPAddressesMatch 127.0.0.2,127.0.0.4 -RejectionResponse 'Listed at Spamhaus ZEN'
$ edgectl Add-IPBlockListProvider -Name Barracuda -LookupDomain b.barracudacentral.org
$ edgectl Get-IPBlockListProvider
$ edgectl Get-IPBlockListProvider zen -Format List
# -Priority 1 puts a new one first; the others move down.
$ edgectl Add-IPBlockListProvider SpamCop -LookupDomain bl.spamcop.net -BitmaskMatch 127.0.0.2 -Priority 1
$ edgectl Get-IPBlockListProvider
$ edgectl Set-IPBlockListProvider SpamCop -Priority 3
$ edgectl Get-IPBlockListProvider
# Weights: two weak lists block together, one alone does not. Without -Weight a new
# provider weighs the Threshold, so it blocks alone, as in Exchange.
$ edgectl Set-IPBlockListProvidersConfig -Threshold 2 -LookupTimeout 00:00:03 -BypassedRecipients postmaster@contoso.com
$ edgectl Set-IPBlockListProvider Zen -Weight 1
$ edgectl Set-IPBlockListProvider Barracuda -Weight 1
$ edgectl Add-IPBlockListProvider Strong -LookupDomain strong.example.test
$ edgectl Get-IPBlockListProvider
$ edgectl Get-IPBlockListProvidersConfig
# Rename, disable, remove: the others close up.
$ edgectl Set-IPBlockListProvider Barracuda -Name BRBL -Enabled '$false'
$ edgectl Remove-IPBlockListProvider Zen
$ edgectl Get-IPBlockListProvider
$ edgectl Get-IPBlockListProvider -Json | python3 -c 'import json,sys; print([(p["Identity"], p["Priority"], p["Weight"], p["Enabled"]) for p in json.load(sys.stdin)])'
# The allow-list side.
$ edgectl Add-IPAllowListProvider DNSWL -LookupDomain list.dnswl.org -BitmaskMatch 127.0.0.2
$ edgectl Add-IPAllowListProvider Local -LookupDomain wl.example.test -AnyMatch '$true' -Priority 1
$ edgectl Get-IPAllowListProvider
$ edgectl Get-IPAllowListProvider DNSWL -Format List
$ edgectl Set-IPAllowListProvidersConfig -InternalMailEnabled '$true'
$ edgectl Get-IPAllowListProvidersConfig
$ edgectl Remove-IPAllowListProvider Local
$ edgectl Get-IPAllowListProvider
# Bad input; nothing changes.
$ edgectl Set-IPBlockListProvider Nobody -Enabled '$false'
$ edgectl Remove-IPBlockListProvider Nobody
$ edgectl Test-IPBlockListProvider Nobody -IPAddress 127.0.0.2
$ edgectl Add-IPBlockListProvider Bad -LookupDomain 'not a domain'
$ edgectl Add-IPBlockListProvider Bad
$ edgectl Add-IPBlockListProvider Bad -LookupDomain bad.test -BitmaskMatch 10.0.0.4
$ edgectl Add-IPBlockListProvider Bad -LookupDomain bad.test -BitmaskMatch 127.0.0
$ edgectl Add-IPBlockListProvider Bad -LookupDomain bad.test -IPAddressesMatch 127.0.0.2,192.0.2.1
$ edgectl Add-IPBlockListProvider Bad -LookupDomain bad.test -Weight 0
$ edgectl Add-IPBlockListProvider Bad -LookupDomain bad.test -Priority 9
$ edgectl Add-IPBlockListProvider Bad -LookupDomain bad.test -RejectionResponse "$(python3 -c 'print("x"*241)')"
$ edgectl Add-IPBlockListProvider strong -LookupDomain other.test
$ edgectl Set-IPBlockListProvider Strong -Priority 0
$ edgectl Set-IPBlockListProvider Strong -Priority first
$ edgectl Set-IPBlockListProvidersConfig -Threshold 0
$ edgectl Set-IPBlockListProvidersConfig -LookupTimeout 00:05:00
$ edgectl Set-IPBlockListProvidersConfig -BypassedRecipients 'not an address'
$ edgectl Test-IPBlockListProvider Strong -IPAddress 300.1.2.3
$ edgectl Test-IPBlockListProvider Strong
$ edgectl Add-IPAllowListProvider Bad -LookupDomain bad.test -RejectionResponse 'no such thing'
$ edgectl Get-IPBlockListProvider
