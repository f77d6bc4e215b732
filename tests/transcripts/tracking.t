# Get-MessageTrackingLog searches the MSGTRK files as Exchange's cmdlet does.
% write Logs/MessageTracking/MSGTRK20261122-1.LOG
#Software: edge-transport
#Version: 0.1
#Log-type: Message Tracking Log
#Date: 2026-11-22T09:00:00.000Z
#Fields: date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,connector-id,source,event-id,internal-message-id,message-id,recipient-address,recipient-status,total-bytes,recipient-count,related-recipient-address,reference,message-subject,sender-address,return-path,message-info
2026-11-22T09:00:01.000Z,127.0.0.2,client.test,127.0.0.1,edge,,Default internal receive connector,SMTP,RECEIVE,1,<one@example.net>,bob@contoso.com;carol@contoso.com,,1200,2,,,Quarterly report,alice@example.net,alice@example.net,
2026-11-22T09:00:02.000Z,127.0.0.1,edge,127.0.0.10,hub.contoso.com,250 2.0.0 OK,Inbound,SMTP,SEND,1,<one@example.net>,bob@contoso.com;carol@contoso.com,250 2.0.0 OK;250 2.0.0 OK,1200,2,,,Quarterly report,alice@example.net,alice@example.net,
% end
% write Logs/MessageTracking/MSGTRK20261123-1.LOG
#Software: edge-transport
#Version: 0.1
#Log-type: Message Tracking Log
#Date: 2026-11-23T10:00:00.000Z
#Fields: date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,connector-id,source,event-id,internal-message-id,message-id,recipient-address,recipient-status,total-bytes,recipient-count,related-recipient-address,reference,message-subject,sender-address,return-path,message-info
2026-11-23T10:00:01.000Z,127.0.0.3,other.test,127.0.0.1,edge,,Default internal receive connector,SMTP,RECEIVE,2,<two@example.net>,erin@fabrikam.com,,800,1,,,Lunch,dave@example.net,dave@example.net,
2026-11-23T10:05:00.000Z,127.0.0.1,edge,,fabrikam.com,451 4.4.0 busy,To Internet,SMTP,DEFER,2,<two@example.net>,erin@fabrikam.com,451 4.4.0 busy,800,1,,,Lunch,dave@example.net,dave@example.net,
2026-11-23T12:00:00.000Z,127.0.0.1,edge,,fabrikam.com,550 5.1.1 no such user,To Internet,SMTP,FAIL,2,<two@example.net>,erin@fabrikam.com,550 5.1.1 no such user,800,1,,,Lunch,dave@example.net,dave@example.net,
2026-11-23T12:00:00.000Z,,,,edge,,,DSN,DSN,3,<ndr3@edge>,dave@example.net,,2100,1,,<two@example.net>,Undeliverable: Lunch,,,
% end
$ edgectl Get-MessageTrackingLog
Timestamp           EventId Source Sender            Recipients                         MessageSubject
---------           ------- ------ ------            ----------                         --------------
2026-11-22 09:00:01 RECEIVE SMTP   alice@example.net bob@contoso.com, carol@contoso.com Quarterly report
2026-11-22 09:00:02 SEND    SMTP   alice@example.net bob@contoso.com, carol@contoso.com Quarterly report
2026-11-23 10:00:01 RECEIVE SMTP   dave@example.net  erin@fabrikam.com                  Lunch
2026-11-23 10:05:00 DEFER   SMTP   dave@example.net  erin@fabrikam.com                  Lunch
2026-11-23 12:00:00 FAIL    SMTP   dave@example.net  erin@fabrikam.com                  Lunch
2026-11-23 12:00:00 DSN     DSN                      dave@example.net                   Undeliverable: Lunch
$ edgectl Get-MessageTrackingLog -MessageId one@example.net
Timestamp           EventId Source Sender            Recipients                         MessageSubject
---------           ------- ------ ------            ----------                         --------------
2026-11-22 09:00:01 RECEIVE SMTP   alice@example.net bob@contoso.com, carol@contoso.com Quarterly report
2026-11-22 09:00:02 SEND    SMTP   alice@example.net bob@contoso.com, carol@contoso.com Quarterly report
$ edgectl Get-MessageTrackingLog -MessageId '<two@example.net>' -EventId fail -Format List
Timestamp               : 2026-11-23 12:00:00
ClientIp                : 127.0.0.1
ClientHostname          : edge
ServerIp                : 
ServerHostname          : fabrikam.com
SourceContext           : 550 5.1.1 no such user
ConnectorId             : To Internet
Source                  : SMTP
EventId                 : FAIL
InternalMessageId       : 2
MessageId               : <two@example.net>
Recipients              : erin@fabrikam.com
RecipientStatus         : 550 5.1.1 no such user
TotalBytes              : 800
RecipientCount          : 1
RelatedRecipientAddress : 
Reference               : 
MessageSubject          : Lunch
Sender                  : dave@example.net
ReturnPath              : dave@example.net
MessageInfo             : 
$ edgectl Get-MessageTrackingLog -Sender DAVE@example.net
Timestamp           EventId Source Sender           Recipients        MessageSubject
---------           ------- ------ ------           ----------        --------------
2026-11-23 10:00:01 RECEIVE SMTP   dave@example.net erin@fabrikam.com Lunch
2026-11-23 10:05:00 DEFER   SMTP   dave@example.net erin@fabrikam.com Lunch
2026-11-23 12:00:00 FAIL    SMTP   dave@example.net erin@fabrikam.com Lunch
$ edgectl Get-MessageTrackingLog -Recipients carol@contoso.com,dave@example.net
Timestamp           EventId Source Sender            Recipients                         MessageSubject
---------           ------- ------ ------            ----------                         --------------
2026-11-22 09:00:01 RECEIVE SMTP   alice@example.net bob@contoso.com, carol@contoso.com Quarterly report
2026-11-22 09:00:02 SEND    SMTP   alice@example.net bob@contoso.com, carol@contoso.com Quarterly report
2026-11-23 12:00:00 DSN     DSN                      dave@example.net                   Undeliverable: Lunch
$ edgectl Get-MessageTrackingLog -Sender Dave@Example.NET. -EventId receive
Timestamp           EventId Source Sender           Recipients        MessageSubject
---------           ------- ------ ------           ----------        --------------
2026-11-23 10:00:01 RECEIVE SMTP   dave@example.net erin@fabrikam.com Lunch
$ edgectl Get-MessageTrackingLog -Start '2026-11-23 10:01' -End '11/23/2026 11:00 AM'
Timestamp           EventId Source Sender           Recipients        MessageSubject
---------           ------- ------ ------           ----------        --------------
2026-11-23 10:05:00 DEFER   SMTP   dave@example.net erin@fabrikam.com Lunch
$ edgectl Get-MessageTrackingLog -Start 2026-11-23 -ResultSize 2
Timestamp           EventId Source Sender           Recipients        MessageSubject
---------           ------- ------ ------           ----------        --------------
2026-11-23 10:00:01 RECEIVE SMTP   dave@example.net erin@fabrikam.com Lunch
2026-11-23 10:05:00 DEFER   SMTP   dave@example.net erin@fabrikam.com Lunch
$ edgectl Get-MessageTrackingLog -MessageSubject report -Json | python3 -c 'import json,sys; e=json.load(sys.stdin); print([(x["EventId"], x["Timestamp"], x["RecipientCount"], x["Recipients"]) for x in e])'
[('RECEIVE', '2026-11-22T09:00:01Z', 2, ['bob@contoso.com', 'carol@contoso.com']), ('SEND', '2026-11-22T09:00:02Z', 2, ['bob@contoso.com', 'carol@contoso.com'])]
$ edgectl Get-MessageTrackingLog -Filter "TotalBytes -ge 1KB -and EventId -ne 'SEND'"
Timestamp           EventId Source Sender            Recipients                         MessageSubject
---------           ------- ------ ------            ----------                         --------------
2026-11-22 09:00:01 RECEIVE SMTP   alice@example.net bob@contoso.com, carol@contoso.com Quarterly report
2026-11-23 12:00:00 DSN     DSN                      dave@example.net                   Undeliverable: Lunch
# Bad input.
$ edgectl Get-MessageTrackingLog -Start yesterday
! edgectl: Get-MessageTrackingLog: -Start: 'yesterday' is not a time; expected 2026-11-23, 2026-11-23 14:05:00 or 11/23/2026 2:05 PM
[exit 2]
$ edgectl Get-MessageTrackingLog -ResultSize 0
! edgectl: Get-MessageTrackingLog: -ResultSize: '0' is not valid; expected a whole number from 1, or unlimited
[exit 2]
$ edgectl Get-MessageTrackingLog -InternalMessageId x
! edgectl: Get-MessageTrackingLog: -InternalMessageId: 'x' is not a number
[exit 2]
