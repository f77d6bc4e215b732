# MTA-STS and TLS-RPT (issue 20). Set-TransportServer switches them (both on by default,
# as Exchange Online has them); MtaStsPolicyPort exists for tests (policy servers listen
# on 443). Get-TlsReport shows the counts the server keeps per day, recipient domain,
# policy, result and MX; Send-TlsReport mails a day's reports now; Get-MtaStsPolicy shows
# the policies cached. Bad input is refused before anything is read or sent.
$ edgectl Get-TransportServer -Format List | grep -E 'MtaSts|TlsReporting'
MtaStsEnabled                           : True
MtaStsPolicyPort                        : 443
MtaStsFetchTimeout                      : 00:01:00
TlsReportingEnabled                     : True
$ edgectl Set-TransportServer -MtaStsEnabled '$false' -MtaStsFetchTimeout 00:00:30
$ edgectl Get-TransportServer -Format List | grep -E 'MtaSts|TlsReporting'
MtaStsEnabled                           : False
MtaStsPolicyPort                        : 443
MtaStsFetchTimeout                      : 00:00:30
TlsReportingEnabled                     : True
$ edgectl Set-TransportServer -MtaStsPolicyPort 0
! edgectl: Set-TransportServer: -MtaStsPolicyPort: '0' is not valid; expected a whole number from 1 to 65535
[exit 1]
$ edgectl Set-TransportServer -MtaStsPolicyPort 70000
! edgectl: Set-TransportServer: -MtaStsPolicyPort: '70000' is not valid; expected a whole number from 1 to 65535
[exit 1]
$ edgectl Set-TransportServer -MtaStsFetchTimeout 00:20:00
! edgectl: Set-TransportServer: -MtaStsFetchTimeout: '00:20:00' is not valid; expected a time span [d.]hh:mm:ss from 00:00:01 to 00:10:00
[exit 1]
$ edgectl Set-TransportServer -TlsReportingEnabled maybe
! edgectl: Set-TransportServer: -TlsReportingEnabled: 'maybe' is not valid; expected $true or $false
[exit 1]
# Nothing counted yet: an empty table, and nothing to send.
$ edgectl Get-TlsReport
$ edgectl Get-TlsReport -Domain contoso.com -Date 2026-12-06
$ edgectl Send-TlsReport -Date 2026-12-06
! edgectl: Send-TlsReport: no TLS sessions counted on 2026-12-06; 'edgectl Get-TlsReport' shows the counts
[exit 1]
$ edgectl Send-TlsReport -Date 2026-12-06 -Domain Contoso.COM
! edgectl: Send-TlsReport: no TLS sessions with contoso.com counted on 2026-12-06; 'edgectl Get-TlsReport' shows the counts
[exit 1]
# Dates are UTC days, yyyy-mm-dd; domains are host names.
$ edgectl Get-TlsReport -Date 2026-13-01
! edgectl: Get-TlsReport: -Date: '2026-13-01' is not a date; expected yyyy-mm-dd (UTC), for example 2026-12-07
[exit 2]
$ edgectl Get-TlsReport -Date 12/06/2026
! edgectl: Get-TlsReport: -Date: '12/06/2026' is not a date; expected yyyy-mm-dd (UTC), for example 2026-12-07
[exit 2]
$ edgectl Send-TlsReport -Date yesterday
! edgectl: Send-TlsReport: -Date: 'yesterday' is not a date; expected yyyy-mm-dd (UTC), for example 2026-12-07
[exit 2]
$ edgectl Get-TlsReport -Domain 'contoso.com;rm'
! edgectl: Get-TlsReport: -Domain: 'contoso.com;rm' is not a domain name
[exit 2]
$ edgectl Get-MtaStsPolicy
$ edgectl Get-MtaStsPolicy fabrikam.com
! edgectl: Get-MtaStsPolicy: no MTA-STS policy of fabrikam.com is cached (none was fetched, or the domain publishes none)
[exit 1]
