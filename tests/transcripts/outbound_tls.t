# Outbound TLS authentication (issue 20): TlsAuthLevel, TlsDomain, TlsCertificateName and
# DomainSecureEnabled on Send connectors; TlsCertificateAuthorityFile and
# DnssecValidatingResolver on the transport server; TLSSendDomainSecureList.
$ edgectl New-SendConnector Internet -AddressSpaces '*'
$ edgectl Get-SendConnector Internet -Format List | grep -E '^(TlsAuthLevel|TlsDomain|TlsCertificateName|DomainSecureEnabled) '
TlsAuthLevel                 : None
TlsDomain                    : 
TlsCertificateName           : 
DomainSecureEnabled          : False
$ edgectl Set-SendConnector Internet -TlsAuthLevel domainvalidation -TlsDomain mail.fabrikam.com
$ edgectl Get-SendConnector Internet -Format List | grep -E '^(TlsAuthLevel|TlsDomain) '
TlsAuthLevel                 : DomainValidation
TlsDomain                    : mail.fabrikam.com
# Exchange's $null is opportunistic TLS again; TlsDomain only means something with DomainValidation.
$ edgectl Set-SendConnector Internet -TlsAuthLevel '$null'
! edgectl: Set-SendConnector: -TlsDomain can be set only when -TlsAuthLevel is DomainValidation
[exit 1]
$ edgectl Set-SendConnector Internet -TlsAuthLevel '$null' -TlsDomain ''
$ edgectl Get-SendConnector Internet -Format List | grep -E '^TlsAuthLevel '
TlsAuthLevel                 : None
$ edgectl Set-SendConnector Internet -TlsAuthLevel Strict
! edgectl: Set-SendConnector: -TlsAuthLevel: 'Strict' is not valid; expected one of None,EncryptionOnly,CertificateValidation,DomainValidation
[exit 1]
$ edgectl Set-SendConnector Internet -TlsAuthLevel EncryptionOnly -IgnoreSTARTTLS '$true'
! edgectl: Set-SendConnector: -IgnoreSTARTTLS must be $false when -TlsAuthLevel is set
[exit 1]
# The client certificate: Exchange's <I>issuer<S>subject, or a thumbprint.
$ edgectl Set-SendConnector Internet -TlsCertificateName '<I>CN=Contoso CA<S>CN=edge.contoso.com'
$ edgectl Set-SendConnector Internet -TlsCertificateName 0123456789abcdef0123456789ABCDEF01234567
$ edgectl Set-SendConnector Internet -TlsCertificateName edge.contoso.com
! edgectl: Set-SendConnector: -TlsCertificateName: 'edge.contoso.com' is not valid; expected <I>issuer<S>subject or a thumbprint (40 hex digits)
[exit 1]
# Domain Security: DNS routing only, as Exchange's.
$ edgectl Set-SendConnector Internet -DomainSecureEnabled '$true'
$ edgectl New-SendConnector Partner -AddressSpaces fabrikam.com -DNSRoutingEnabled '$false' -SmartHosts 192.0.2.25 -DomainSecureEnabled '$true'
! edgectl: New-SendConnector: -DomainSecureEnabled $true needs DNS routing (-DNSRoutingEnabled $true), as Exchange's does
[exit 1]
$ edgectl Set-TransportConfig -TLSSendDomainSecureList fabrikam.com,Contoso.COM
$ edgectl Get-TransportConfig -Format List | grep -E '^TLSSendDomainSecureList '
TLSSendDomainSecureList    : fabrikam.com, contoso.com
$ edgectl Set-TransportConfig -TLSSendDomainSecureList 'not a domain'
! edgectl: Set-TransportConfig: -TLSSendDomainSecureList: 'not a domain' is not valid; expected only letters, digits and hyphens in the labels of 'not a domain'
[exit 1]
# The trust store's extra CAs and the resolver DANE believes.
$ edgectl Set-TransportServer -TlsCertificateAuthorityFile /etc/edge-transport/partner-cas.pem -DnssecValidatingResolver 127.0.0.1:5353
$ edgectl Get-TransportServer -Format List | grep -E '^(TlsCertificateAuthorityFile|DnssecValidatingResolver) '
TlsCertificateAuthorityFile             : /etc/edge-transport/partner-cas.pem
DnssecValidatingResolver                : 127.0.0.1:5353
$ edgectl Set-TransportServer -DnssecValidatingResolver resolver.example
! edgectl: Set-TransportServer: -DnssecValidatingResolver: 'resolver.example' is not valid; expected a DNS server address such as 192.0.2.53, or with a port: 127.0.0.1:5353, [::1]:5353
[exit 1]
