# The Sender Filter Agent's configuration (issue 17): one object, shown as a list.
# Entries are stored as typed, domains lower case; the agent compares senders in
# canonical form (quotes, case, IDN), so '"Evil"@Spam.TEST' blocks evil@spam.test too.
$ edgectl Get-SenderFilterConfig
Identity                    : SenderFilterConfig
Enabled                     : True
ExternalMailEnabled         : True
InternalMailEnabled         : False
BlockedSenders              : 
BlockedDomains              : 
BlockedDomainsAndSubdomains : 
BlankSenderBlockingEnabled  : False
Action                      : Reject
$ edgectl Set-SenderFilterConfig -BlockedSenders bad@spam.test,'"Evil"@Spam.TEST' -BlockedDomains Spam.Example -BlockedDomainsAndSubdomains '*.contoso.test',fabrikam.test -Action StampStatus
$ edgectl Get-SenderFilterConfig SenderFilterConfig -Format List
Identity                    : SenderFilterConfig
Enabled                     : True
ExternalMailEnabled         : True
InternalMailEnabled         : False
BlockedSenders              : bad@spam.test, "Evil"@spam.test
BlockedDomains              : spam.example
BlockedDomainsAndSubdomains : *.contoso.test, fabrikam.test
BlankSenderBlockingEnabled  : False
Action                      : StampStatus
$ edgectl Get-SenderFilterConfig -Json | python3 -c 'import json,sys; c=json.load(sys.stdin)[0]; print(c["BlockedSenders"], c["BlockedDomainsAndSubdomains"], c["Action"])'
['bad@spam.test', '"Evil"@spam.test'] ['*.contoso.test', 'fabrikam.test'] StampStatus
$ edgectl Set-SenderFilterConfig -BlankSenderBlockingEnabled '$true' -Action Reject
# Bad input; nothing changes.
$ edgectl Set-SenderFilterConfig -BlockedSenders 'not an address'
! edgectl: Set-SenderFilterConfig: -BlockedSenders: 'not an address' is not valid; expected an e-mail address such as postmaster@contoso.com
[exit 1]
$ edgectl Set-SenderFilterConfig -Action Drop
! edgectl: Set-SenderFilterConfig: -Action: 'Drop' is not valid; expected one of Reject,StampStatus
[exit 1]
$ edgectl Set-SenderFilterConfig -BlockedDomainsAndSubdomains 'bad..domain'
! edgectl: Set-SenderFilterConfig: -BlockedDomainsAndSubdomains: 'bad..domain' is not valid; expected no empty label (two dots together, or a leading dot) in 'bad..domain'
[exit 1]
$ edgectl Set-SenderFilterConfig -BlockedDomains '*.contoso.test'
! edgectl: Set-SenderFilterConfig: -BlockedDomains: '*.contoso.test' is not valid; expected a domain name such as mail.contoso.com
[exit 1]
$ edgectl Set-SenderFilterConfig -BlankSenderBlockingEnabled sometimes
! edgectl: Set-SenderFilterConfig: -BlankSenderBlockingEnabled: 'sometimes' is not valid; expected $true or $false
[exit 1]
$ edgectl Set-SenderFilterConfig Other -Enabled '$false'
! edgectl: Set-SenderFilterConfig: there is one SenderFilterConfig, named SenderFilterConfig; not 'Other'
[exit 1]
$ edgectl New-SenderFilterConfig
! edgectl: there is no cmdlet 'New-SenderFilterConfig'; 'edgectl help' lists them
[exit 2]
$ edgectl Get-SenderFilterConfig | grep -E '^(Enabled|BlankSenderBlockingEnabled|Action) '
Enabled                     : True
BlankSenderBlockingEnabled  : True
Action                      : Reject
# The pre-greet test on a Receive connector (ours, after postscreen): at most a minute,
# and less than the connector's ConnectionTimeout.
$ edgectl New-ReceiveConnector Internet -Bindings 0.0.0.0:2525 -RemoteIPRanges 0.0.0.0-255.255.255.255 -PreGreetDelay 00:00:02
$ edgectl Get-ReceiveConnector Internet -Format List | grep -E '^PreGreet'
PreGreetDelay                           : 00:00:02
PreGreetCacheTime                       : 1.00:00:00
$ edgectl Set-ReceiveConnector Internet -PreGreetDelay 00:05:00
! edgectl: Set-ReceiveConnector: -PreGreetDelay: '00:05:00' is not valid; expected a time span [d.]hh:mm:ss from 00:00:00 to 00:01:00
[exit 1]
$ edgectl Set-ReceiveConnector Internet -PreGreetDelay soon
! edgectl: Set-ReceiveConnector: -PreGreetDelay: 'soon' is not valid; expected a time span [d.]hh:mm:ss from 00:00:00 to 00:01:00
[exit 1]
# Test-SendConnector: what receivers see of a Send connector's source address (PTR,
# forward confirmation, the Fqdn). Its DNS cases run against NSD in
# tests/integration/test_sender_filter.cpp; here the bad input.
$ edgectl Test-SendConnector
! edgectl: Test-SendConnector: which SendConnector? give its Identity (Name)
[exit 2]
$ edgectl Test-SendConnector Nope
! edgectl: Test-SendConnector: no SendConnector named 'Nope'; 'edgectl Get-SendConnector' lists them
[exit 1]
$ edgectl help Test-SendConnector | grep -A1 SYNOPSIS
SYNOPSIS
    Check what receivers see of a Send connector: its source address's PTR name, whether that name leads back to the address, whether it is the connector's Fqdn
