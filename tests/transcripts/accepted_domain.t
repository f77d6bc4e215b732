# Accepted domains: the domains this edge takes mail for.
$ edgectl Get-AcceptedDomain
$ edgectl New-AcceptedDomain Contoso -DomainName contoso.com -DomainType Authoritative -Default '$true'
$ edgectl New-AcceptedDomain Fabrikam -DomainName *.fabrikam.com -DomainType ExternalRelay
$ edgectl Get-AcceptedDomain
Name     DomainName     DomainType    Default
----     ----------     ----------    -------
Contoso  contoso.com    Authoritative True
Fabrikam *.fabrikam.com ExternalRelay False
# One default: making Fabrikam the default unsets Contoso's.
$ edgectl Set-AcceptedDomain Fabrikam -Default '$true'
$ edgectl Get-AcceptedDomain
Name     DomainName     DomainType    Default
----     ----------     ----------    -------
Contoso  contoso.com    Authoritative False
Fabrikam *.fabrikam.com ExternalRelay True
$ edgectl Get-AcceptedDomain Fabrikam -Format List
Identity   : Fabrikam
Name       : Fabrikam
DomainName : *.fabrikam.com
DomainType : ExternalRelay
Default    : True
# Bad input, one of each kind, and nothing changes.
$ edgectl New-AcceptedDomain Contoso -DomainName other.com
! edgectl: New-AcceptedDomain: -Name: an AcceptedDomain named 'Contoso' already exists
[exit 1]
$ edgectl New-AcceptedDomain Copy -DomainName CONTOSO.com
! edgectl: New-AcceptedDomain: -DomainName: the accepted domain 'Contoso' already has DomainName contoso.com
[exit 1]
$ edgectl New-AcceptedDomain Bad -DomainName 'not a domain'
! edgectl: New-AcceptedDomain: -DomainName: 'not a domain' is not valid; expected only letters, digits and hyphens in the labels of 'not a domain'
[exit 1]
$ edgectl New-AcceptedDomain Bad -DomainName bad.com -DomainType Sometimes
! edgectl: New-AcceptedDomain: -DomainType: 'Sometimes' is not valid; expected one of Authoritative,InternalRelay,ExternalRelay
[exit 1]
$ edgectl New-AcceptedDomain NoDomain
! edgectl: New-AcceptedDomain: -DomainName is required (contoso.com, or *.contoso.com for it and its subdomains)
[exit 2]
$ edgectl Set-AcceptedDomain Nobody -DomainType Authoritative
! edgectl: Set-AcceptedDomain: no AcceptedDomain named 'Nobody'; 'edgectl Get-AcceptedDomain' lists them
[exit 1]
$ edgectl Get-AcceptedDomain
Name     DomainName     DomainType    Default
----     ----------     ----------    -------
Contoso  contoso.com    Authoritative False
Fabrikam *.fabrikam.com ExternalRelay True
# Rename, then remove.
$ edgectl Set-AcceptedDomain Fabrikam -Name Fabrikam2
$ edgectl Remove-AcceptedDomain contoso -Confirm:$false
$ edgectl Get-AcceptedDomain
Name      DomainName     DomainType    Default
----      ----------     ----------    -------
Fabrikam2 *.fabrikam.com ExternalRelay True
$ edgectl Remove-AcceptedDomain Contoso
! edgectl: Remove-AcceptedDomain: no AcceptedDomain named 'Contoso'; 'edgectl Get-AcceptedDomain' lists them
[exit 1]
# Internationalised domains (IDNA2008, UTS #46): entered in U-labels or A-labels, stored and
# matched as A-labels, the form DNS and the canonical recipient address have.
$ edgectl New-AcceptedDomain Buecher -DomainName bücher.example
$ edgectl New-AcceptedDomain Muenchen -DomainName '*.MÜNCHEN.example' -DomainType InternalRelay
$ edgectl Get-AcceptedDomain Buecher -Format List
Identity   : Buecher
Name       : Buecher
DomainName : xn--bcher-kva.example
DomainType : Authoritative
Default    : False
# The same domain in its other spelling is a duplicate.
$ edgectl New-AcceptedDomain Copy -DomainName xn--bcher-kva.example
! edgectl: New-AcceptedDomain: -DomainName: the accepted domain 'Buecher' already has DomainName xn--bcher-kva.example
[exit 1]
# 'xn--invalid' looks wrong but is a valid A-label (five CJK ideographs), so it is taken.
$ edgectl New-AcceptedDomain Cjk -DomainName xn--invalid.example
# What IDNA2008 refuses, with libidn2's reason: bad Punycode, a disallowed character,
# Latin and Hebrew mixed in one label (the bidi rule, RFC 5893), an invisible joiner.
$ edgectl New-AcceptedDomain Bad -DomainName xn--zz.example
! edgectl: New-AcceptedDomain: -DomainName: 'xn--zz.example' is not valid; expected an internationalised domain name that IDNA2008 allows; libidn2 says: string contains invalid punycode data
[exit 1]
$ edgectl New-AcceptedDomain Bad -DomainName ☃.example
! edgectl: New-AcceptedDomain: -DomainName: '☃.example' is not valid; expected an internationalised domain name that IDNA2008 allows; libidn2 says: string contains a disallowed character
[exit 1]
$ edgectl New-AcceptedDomain Bad -DomainName aא.example
! edgectl: New-AcceptedDomain: -DomainName: 'aא.example' is not valid; expected an internationalised domain name that IDNA2008 allows; libidn2 says: string has forbidden bi-directional properties
[exit 1]
$ edgectl New-AcceptedDomain Bad -DomainName 'a‍b.example'
! edgectl: New-AcceptedDomain: -DomainName: 'a‍b.example' is not valid; expected an internationalised domain name that IDNA2008 allows; libidn2 says: string contains a forbidden context-j character
[exit 1]
$ edgectl Get-AcceptedDomain
Name      DomainName               DomainType    Default
----      ----------               ----------    -------
Buecher   xn--bcher-kva.example    Authoritative False
Cjk       xn--invalid.example      Authoritative False
Fabrikam2 *.fabrikam.com           ExternalRelay True
Muenchen  *.xn--mnchen-3ya.example InternalRelay False
