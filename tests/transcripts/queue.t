# Queues. Identities as Exchange writes them: <SERVER>\<NextHopDomain>.
$ edgectl Get-Queue
Identity        DeliveryType Status MessageCount NextHopDomain
--------        ------------ ------ ------------ -------------
{SERVER}\Submission Undefined    Ready             0 Submission
% enqueue from=alice@example.net to=bob@contoso.com,carol@contoso.com
% enqueue from=dave@example.net to=erin@fabrikam.com size=5000
% enqueue from=frank@example.net to=gina@fabrikam.com
% enqueue from=hank@example.net to=ivan@nowhere.test hop=Unreachable
% defer hop=fabrikam.com error="451 4.4.0 fabrikam is busy" minutes=30
$ edgectl Get-Queue
Identity          DeliveryType         Status MessageCount NextHopDomain
--------          ------------         ------ ------------ -------------
{SERVER}\Submission   Undefined            Ready             0 Submission
{SERVER}\contoso.com  DnsConnectorDelivery Ready             1 contoso.com
{SERVER}\fabrikam.com DnsConnectorDelivery Retry             2 fabrikam.com
{SERVER}\Unreachable  Unreachable          Ready             1 Unreachable
$ edgectl Get-Queue '{SERVER}\fabrikam.com' -Format List | grep -E '^(Identity|Status|MessageCount|LastError|NextRetryTime|RetryMessageCount) '
Identity              : {SERVER}\fabrikam.com
Status                : Retry
MessageCount          : 2
LastError             : 451 4.4.0 fabrikam is busy
NextRetryTime         : 20{*}
RetryMessageCount     : 0
$ edgectl Get-Queue -Filter "Status -eq 'Retry' -and MessageCount -gt 1"
Identity          DeliveryType         Status MessageCount NextHopDomain
--------          ------------         ------ ------------ -------------
{SERVER}\fabrikam.com DnsConnectorDelivery Retry             2 fabrikam.com
$ edgectl Get-Queue -Filter "Status -eq 'Retry' -and MessageCount -gt 2"
$ edgectl Get-Queue -Filter "-not (NextHopDomain -like '*.com')"
Identity         DeliveryType Status MessageCount NextHopDomain
--------         ------------ ------ ------------ -------------
{SERVER}\Submission  Undefined    Ready             0 Submission
{SERVER}\Unreachable Unreachable  Ready             1 Unreachable
# Retry-Queue: the queue is Ready now.
$ edgectl Retry-Queue '{SERVER}\fabrikam.com'
$ edgectl Get-Queue fabrikam.com
Identity          DeliveryType         Status MessageCount NextHopDomain
--------          ------------         ------ ------------ -------------
{SERVER}\fabrikam.com DnsConnectorDelivery Ready             2 fabrikam.com
# Suspend-Queue and Resume-Queue, by identity or by filter.
$ edgectl Suspend-Queue -Filter "NextHopDomain -like '*.com'"
$ edgectl Get-Queue -Filter "Status -eq 'Suspended'"
Identity          DeliveryType         Status    MessageCount NextHopDomain
--------          ------------         ------    ------------ -------------
{SERVER}\contoso.com  DnsConnectorDelivery Suspended            1 contoso.com
{SERVER}\fabrikam.com DnsConnectorDelivery Suspended            2 fabrikam.com
$ edgectl Resume-Queue contoso.com
$ edgectl Get-Queue -Filter "Status -ne 'Suspended'"
Identity         DeliveryType         Status MessageCount NextHopDomain
--------         ------------         ------ ------------ -------------
{SERVER}\Submission  Undefined            Ready             0 Submission
{SERVER}\contoso.com DnsConnectorDelivery Ready             1 contoso.com
{SERVER}\Unreachable Unreachable          Ready             1 Unreachable
# Retry-Queue -Resubmit routes again: a Send connector for nowhere.test empties Unreachable.
$ edgectl Retry-Queue Unreachable -Resubmit '$true'
! edgectl: Retry-Queue: 1 message(s) resubmitted
$ edgectl New-SendConnector Nowhere -AddressSpaces nowhere.test -DNSRoutingEnabled '$false' -SmartHosts 127.0.0.1
$ edgectl Retry-Queue '{SERVER}\Unreachable' -Resubmit '$true'
! edgectl: Retry-Queue: 1 message(s) resubmitted
$ edgectl Get-Queue
Identity          DeliveryType               Status    MessageCount NextHopDomain
--------          ------------               ------    ------------ -------------
{SERVER}\Submission   Undefined                  Ready                0 Submission
{SERVER}\contoso.com  DnsConnectorDelivery       Ready                1 contoso.com
{SERVER}\fabrikam.com DnsConnectorDelivery       Suspended            2 fabrikam.com
{SERVER}\nowhere      SmartHostConnectorDelivery Ready                1 nowhere
# Bad input.
$ edgectl Suspend-Queue
! edgectl: Suspend-Queue: give a queue -Identity or a -Filter (one of them)
[exit 2]
$ edgectl Suspend-Queue nosuch.test
! edgectl: Suspend-Queue: no queue {SERVER}\nosuch.test; 'edgectl Get-Queue' lists them
[exit 1]
$ edgectl Get-Queue 'OTHER\contoso.com'
! edgectl: Get-Queue: -Identity: no server 'OTHER' here; this is {SERVER}
[exit 1]
$ edgectl Retry-Queue contoso.com -Resubmit maybe
! edgectl: Retry-Queue: -Resubmit: 'maybe' is not valid; expected $true or $false
[exit 2]
$ edgectl Get-Queue -Filter "Status -eq"
! edgectl: Get-Queue: -Filter: expected a value ('text', a number, $true, $false or $null) after '-eq' at position 11
[exit 2]
$ edgectl Get-Queue -Filter "Colour -eq 'Red'"
! edgectl: Get-Queue: -Filter: there is no property 'Colour' here; the properties are: Identity, DeliveryType, NextHopDomain, Status, MessageCount, LastError, LastRetryTime, NextRetryTime, ActiveMessageCount, ReadyMessageCount, RetryMessageCount, SuspendedMessageCount
[exit 2]
$ edgectl Get-Queue -Filter "MessageCount -gt many"
! edgectl: Get-Queue: -Filter: MessageCount is a number, and 'many' at position 18 is not one (such as 10, 2.5 or unlimited)
[exit 2]
