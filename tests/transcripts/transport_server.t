# The transport server's settings: one object, shown as a list.
$ edgectl Get-TransportServer | grep -E '^(Identity|MessageExpirationTimeout|MaxOutboundConnections|MaxPerDomainOutboundConnections|MessageRetryInterval|ExternalDNSServers|SendCopyOfNdrTo|MessageTrackingLogEnabled|ReceiveProtocolLogMaxFileSize) '
Identity                                : {SERVER}
ReceiveProtocolLogMaxFileSize           : 10MB
MessageExpirationTimeout                : 2.00:00:00
MessageTrackingLogEnabled               : True
ExternalDNSServers                      : 
MaxOutboundConnections                  : 1000
MaxPerDomainOutboundConnections         : 20
MessageRetryInterval                    : 00:05:00
SendCopyOfNdrTo                         : 
$ edgectl Set-TransportServer -MessageExpirationTimeout 1.00:00:00 -MaxOutboundConnections 50 -MaxPerDomainOutboundConnections 5 -ExternalDNSServers 127.0.0.53,127.0.0.54:5353 -SendCopyOfNdrTo postmaster@contoso.com -ReceiveProtocolLogMaxFileSize 5MB -MessageTrackingLogEnabled '$false'
$ edgectl Get-TransportServer {SERVER} | grep -E '^(Identity|MessageExpirationTimeout|MaxOutboundConnections|MaxPerDomainOutboundConnections|ExternalDNSServers|SendCopyOfNdrTo|MessageTrackingLogEnabled|ReceiveProtocolLogMaxFileSize) '
Identity                                : {SERVER}
ReceiveProtocolLogMaxFileSize           : 5MB
MessageExpirationTimeout                : 1.00:00:00
MessageTrackingLogEnabled               : False
ExternalDNSServers                      : 127.0.0.53, 127.0.0.54:5353
MaxOutboundConnections                  : 50
MaxPerDomainOutboundConnections         : 5
SendCopyOfNdrTo                         : postmaster@contoso.com
$ edgectl Get-TransportServer -Json | python3 -c 'import json,sys; t=json.load(sys.stdin)[0]; print(t["MaxOutboundConnections"], t["MessageTrackingLogEnabled"], t["ExternalDNSServers"], t["ReceiveProtocolLogMaxFileSize"])'
50 False ['127.0.0.53', '127.0.0.54:5353'] 5242880
# Bad input; nothing changes.
$ edgectl Set-TransportServer -MaxOutboundConnections lots
! edgectl: Set-TransportServer: -MaxOutboundConnections: 'lots' is not valid; expected a whole number from 1 to 2147483647, or unlimited
[exit 1]
$ edgectl Set-TransportServer -MessageExpirationTimeout 365.00:00:00
! edgectl: Set-TransportServer: -MessageExpirationTimeout: '365.00:00:00' is not valid; expected a time span [d.]hh:mm:ss from 00:00:05 to 90.00:00:00
[exit 1]
$ edgectl Set-TransportServer -ExternalDNSServers dns.contoso.com
! edgectl: Set-TransportServer: -ExternalDNSServers: 'dns.contoso.com' is not valid; expected a DNS server address such as 192.0.2.53, or with a port: 127.0.0.1:5353, [::1]:5353
[exit 1]
$ edgectl Set-TransportServer -SendCopyOfNdrTo postmaster
! edgectl: Set-TransportServer: -SendCopyOfNdrTo: 'postmaster' is not valid; expected an e-mail address such as postmaster@contoso.com
[exit 1]
$ edgectl Set-TransportServer OtherServer -MaxOutboundConnections 10
! edgectl: Set-TransportServer: no server 'OtherServer' here; this is {SERVER}
[exit 1]
$ edgectl Get-TransportServer | grep -E '^(MessageExpirationTimeout|MaxOutboundConnections|ExternalDNSServers|SendCopyOfNdrTo) '
MessageExpirationTimeout                : 1.00:00:00
ExternalDNSServers                      : 127.0.0.53, 127.0.0.54:5353
MaxOutboundConnections                  : 50
SendCopyOfNdrTo                         : postmaster@contoso.com
# Issue 21: the Pickup directory, the connectivity log, poison messages and idle queues.
$ edgectl Get-TransportServer -Format List | grep -E '^(Pickup|Connectivity|Poison|QueueMaxIdle)'
PickupDirectoryPath                     : 
PickupDirectoryMaxMessagesPerMinute     : 100
PickupDirectoryMaxHeaderSize            : 64KB
PickupDirectoryMaxRecipientsPerMessage  : 100
ConnectivityLogEnabled                  : False
ConnectivityLogPath                     : 
ConnectivityLogMaxAge                   : 30.00:00:00
ConnectivityLogMaxDirectorySize         : 1000MB
ConnectivityLogMaxFileSize              : 10MB
PoisonMessageDetectionEnabled           : True
PoisonThreshold                         : 2
QueueMaxIdleTime                        : 00:03:00
$ edgectl Set-TransportServer -PickupDirectoryPath /srv/pickup -ConnectivityLogEnabled '$true' -PoisonThreshold 3 -QueueMaxIdleTime 00:10:00
$ edgectl Get-TransportServer -Format List | grep -E '^(PickupDirectoryPath|ConnectivityLogEnabled|PoisonThreshold|QueueMaxIdleTime) '
PickupDirectoryPath                     : /srv/pickup
ConnectivityLogEnabled                  : True
PoisonThreshold                         : 3
QueueMaxIdleTime                        : 00:10:00
$ edgectl Set-TransportServer -PoisonThreshold 11
! edgectl: Set-TransportServer: -PoisonThreshold: '11' is not valid; expected a whole number from 1 to 10
[exit 1]
$ edgectl Set-TransportServer -PickupDirectoryMaxHeaderSize 1KB
! edgectl: Set-TransportServer: -PickupDirectoryMaxHeaderSize: '1KB' is not valid; expected a size such as 10MB, 500KB or 65536 bytes, from 32768 to 2147483647
[exit 1]
