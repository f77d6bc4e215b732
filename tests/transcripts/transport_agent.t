# Transport agents (issue 16): Relay Control first, always (priority 0, cannot be
# disabled: it keeps the edge from being an open relay), then Exchange's agents in
# Exchange's order, 1..N. Changes reach the running server within a second.
$ edgectl Get-TransportAgent
Identity                         Enabled Priority
--------                         ------- --------
Relay Control                    True           0
Connection Filtering Agent       True           1
Address Rewriting Inbound Agent  True           2
Sender Id Agent                  True           3
DKIM Verification Agent          True           4
DMARC Agent                      True           5
Milter Agent                     True           6
Content Filter Agent             True           7
Sender Filter Agent              True           8
Recipient Filter Agent           True           9
Protocol Analysis Agent          True          10
Attachment Filtering Agent       True          11
Address Rewriting Outbound Agent True          12
$ edgectl Disable-TransportAgent 'Recipient Filter Agent'
$ edgectl Get-TransportAgent 'recipient filter agent' -Format List
Identity : Recipient Filter Agent
Enabled  : False
Priority : 9
$ edgectl Enable-TransportAgent 'Recipient Filter Agent'
$ edgectl Get-TransportAgent -Json | python3 -c 'import json,sys; print([(a["Identity"], a["Enabled"], a["Priority"]) for a in json.load(sys.stdin)])'
[('Relay Control', True, 0), ('Connection Filtering Agent', True, 1), ('Address Rewriting Inbound Agent', True, 2), ('Sender Id Agent', True, 3), ('DKIM Verification Agent', True, 4), ('DMARC Agent', True, 5), ('Milter Agent', True, 6), ('Content Filter Agent', True, 7), ('Sender Filter Agent', True, 8), ('Recipient Filter Agent', True, 9), ('Protocol Analysis Agent', True, 10), ('Attachment Filtering Agent', True, 11), ('Address Rewriting Outbound Agent', True, 12)]
# Moving an agent closes up the others behind it.
$ edgectl Set-TransportAgent 'Recipient Filter Agent' -Priority 1
$ edgectl Get-TransportAgent
Identity                         Enabled Priority
--------                         ------- --------
Relay Control                    True           0
Recipient Filter Agent           True           1
Connection Filtering Agent       True           2
Address Rewriting Inbound Agent  True           3
Sender Id Agent                  True           4
DKIM Verification Agent          True           5
DMARC Agent                      True           6
Milter Agent                     True           7
Content Filter Agent             True           8
Sender Filter Agent              True           9
Protocol Analysis Agent          True          10
Attachment Filtering Agent       True          11
Address Rewriting Outbound Agent True          12
# Bad input; nothing changes.
$ edgectl Disable-TransportAgent 'Relay Control'
! edgectl: Disable-TransportAgent: 'Relay Control' cannot be disabled: it is what keeps this edge from relaying mail for anyone (an open relay, RFC 5321 §3.9, RFC 2505). To take mail for a domain, add it with New-AcceptedDomain; to let a host relay, give its Receive connector the ExchangeServers or Partners permission
[exit 1]
# Exchange's Edge Rule Agent is one the edge does not have.
$ edgectl Disable-TransportAgent 'Edge Rule Agent'
! edgectl: Disable-TransportAgent: no transport agent named 'Edge Rule Agent'; 'edgectl Get-TransportAgent' lists them
[exit 1]
$ edgectl Set-TransportAgent 'Recipient Filter Agent' -Priority 0
! edgectl: Set-TransportAgent: -Priority: 0 is out of range; expected 1 to 12 (the number of transport agents that can be ordered)
[exit 1]
$ edgectl Set-TransportAgent 'Recipient Filter Agent' -Priority 99
! edgectl: Set-TransportAgent: -Priority: 99 is out of range; expected 1 to 12 (the number of transport agents that can be ordered)
[exit 1]
$ edgectl Set-TransportAgent 'Recipient Filter Agent' -Priority abc
! edgectl: Set-TransportAgent: -Priority: 'abc' is not a whole number
[exit 2]
$ edgectl Set-TransportAgent 'Relay Control' -Priority 1
! edgectl: Set-TransportAgent: 'Relay Control' always runs first (priority 0), before every agent; its priority cannot be changed
[exit 1]
$ edgectl Get-TransportAgent | grep Recipient
Recipient Filter Agent           True           1
# The agent log (Exchange 2007 SP1's AgentLog): one line per verdict that is not
# Continue. What a client chose comes back as sent, shown terminal-safe.
% write Logs/AgentLog/AGENTLOG20261123-1.LOG
#Software: edge-transport
#Version: edge-transport 0.1.0
#Log-type: Agent Log
#Date: 2026-11-23T10:00:00.000Z
#Fields: Timestamp,SessionId,IPAddress,MessageId,P1FromAddress,P2FromAddresses,Recipients,Agent,Event,Action,SmtpResponse,Reason,ReasonData,Diagnostics
2026-11-23T10:00:01.123Z,08DF0A1B2C3D4E5F,192.0.2.7,,spammer@example.org,,ceo@contoso.com,Recipient Filter Agent,OnRcptCommand,RejectCommand,550 5.1.1 User unknown,BlockedRecipient,ceo@contoso.com,
2026-11-23T11:30:00.000Z,08DF0A1B2C3D4E60,198.51.100.9,,a@example.net,,x@elsewhere.example,Relay Control,OnRcptCommand,RejectCommand,550 5.7.1 Unable to relay,RelayDenied,elsewhere.example,
2026-11-23T12:00:00.000Z,08DF0A1B2C3D4E61,192.0.2.8,,'=cmd@example.org,,"a,b@contoso.com",Recipient Filter Agent,OnRcptCommand,RejectCommand,550 5.1.1 User unknown,BlockedRecipient,\x1B[2Jx,
% end
$ edgectl Get-AgentLog -Agent 'relay control' -Format Table
Timestamp           Agent         Event         Action        Recipients          SmtpResponse
---------           -----         -----         ------        ----------          ------------
2026-11-23 11:30:00 Relay Control OnRcptCommand RejectCommand x@elsewhere.example 550 5.7.1 Unable to relay
$ edgectl Get-AgentLog -StartDate '2026-11-23 11:45' | grep -E '^(Timestamp|P1FromAddress|Recipients|ReasonData) '
Timestamp       : 2026-11-23 12:00:00
P1FromAddress   : =cmd@example.org
Recipients      : a,b@contoso.com
ReasonData      : \x1B[2Jx
$ edgectl Get-AgentLog -EndDate 2026-11-23T10:30:00Z -Json | python3 -c 'import json,sys; e=json.load(sys.stdin); print(len(e), e[0]["Agent"], e[0]["Reason"], e[0]["Recipients"], e[0]["SmtpResponse"])'
1 Recipient Filter Agent BlockedRecipient ['ceo@contoso.com'] 550 5.1.1 User unknown
$ edgectl Get-AgentLog -StartDate yesterday
! edgectl: Get-AgentLog: -StartDate: 'yesterday' is not a time; expected 2026-11-23, 2026-11-23 14:05:00 or 11/23/2026 2:05 PM
[exit 2]
