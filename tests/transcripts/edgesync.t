# EdgeSync on the edge: the subscription file, what edgectl shows, read-only objects.
$ edgectl Get-EdgeSubscription
$ edgectl Test-EdgeSynchronization
! edgectl: Test-EdgeSynchronization: this edge has no subscription; New-EdgeSubscription makes one
[exit 1]
$ edgectl New-AcceptedDomain Local -DomainName local.test
$ edgectl New-EdgeSubscription -FileName {DATA}/edge.sub -Port 50999
! edgectl: New-EdgeSubscription: wrote {DATA}/edge.sub; its enrollment secret is valid for 1440 minutes: run edgesync --subscription {DATA}/edge.sub on the internal side before then; the sync listener is on 127.0.0.1:50999 (this host only: for an agent on the internal network, New-EdgeSubscription -ListenAddress or Set-TransportServer -EdgeSyncListenAddress <this edge's internal address>)
$ grep -c -E '<(EdgeServerName|EdgeServerFQDN|EdgeSyncPort|EdgeCertificate|EnrollmentSecret|EffectiveDate|Duration)>' {DATA}/edge.sub
7
$ grep -E '<(EdgeServerName|EdgeSyncPort|Duration)>' {DATA}/edge.sub
  <EdgeServerName>{SERVER}</EdgeServerName>
  <EdgeSyncPort>50999</EdgeSyncPort>
  <Duration>86400</Duration>
$ stat -c %a {DATA}/edge.sub tls
600
700
$ edgectl Get-EdgeSubscription -Format List | grep -E '^(Identity|Site|ListenAddress|Port|Enrolled|EnrollmentExpires|RecipientCount) '
Identity          : {SERVER}
Site              : 
ListenAddress     : 127.0.0.1
Port              : 50999
Enrolled          : False
EnrollmentExpires : 20{*}
RecipientCount    : 0
$ edgectl Test-EdgeSynchronization
Name              : {SERVER}
SyncStatus        : NotEnrolled
Healthy           : False
LastConfigSync    : 
LastRecipientSync : 
ConfigObjects     : 0
RecipientCount    : 0
LeaseHolder       : 
LeaseExpires      : 
LeaseRefusals     : 0
LastLeaseRefusal  : 
Detail            : waiting for edgesync to enroll with the subscription file; the sync listener is on 127.0.0.1:50999 (this host only: an agent on another host needs Set-TransportServer -EdgeSyncListenAddress <this edge's internal address>)
[exit 1]
# The listener binds the edge's address on the internal network once the administrator gives it.
$ edgectl Set-TransportServer -EdgeSyncListenAddress 10.0.0.25
$ edgectl Get-EdgeSubscription -Format List | grep -E '^(ListenAddress|Port) '
ListenAddress     : 10.0.0.25
Port              : 50999
$ edgectl Test-EdgeSynchronization | grep Detail
Detail            : waiting for edgesync to enroll with the subscription file; the sync listener is on 10.0.0.25:50999
$ edgectl Set-TransportServer -EdgeSyncListenAddress 127.0.0.1
# -ListenAddress sets the same setting with the subscription; a bad one changes nothing.
$ edgectl New-EdgeSubscription -FileName {DATA}/x.sub -ListenAddress somewhere -Force
! edgectl: New-EdgeSubscription: -ListenAddress: 'somewhere' is not valid; expected an IP address such as 192.0.2.1 or 2001:db8::1
[exit 1]
$ edgectl Get-EdgeSubscription -Format List | grep -E '^ListenAddress '
ListenAddress     : 127.0.0.1
# The secret is in the file only: the data directory keeps its SHA-256.
$ grep -r -l -F "$(sed -n 's/.*<EnrollmentSecret>\(.*\)<\/EnrollmentSecret>.*/\1/p' {DATA}/edge.sub)" {DATA} | grep -v edge.sub
[exit 1]
# While subscribed, accepted domains and Send connectors are EdgeSync's.
$ edgectl Set-AcceptedDomain Local -DomainType InternalRelay
! edgectl: Set-AcceptedDomain: this edge is subscribed: its AcceptedDomain objects are replicated by EdgeSync from the internal side and are read-only here; change them there (or Remove-EdgeSubscription to manage them on the edge)
[exit 1]
$ edgectl New-SendConnector Out -AddressSpaces '*'
! edgectl: New-SendConnector: this edge is subscribed: its SendConnector objects are replicated by EdgeSync from the internal side and are read-only here; change them there (or Remove-EdgeSubscription to manage them on the edge)
[exit 1]
$ edgectl New-EdgeSubscription -FileName {DATA}/again.sub
! edgectl: New-EdgeSubscription: this edge already has a subscription; -Force replaces it (the old one stops working)
[exit 1]
$ sha256sum < tls/edgesync.crt > cert.before
$ edgectl New-EdgeSubscription -FileName /nonexistent/dir/edge.sub -Force
! edgectl: New-EdgeSubscription: -FileName: cannot write /nonexistent/dir/edge.sub
[exit 1]
$ sha256sum < tls/edgesync.crt | cmp - cert.before && ls tls | grep -c new
0
[exit 1]
$ edgectl New-EdgeSubscription -FileName {DATA}/x.sub -Port 70000 -Force
! edgectl: New-EdgeSubscription: -Port: '70000' is not valid; expected a whole number from 1 to 65535
[exit 1]
$ edgectl Set-TransportServer -EdgeSyncListenAddress somewhere
! edgectl: Set-TransportServer: -EdgeSyncListenAddress: 'somewhere' is not valid; expected an IP address such as 192.0.2.1 or 2001:db8::1
[exit 1]
$ edgectl Remove-EdgeSubscription Other
! edgectl: Remove-EdgeSubscription: no subscription 'Other'; this edge's is {SERVER}
[exit 1]
$ edgectl Remove-EdgeSubscription
! edgectl: Remove-EdgeSubscription: removed; 0 replicated objects and every replicated recipient went with it
$ edgectl Get-EdgeSubscription
$ edgectl Set-AcceptedDomain Local -DomainType InternalRelay
