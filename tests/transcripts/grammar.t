# The command line, PowerShell's way. Verbs, nouns and parameters are case-insensitive.
$ edgectl new-accepteddomain Contoso -domainname contoso.com
$ edgectl GET-ACCEPTEDDOMAIN
Name    DomainName  DomainType    Default
----    ----------  ----------    -------
Contoso contoso.com Authoritative False
# A parameter may be shortened to any unambiguous prefix ...
$ edgectl Set-AcceptedDomain Contoso -DomainT InternalRelay
$ edgectl Get-AcceptedDomain Contoso -Fo List
Identity   : Contoso
Name       : Contoso
DomainName : contoso.com
DomainType : InternalRelay
Default    : False
# ... but not to an ambiguous one, and the error names the candidates.
$ edgectl Set-AcceptedDomain Contoso -D x
! edgectl: Set-AcceptedDomain: -D is ambiguous: it could be -DomainName, -DomainType, -Default
[exit 2]
# -Name:value is one word.
$ edgectl Set-AcceptedDomain Contoso -DomainType:Authoritative
$ edgectl Get-AcceptedDomain -Filter "DomainType -eq 'Authoritative'"
Name    DomainName  DomainType    Default
----    ----------  ----------    -------
Contoso contoso.com Authoritative False
# Lists: as the shell hands over "SMTP:*;1","contoso.com", or spread over words.
$ edgectl New-SendConnector Out -AddressSpaces "SMTP:*;1","contoso.com"
$ edgectl New-SendConnector Two -AddressSpaces a.test, b.test -DNSRoutingEnabled '$false' -SmartHosts 127.0.0.1
$ edgectl Get-SendConnector
Identity AddressSpaces                Enabled
-------- -------------                -------
Out      SMTP:*;1, SMTP:contoso.com;1 True
Two      SMTP:a.test;1, SMTP:b.test;1 True
$ edgectl New-ReceiveConnector Pair -Bindings 0.0.0.0:2526,[::]:2526 -RemoteIPRanges 127.0.0.2,10.0.0.0/8,192.168.1.1-192.168.1.9
$ edgectl Get-ReceiveConnector Pair -Format List | grep -E '^(Bindings|RemoteIPRanges) '
Bindings                                : 0.0.0.0:2526, [::]:2526
RemoteIPRanges                          : 127.0.0.2, 10.0.0.0/8, 192.168.1.1-192.168.1.9
# Booleans: '$true' / '$false' (quoted: bash expands $true to nothing), or true / false.
$ edgectl Set-SendConnector Two -Enabled false
$ edgectl Set-SendConnector Two -Enabled '$TRUE'
$ edgectl Set-SendConnector Two -Enabled $false
! edgectl: Set-SendConnector: -Enabled needs a value; write '$true' or '$false' in quotes (bash expands an unquoted $true to nothing), or true / false
[exit 2]
$ edgectl Set-SendConnector Two -Enabled maybe
! edgectl: Set-SendConnector: -Enabled: 'maybe' is not valid; expected $true or $false
[exit 1]
# Sizes and time spans.
$ edgectl Set-SendConnector Two -MaxMessageSize 10MB -ConnectionInactivityTimeOut 1.00:00:00
$ edgectl Get-SendConnector Two -Format List | grep -E '^(MaxMessageSize|ConnectionInactivityTimeOut) '
MaxMessageSize               : 10MB
ConnectionInactivityTimeOut  : 1.00:00:00
$ edgectl Set-SendConnector Two -MaxMessageSize 10XB
! edgectl: Set-SendConnector: -MaxMessageSize: '10XB' is not valid; expected a size such as 10MB, 500KB or 65536 bytes, from 0 to 2147483647, or unlimited
[exit 1]
$ edgectl Set-SendConnector Two -ConnectionInactivityTimeOut 25:99:00
! edgectl: Set-SendConnector: -ConnectionInactivityTimeOut: '25:99:00' is not valid; expected a time span [d.]hh:mm:ss from 00:00:01 to 1.00:00:00
[exit 1]
# Usage errors exit 2.
$ edgectl Set-SendConnector Two -Bogus 1
! edgectl: Set-SendConnector: there is no parameter -Bogus; 'edgectl Get-Help Set-SendConnector' lists them
[exit 2]
$ edgectl Set-SendConnector Two -Port
! edgectl: Set-SendConnector: -Port needs a value (Int32)
[exit 2]
$ edgectl Set-SendConnector Two -Port 26 -Port 27
! edgectl: Set-SendConnector: -Port is given twice
[exit 2]
$ edgectl Get-SendConnector Two extra
! edgectl: Get-SendConnector: unexpected argument 'extra'
[exit 2]
$ edgectl Get-Nothing
! edgectl: there is no cmdlet 'Get-Nothing'; 'edgectl help' lists them
[exit 2]
$ edgectl Get-SendConnector -Format Wide
! edgectl: Get-SendConnector: -Format: 'Wide' is not valid; expected Table or List
[exit 2]
