# Certificates managed live (issue 20), Exchange's cmdlets. Import takes PEM files (-Path,
# -KeyPath) where Exchange takes a PFX; only the SMTP service exists here. The server
# offers what is enabled to new STARTTLS sessions (certificate_tests shows it live).
$ openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj /CN=mail.contoso.test -addext subjectAltName=DNS:mail.contoso.test,DNS:contoso.test -keyout a.key -out a.crt 2>/dev/null
$ openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 10 -subj /CN=soon.contoso.test -keyout b.key -out b.crt 2>/dev/null
$ openssl pkey -in a.key -aes128 -passout pass:secret -out locked.key
$ edgectl Get-ExchangeCertificate
# Bad input: a missing file, a file that is no certificate, the key of another
# certificate, a key behind a passphrase, no key at all.
$ edgectl Import-ExchangeCertificate -Path missing.crt -KeyPath a.key
! edgectl: Import-ExchangeCertificate: -Path missing.crt: no such file
[exit 1]
$ edgectl Import-ExchangeCertificate -Path a.key -KeyPath a.key
! edgectl: Import-ExchangeCertificate: -Path a.key holds no PEM certificate (-----BEGIN CERTIFICATE-----); convert a PFX with 'openssl pkcs12 -in f.pfx -nokeys'
[exit 1]
$ edgectl Import-ExchangeCertificate -Path a.crt -KeyPath b.key
! edgectl: Import-ExchangeCertificate: the key in b.key is not the key of the certificate in a.crt
[exit 1]
$ edgectl Import-ExchangeCertificate -Path a.crt -KeyPath locked.key
! edgectl: Import-ExchangeCertificate: -KeyPath locked.key is protected by a passphrase; give the key unencrypted ('openssl pkey -in key.pem -out plain.pem'), it is stored 0600
[exit 1]
$ edgectl Import-ExchangeCertificate -Path a.crt
! edgectl: Import-ExchangeCertificate: -KeyPath is required: the certificate's PEM private key
[exit 2]
# Imported: stored, not offered until enabled.
$ edgectl Import-ExchangeCertificate -Path a.crt -KeyPath a.key
Thumbprint                               Services Subject              NotAfter             Status
----------                               -------- -------              --------             ------
{*} None     CN=mail.contoso.test {*} Valid
$ edgectl Import-ExchangeCertificate -Path a.crt -KeyPath a.key
! edgectl: Import-ExchangeCertificate: the certificate {*} is already imported; 'edgectl Get-ExchangeCertificate -Thumbprint {*}' shows it
[exit 1]
$ ls -l certificates | grep -v ^total | cut -c1-10
-rw-------
-rw-r--r--
# Unknown or malformed thumbprints, and services this server does not have.
$ edgectl Get-ExchangeCertificate -Thumbprint 1234
! edgectl: Get-ExchangeCertificate: -Thumbprint '1234': expected 40 hexadecimal digits (the certificate's SHA-1)
[exit 1]
$ edgectl Get-ExchangeCertificate -Thumbprint 00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00
! edgectl: Get-ExchangeCertificate: no certificate with thumbprint 0000000000000000000000000000000000000000; 'edgectl Get-ExchangeCertificate' lists them
[exit 1]
$ edgectl Enable-ExchangeCertificate -Thumbprint 0000000000000000000000000000000000000000 -Services SMTP
! edgectl: Enable-ExchangeCertificate: no certificate with thumbprint 0000000000000000000000000000000000000000; 'edgectl Get-ExchangeCertificate' lists them
[exit 1]
$ edgectl Remove-ExchangeCertificate -Thumbprint 0000000000000000000000000000000000000000
! edgectl: Remove-ExchangeCertificate: no certificate with thumbprint 0000000000000000000000000000000000000000; 'edgectl Get-ExchangeCertificate' lists them
[exit 1]
$ edgectl Enable-ExchangeCertificate -Thumbprint $(openssl x509 -in a.crt -noout -fingerprint -sha1 | sed "s/.*=//; s/://g") -Services IMAP
! edgectl: Enable-ExchangeCertificate: -Services: 'IMAP' is not a service of this server; expected SMTP or None (IMAP, POP, IIS and UM are Exchange's other servers')
[exit 1]
$ edgectl Enable-ExchangeCertificate -Thumbprint $(openssl x509 -in a.crt -noout -fingerprint -sha1 | sed "s/.*=//; s/://g")
! edgectl: Enable-ExchangeCertificate: -Services is required: SMTP (or None to stop offering it)
[exit 2]
$ edgectl Enable-ExchangeCertificate -Thumbprint $(openssl x509 -in a.crt -noout -fingerprint -sha1 | sed "s/.*=//; s/://g") -Services SMTP
Thumbprint                               Services Subject              NotAfter             Status
----------                               -------- -------              --------             ------
{*} SMTP     CN=mail.contoso.test {*} Valid
! edgectl: Enable-ExchangeCertificate: new STARTTLS sessions get it within ConfigPollInterval (sessions in flight keep theirs)
$ edgectl Get-ExchangeCertificate -Thumbprint $(openssl x509 -in a.crt -noout -fingerprint -sha1 | sed "s/.*=//; s/://g") -Format List
Thumbprint         : {*}
Services           : SMTP
Subject            : CN=mail.contoso.test
Issuer             : CN=mail.contoso.test
CertificateDomains : mail.contoso.test, contoso.test
NotBefore          : {*}
NotAfter           : {*}
IsSelfSigned       : True
Status             : Valid
# The one STARTTLS offers is not removed while no other is enabled.
$ edgectl Remove-ExchangeCertificate -Thumbprint $(openssl x509 -in a.crt -noout -fingerprint -sha1 | sed "s/.*=//; s/://g")
! edgectl: Remove-ExchangeCertificate: the certificate {*} is the one STARTTLS offers; enable another first (Enable-ExchangeCertificate -Services SMTP), or 'Enable-ExchangeCertificate -Thumbprint {*} -Services None' to go back to the bootstrap certificate
[exit 1]
# A certificate within 30 days of its NotAfter: a warning with the list.
$ edgectl Import-ExchangeCertificate -Path b.crt -KeyPath b.key -Services SMTP
Thumbprint                               Services Subject              NotAfter             Status
----------                               -------- -------              --------             ------
{*} SMTP     CN=soon.contoso.test {*} Valid
! edgectl: Import-ExchangeCertificate: WARNING: the certificate {*} expires on {*} (in {*} days); import its renewal and enable it
$ edgectl Get-ExchangeCertificate -Filter 'Subject -like "CN=soon*"'
Thumbprint                               Services Subject              NotAfter             Status
----------                               -------- -------              --------             ------
{*} SMTP     CN=soon.contoso.test {*} Valid
! edgectl: Get-ExchangeCertificate: WARNING: the certificate {*} expires on {*} (in {*} days); import its renewal and enable it
# New-ExchangeCertificate: self-signed, several names; bad names and subjects refused.
$ edgectl New-ExchangeCertificate -SubjectName CN=edge.contoso.test -DomainName edge.contoso.test,bad_name!
! edgectl: New-ExchangeCertificate: -DomainName 'bad_name!': expected only letters, digits and hyphens in the labels of 'bad_name!'
[exit 1]
$ edgectl New-ExchangeCertificate -SubjectName edge.contoso.test
! edgectl: New-ExchangeCertificate: -SubjectName 'edge.contoso.test': expected attribute=value pairs such as CN=mail.contoso.com
[exit 1]
$ edgectl New-ExchangeCertificate
! edgectl: New-ExchangeCertificate: give -SubjectName "CN=mail.contoso.com" or -DomainName mail.contoso.com
[exit 2]
$ edgectl New-ExchangeCertificate -SubjectName 'CN=edge.contoso.test, O=Contoso' -DomainName edge.contoso.test,contoso.test -Services None
Thumbprint                               Services Subject                         NotAfter             Status
----------                               -------- -------                         --------             ------
{*} None     CN=edge.contoso.test, O=Contoso {*} Valid
$ edgectl Get-ExchangeCertificate -Filter 'Subject -like "*Contoso"' -Json | python3 -c 'import json,sys; c=json.load(sys.stdin)[0]; print(c["CertificateDomains"], c["IsSelfSigned"], c["Services"], c["Issuer"])'
['edge.contoso.test', 'contoso.test'] True None CN=edge.contoso.test, O=Contoso
# Removing one not in use (a renewal enabled, the old one gone).
$ edgectl Remove-ExchangeCertificate -Thumbprint $(openssl x509 -in a.crt -noout -fingerprint -sha1 | sed "s/.*=//; s/://g")
$ edgectl Get-ExchangeCertificate -Thumbprint $(openssl x509 -in a.crt -noout -fingerprint -sha1 | sed "s/.*=//; s/://g")
! edgectl: Get-ExchangeCertificate: no certificate with thumbprint {*}; 'edgectl Get-ExchangeCertificate' lists them
[exit 1]
