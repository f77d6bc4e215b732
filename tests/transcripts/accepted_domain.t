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
