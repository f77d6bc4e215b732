# MTA-STS and TLS-RPT (issue 20). Set-TransportServer switches them (both on by default,
# as Exchange Online has them); MtaStsPolicyPort exists for tests (policy servers listen
# on 443). Get-TlsReport shows the counts the server keeps per day, recipient domain,
# policy, result and MX; Send-TlsReport mails a day's reports now; Get-MtaStsPolicy shows
# the policies cached. Bad input is refused before anything is read or sent.
$ edgectl Get-TransportServer -Format List | grep -E 'MtaSts|TlsReporting'
$ edgectl Set-TransportServer -MtaStsEnabled '$false' -MtaStsFetchTimeout 00:00:30
$ edgectl Get-TransportServer -Format List | grep -E 'MtaSts|TlsReporting'
$ edgectl Set-TransportServer -MtaStsPolicyPort 0
$ edgectl Set-TransportServer -MtaStsPolicyPort 70000
$ edgectl Set-TransportServer -MtaStsFetchTimeout 00:20:00
$ edgectl Set-TransportServer -TlsReportingEnabled maybe
# Nothing counted yet: an empty table, and nothing to send.
$ edgectl Get-TlsReport
$ edgectl Get-TlsReport -Domain contoso.com -Date 2026-12-06
$ edgectl Send-TlsReport -Date 2026-12-06
$ edgectl Send-TlsReport -Date 2026-12-06 -Domain Contoso.COM
# Dates are UTC days, yyyy-mm-dd; domains are host names.
$ edgectl Get-TlsReport -Date 2026-13-01
$ edgectl Get-TlsReport -Date 12/06/2026
$ edgectl Send-TlsReport -Date yesterday
$ edgectl Get-TlsReport -Domain 'contoso.com;rm'
$ edgectl Get-MtaStsPolicy
$ edgectl Get-MtaStsPolicy fabrikam.com
