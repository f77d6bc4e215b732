# Address rewriting (issue 19, reference §9.8): the seed's masquerade — internal
# user@corp.contoso.local leaves as user@contoso.com — with one subdomain left alone, one
# address of its own, and a domain rewritten both ways.
$ edgectl New-AddressRewriteEntry -Name Masquerade -InternalAddress '*.contoso.local' -ExternalAddress contoso.com -OutboundOnly '$true' -ExceptionList lab.contoso.local
$ edgectl New-AddressRewriteEntry "CEO" -InternalAddress ceo@corp.contoso.local -ExternalAddress chief@contoso.com
! edgectl: New-AddressRewriteEntry: inbound mail to chief@contoso.com is rewritten to ceo@corp.contoso.local, whose domain corp.contoso.local is not an accepted domain here: it would be routed like mail to the internet; add it with New-AcceptedDomain, or set -OutboundOnly $true
$ edgectl New-AcceptedDomain -Name Fabrikam -DomainName fabrikam.local
$ edgectl New-AddressRewriteEntry Fabrikam -InternalAddress fabrikam.local -ExternalAddress Fabrikam.COM
$ edgectl Get-AddressRewriteEntry
Identity   InternalAddress        ExternalAddress   OutboundOnly
--------   ---------------        ---------------   ------------
CEO        ceo@corp.contoso.local chief@contoso.com False
Fabrikam   fabrikam.local         Fabrikam.COM      False
Masquerade *.contoso.local        contoso.com       True
$ edgectl Get-AddressRewriteEntry Masquerade -Format List
Identity        : Masquerade
Name            : Masquerade
InternalAddress : *.contoso.local
ExternalAddress : contoso.com
ExceptionList   : lab.contoso.local
OutboundOnly    : True
$ edgectl Set-AddressRewriteEntry Masquerade -ExceptionList lab.contoso.local,test.lab.contoso.local
$ edgectl Get-AddressRewriteEntry Masquerade -Json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["ExceptionList"])'
['lab.contoso.local', 'test.lab.contoso.local']
# What Exchange refuses is refused here, with the reason; nothing changes.
$ edgectl New-AddressRewriteEntry Wild -InternalAddress '*.fabrikam.local' -ExternalAddress fabrikam.com
! edgectl: New-AddressRewriteEntry: -InternalAddress *.fabrikam.local needs -OutboundOnly $true: inbound mail to fabrikam.com cannot be rewritten back to one of many subdomains
[exit 1]
$ edgectl New-AddressRewriteEntry Wild -InternalAddress '*.fabrikam.local' -ExternalAddress fabrikam.com -OutboundOnly '$true' -ExceptionList other.test
! edgectl: New-AddressRewriteEntry: -ExceptionList: other.test is not a subdomain of fabrikam.local
[exit 1]
$ edgectl New-AddressRewriteEntry Wild -InternalAddress fabrikam.local -ExternalAddress fabrikam.com -ExceptionList a.fabrikam.local
! edgectl: New-AddressRewriteEntry: -ExceptionList is allowed only when -InternalAddress is a wildcard (*.domain)
[exit 1]
$ edgectl New-AddressRewriteEntry Wild -InternalAddress '*.fabrikam.local' -ExternalAddress '*.fabrikam.com' -OutboundOnly '$true'
! edgectl: New-AddressRewriteEntry: -ExternalAddress: '*.fabrikam.com' is not valid; a wildcard is allowed only in -InternalAddress; expected a domain or an address
[exit 1]
$ edgectl New-AddressRewriteEntry Wild -InternalAddress someone@fabrikam.local -ExternalAddress fabrikam.com
! edgectl: New-AddressRewriteEntry: -ExternalAddress: expected an e-mail address, as -InternalAddress is one (one address is rewritten to one address)
[exit 1]
$ edgectl New-AddressRewriteEntry Wild -InternalAddress 'bad..domain' -ExternalAddress fabrikam.com
! edgectl: New-AddressRewriteEntry: -InternalAddress: 'bad..domain' is not valid; expected no empty label (two dots together, or a leading dot) in 'bad..domain' (an address such as david@contoso.com, a domain such as contoso.com, or *.contoso.com)
[exit 1]
$ edgectl New-AddressRewriteEntry Wild -InternalAddress fabrikam.local
! edgectl: New-AddressRewriteEntry: -ExternalAddress is required (What the world sees: an address when InternalAddress is one, else a domain)
[exit 2]
$ edgectl New-AddressRewriteEntry CEO -InternalAddress a@fabrikam.local -ExternalAddress b@fabrikam.com
! edgectl: New-AddressRewriteEntry: -Name: an AddressRewriteEntry named 'CEO' already exists
[exit 1]
$ edgectl Set-AddressRewriteEntry Masquerade -OutboundOnly '$false'
! edgectl: Set-AddressRewriteEntry: -InternalAddress *.contoso.local needs -OutboundOnly $true: inbound mail to contoso.com cannot be rewritten back to one of many subdomains
[exit 1]
$ edgectl Set-AddressRewriteEntry Nope -OutboundOnly '$true'
! edgectl: Set-AddressRewriteEntry: no AddressRewriteEntry named 'Nope'; 'edgectl Get-AddressRewriteEntry' lists them
[exit 1]
$ edgectl Remove-AddressRewriteEntry CEO
$ edgectl Get-AddressRewriteEntry
Identity   InternalAddress ExternalAddress OutboundOnly
--------   --------------- --------------- ------------
Fabrikam   fabrikam.local  Fabrikam.COM    False
Masquerade *.contoso.local contoso.com     True
