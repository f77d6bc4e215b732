# Who really sent it (issue 18). The Sender ID agent keeps Exchange's administration and
# defaults (StampStatus for both actions); DKIM verification and DMARC are ours.
$ edgectl Get-SenderIdConfig
Identity              : SenderIdConfig
Enabled               : True
ExternalMailEnabled   : True
InternalMailEnabled   : False
SpoofedDomainAction   : StampStatus
TempErrorAction       : StampStatus
BypassedRecipients    : 
BypassedSenderDomains : 
$ edgectl Set-SenderIdConfig -SpoofedDomainAction Reject -TempErrorAction Delete -BypassedSenderDomains Partner.Example -BypassedRecipients postmaster@contoso.com
$ edgectl Get-SenderIdConfig -Format List
Identity              : SenderIdConfig
Enabled               : True
ExternalMailEnabled   : True
InternalMailEnabled   : False
SpoofedDomainAction   : Reject
TempErrorAction       : Delete
BypassedRecipients    : postmaster@contoso.com
BypassedSenderDomains : partner.example
$ edgectl Get-DkimVerificationConfig
Identity            : DkimVerificationConfig
Enabled             : True
ExternalMailEnabled : True
InternalMailEnabled : False
MaxSignatures       : 5
$ edgectl Get-DmarcConfig
Identity               : DmarcConfig
Enabled                : True
ExternalMailEnabled    : True
InternalMailEnabled    : False
RejectPolicyAction     : Reject
QuarantinePolicyAction : Quarantine
BadFromAction          : Reject
AuthServId             : 
$ edgectl Set-DmarcConfig -AuthServId MX.Contoso.Com -QuarantinePolicyAction Reject
$ edgectl Get-DmarcConfig -Json | python3 -c 'import json,sys; c=json.load(sys.stdin)[0]; print(c["AuthServId"], c["QuarantinePolicyAction"], c["RejectPolicyAction"])'
mx.contoso.com Reject Reject
# Bad input; nothing changes.
$ edgectl Set-SenderIdConfig -SpoofedDomainAction Drop
! edgectl: Set-SenderIdConfig: -SpoofedDomainAction: 'Drop' is not valid; expected one of StampStatus,Reject,Delete
[exit 1]
$ edgectl Set-SenderIdConfig -BypassedSenderDomains 'bad..domain'
! edgectl: Set-SenderIdConfig: -BypassedSenderDomains: 'bad..domain' is not valid; expected no empty label (two dots together, or a leading dot) in 'bad..domain'
[exit 1]
$ edgectl Set-DkimVerificationConfig -MaxSignatures 0
! edgectl: Set-DkimVerificationConfig: -MaxSignatures: '0' is not valid; expected a whole number from 1 to 50
[exit 1]
$ edgectl Set-DkimVerificationConfig -MaxSignatures 51
! edgectl: Set-DkimVerificationConfig: -MaxSignatures: '51' is not valid; expected a whole number from 1 to 50
[exit 1]
$ edgectl Set-DmarcConfig -AuthServId 'not a domain'
! edgectl: Set-DmarcConfig: -AuthServId: 'not a domain' is not valid; expected only letters, digits and hyphens in the labels of 'not a domain'
[exit 1]
$ edgectl Set-DmarcConfig -BadFromAction Maybe
! edgectl: Set-DmarcConfig: -BadFromAction: 'Maybe' is not valid; expected one of Reject,Quarantine,StampStatus
[exit 1]
$ edgectl Get-DmarcConfig -Json | python3 -c 'import json,sys; c=json.load(sys.stdin)[0]; print(c["AuthServId"], c["BadFromAction"])'
mx.contoso.com Reject
# A signing key: the private key to a new file (owner-only), the TXT record to publish.
$ edgectl New-DkimSigningKey -DomainName contoso.com -Selector s2026 -KeyFile {DATA}/s2026.pem | grep -c 'IN TXT "v=DKIM1; k=rsa; p='
1
! edgectl: New-DkimSigningKey: publish the DnsRecord, then: edgectl New-DkimSigningConfig -DomainName contoso.com -Selector s2026 -Algorithm rsa-sha256 -KeyFile {DATA}/s2026.pem
$ stat -c %a {DATA}/s2026.pem
600
$ edgectl New-DkimSigningKey -DomainName contoso.com -Selector s2026 -KeyFile {DATA}/s2026.pem
! edgectl: New-DkimSigningKey: -KeyFile: {DATA}/s2026.pem exists; a key that is published may still be in use, so it is never overwritten. Choose another file (and a new -Selector)
[exit 1]
$ edgectl New-DkimSigningKey -DomainName contoso.com -Selector ed -Algorithm ed25519-sha256 -KeyFile {DATA}/ed.pem | grep -c 'IN TXT "v=DKIM1; k=ed25519; p='
1
! edgectl: New-DkimSigningKey: publish the DnsRecord, then: edgectl New-DkimSigningConfig -DomainName contoso.com -Selector ed -Algorithm ed25519-sha256 -KeyFile {DATA}/ed.pem
$ edgectl New-DkimSigningKey -DomainName contoso.com -Selector small -KeySize 512 -KeyFile {DATA}/small.pem
! edgectl: New-DkimSigningKey: -KeySize: 512 is out of range; expected 1024 to 8192 (2048 advised)
[exit 2]
$ edgectl New-DkimSigningKey -DomainName 'bad..domain' -Selector s -KeyFile {DATA}/x.pem
! edgectl: New-DkimSigningKey: -DomainName: 'bad..domain' is not valid; expected no empty label (two dots together, or a leading dot) in 'bad..domain'
[exit 2]
$ edgectl New-DkimSigningKey -DomainName contoso.com -Selector s
! edgectl: New-DkimSigningKey: -DomainName, -Selector and -KeyFile are required
[exit 2]
$ edgectl New-DkimSigningConfig -DomainName Contoso.COM -Selector s2026 -KeyFile {DATA}/s2026.pem
$ edgectl New-DkimSigningConfig -DomainName fabrikam.com -Selector ed -Algorithm ed25519-sha256 -KeyFile {DATA}/ed.pem
$ edgectl Get-DkimSigningConfig
Identity     DomainName   Selector Algorithm      Enabled
--------     ----------   -------- ---------      -------
contoso.com  contoso.com  s2026    rsa-sha256     True
fabrikam.com fabrikam.com ed       ed25519-sha256 True
# The key must be there and of the configuration's algorithm.
$ edgectl New-DkimSigningConfig -DomainName wrong.example -Selector s -Algorithm ed25519-sha256 -KeyFile {DATA}/s2026.pem
! edgectl: New-DkimSigningConfig: -KeyFile: {DATA}/s2026.pem does not hold an Ed25519 key; -Algorithm ed25519-sha256 needs one
[exit 1]
$ edgectl New-DkimSigningConfig -DomainName missing.example -Selector s -KeyFile {DATA}/none.pem
! edgectl: New-DkimSigningConfig: -KeyFile: cannot read the DKIM key file {DATA}/none.pem: No such file or directory
[exit 1]
$ edgectl New-DkimSigningConfig -DomainName nokey.example -Selector s
! edgectl: New-DkimSigningConfig: -KeyFile is required (The private key, PEM (New-DkimSigningKey writes one); read by the server, never shown)
[exit 2]
$ edgectl Set-DkimSigningConfig contoso.com -Enabled '$false'
$ edgectl Get-DkimSigningConfig contoso.com -Format List
Identity   : contoso.com
Name       : contoso.com
DomainName : contoso.com
Selector   : s2026
Algorithm  : rsa-sha256
KeyFile    : {DATA}/s2026.pem
Enabled    : False
$ edgectl Remove-DkimSigningConfig fabrikam.com
$ edgectl Get-DkimSigningConfig
Identity    DomainName  Selector Algorithm  Enabled
--------    ----------  -------- ---------  -------
contoso.com contoso.com s2026    rsa-sha256 False
