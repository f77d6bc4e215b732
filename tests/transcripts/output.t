# Output: tables fit the terminal (here COLUMNS), lists show every property, JSON is typed.
% enqueue from=a-rather-long-sender-address@a-long-domain.example.net to=someone@contoso.com subject="x"
$ COLUMNS=60 edgectl Get-Message
Identity         FromAddress     Status Size Queue
--------         -----------     ------ ---- -----
{SERVER}\contoso.... a-rather-lon... Ready   200 {SERVER}\contoso...
$ COLUMNS=200 edgectl Get-Message
Identity           FromAddress                                            Status Size Queue
--------           -----------                                            ------ ---- -----
{SERVER}\contoso.com\1 a-rather-long-sender-address@a-long-domain.example.net Ready   200 {SERVER}\contoso.com
$ edgectl Get-Queue -Format List
Identity              : {SERVER}\Submission
DeliveryType          : Undefined
NextHopDomain         : Submission
Status                : Ready
MessageCount          : 0
LastError             : 
LastRetryTime         : 
NextRetryTime         : 
ActiveMessageCount    : 0
ReadyMessageCount     : 0
RetryMessageCount     : 0
SuspendedMessageCount : 0

Identity              : {SERVER}\contoso.com
DeliveryType          : DnsConnectorDelivery
NextHopDomain         : contoso.com
Status                : Ready
MessageCount          : 1
LastError             : 
LastRetryTime         : 
NextRetryTime         : 
ActiveMessageCount    : 0
ReadyMessageCount     : 1
RetryMessageCount     : 0
SuspendedMessageCount : 0
$ edgectl Get-Queue -Json
[
  {"Identity": "{SERVER}\\Submission", "DeliveryType": "Undefined", "NextHopDomain": "Submission", "Status": "Ready", "MessageCount": 0, "LastError": null, "LastRetryTime": null, "NextRetryTime": null, "ActiveMessageCount": 0, "ReadyMessageCount": 0, "RetryMessageCount": 0, "SuspendedMessageCount": 0},
  {"Identity": "{SERVER}\\contoso.com", "DeliveryType": "DnsConnectorDelivery", "NextHopDomain": "contoso.com", "Status": "Ready", "MessageCount": 1, "LastError": null, "LastRetryTime": null, "NextRetryTime": null, "ActiveMessageCount": 0, "ReadyMessageCount": 1, "RetryMessageCount": 0, "SuspendedMessageCount": 0}
]
$ edgectl Get-Queue -Filter "MessageCount -gt 5" -Json
[]
$ edgectl Get-Queue -Filter "MessageCount -gt 5"
$ edgectl Get-Message -ResultSize 1 -Format list | grep -c ' : '
19
