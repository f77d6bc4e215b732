# Cloned configuration (issue 21, Exchange 2007 SP1's ExportEdgeConfig / ImportEdgeConfig):
# Export-EdgeConfig writes every configuration object to a JSON file; Import-EdgeConfig
# -IsImport $false checks it against this host and writes the answer file of the
# server-specific values, and Import-EdgeConfig -AnswerFile applies it, all or nothing.
$ edgectl New-AcceptedDomain Contoso -DomainName contoso.com -Default '$true'
$ edgectl New-ReceiveConnector Internet -Bindings 127.0.0.2:2525 -RemoteIPRanges 0.0.0.0-255.255.255.255
$ edgectl New-SendConnector Outbound -AddressSpaces '*' -SourceIPAddress 127.0.0.2 -Fqdn mx1.contoso.com
$ edgectl Export-EdgeConfig -Path edge.json
$ sed -n '1,8p' edge.json
{
  "Format": "edge-transport EdgeConfig",
  "Version": 1,
  "Objects": {
    "ReceiveConnector": {
      "Internet": {
        "Name": "Internet",
        "Enabled": "$true",
$ grep -c '"DomainName": "contoso.com"' edge.json
1
$ ls -l edge.json | cut -c1-10
-rw-------
# An export never replaces a file, and needs a -Path.
$ edgectl Export-EdgeConfig -Path edge.json
! edgectl: Export-EdgeConfig: -Path: edge.json already exists; Export-EdgeConfig does not replace files
[exit 1]
$ edgectl Export-EdgeConfig
! edgectl: Export-EdgeConfig: -Path FILE is required
[exit 2]
# Step one: the answer file, each value checked here.
$ edgectl Import-EdgeConfig -Path edge.json -AnswerFile answers.json -IsImport '$false'
Kind             Identity Setting         Value           Problem
----             -------- -------         -----           -------
ReceiveConnector Internet Bindings        127.0.0.2:2525
ReceiveConnector Internet Fqdn
SendConnector    Outbound SourceIPAddress 127.0.0.2
SendConnector    Outbound Fqdn            mx1.contoso.com
! edgectl: Import-EdgeConfig: wrote 4 answers to answers.json, 0 with a problem on this host; edit the Values, then Import-EdgeConfig -Path edge.json -AnswerFile answers.json applies the configuration
$ cat answers.json
{
  "Format": "edge-transport EdgeConfig answers",
  "Version": 1,
  "Answers": [
    {"Kind": "ReceiveConnector", "Identity": "Internet", "Setting": "Bindings",
     "Value": "127.0.0.2:2525",
     "Problem": ""},
    {"Kind": "ReceiveConnector", "Identity": "Internet", "Setting": "Fqdn",
     "Value": "",
     "Problem": ""},
    {"Kind": "SendConnector", "Identity": "Outbound", "Setting": "SourceIPAddress",
     "Value": "127.0.0.2",
     "Problem": ""},
    {"Kind": "SendConnector", "Identity": "Outbound", "Setting": "Fqdn",
     "Value": "mx1.contoso.com",
     "Problem": ""}
  ]
}
# Step two: applied (here onto its own source: nothing changes, our own listener's binding is not "in use").
$ edgectl Import-EdgeConfig -Path edge.json -AnswerFile answers.json
! edgectl: Import-EdgeConfig: imported 3 objects
$ edgectl Get-SendConnector Outbound -Format List | grep -E '^(Identity|SourceIPAddress|Fqdn) '
Identity                     : Outbound
SourceIPAddress              : 127.0.0.2
Fqdn                         : mx1.contoso.com
# Bad input: no such file, not JSON, a cut file, an unknown kind, a bad value, another version.
$ edgectl Import-EdgeConfig -Path missing.json -AnswerFile answers.json
! edgectl: Import-EdgeConfig: -Path: cannot read missing.json: No such file or directory
[exit 1]
$ printf 'not json' > bad.json && edgectl Import-EdgeConfig -Path bad.json -AnswerFile answers.json
! edgectl: Import-EdgeConfig: -Path: bad.json is not a usable edge configuration: not valid JSON (syntax error)
[exit 1]
$ head -c 200 edge.json > cut.json && edgectl Import-EdgeConfig -Path cut.json -AnswerFile answers.json
! edgectl: Import-EdgeConfig: -Path: cut.json is not a usable edge configuration: not valid JSON (incomplete JSON)
[exit 1]
$ sed 's/"MilterServer"/"MilterServers"/' edge.json > unknown.json && edgectl Import-EdgeConfig -Path unknown.json -AnswerFile answers.json
! edgectl: Import-EdgeConfig: -Path: unknown.json is not a usable edge configuration: unknown kind "MilterServers"
[exit 1]
$ sed 's/"MaxMessageSize": "10485760"/"MaxMessageSize": "ten"/' edge.json > value.json && edgectl Import-EdgeConfig -Path value.json -AnswerFile answers.json
! edgectl: Import-EdgeConfig: -Path: value.json is not a usable edge configuration: ReceiveConnector 'Internet' -MaxMessageSize: 'ten' is not valid; expected a size such as 10MB, 500KB or 65536 bytes, from 65536 to 2147483647
! SendConnector 'Outbound' -MaxMessageSize: 'ten' is not valid; expected a size such as 10MB, 500KB or 65536 bytes, from 0 to 2147483647, or unlimited
[exit 1]
$ sed 's/"Version": 1/"Version": 2/' edge.json > version.json && edgectl Import-EdgeConfig -Path version.json -AnswerFile answers.json
! edgectl: Import-EdgeConfig: -Path: version.json is not a usable edge configuration: "Version" must be 1 (this edgectl reads that version)
[exit 1]
# Wrong answer files: not one, an address not on this host (192.0.2.1 is documentation, on no
# interface), a setting that is not server-specific, a missing answer. Nothing is changed.
$ edgectl Import-EdgeConfig -Path edge.json -AnswerFile edge.json
! edgectl: Import-EdgeConfig: -AnswerFile: edge.json is not a usable answer file: not an edge-transport EdgeConfig answers file ("Format" is not "edge-transport EdgeConfig answers") (Import-EdgeConfig -IsImport $false writes one)
[exit 1]
$ sed 's/"Value": "127.0.0.2"/"Value": "192.0.2.1"/; s/"Value": "127.0.0.2:2525"/"Value": "192.0.2.1:25"/' answers.json > elsewhere.json
$ edgectl Import-EdgeConfig -Path edge.json -AnswerFile elsewhere.json
! edgectl: Import-EdgeConfig: the configuration was not imported, nothing was changed:
!   ReceiveConnector 'Internet' -Bindings: 192.0.2.1:25: 192.0.2.1 is not an address of this host (expected 0.0.0.0, :: or an address on one of its interfaces)
!   SendConnector 'Outbound' -SourceIPAddress: 192.0.2.1 is not an address of this host (expected 0.0.0.0, :: or an address on one of its interfaces)
[exit 1]
$ sed 's/"Setting": "Fqdn"/"Setting": "Banner"/' answers.json > banner.json && edgectl Import-EdgeConfig -Path edge.json -AnswerFile banner.json
! edgectl: Import-EdgeConfig: -AnswerFile: banner.json is not a usable answer file: answer 2: ReceiveConnector -Banner is not a server-specific value an answer file holds
! answer 4: SendConnector -Banner is not a server-specific value an answer file holds (Import-EdgeConfig -IsImport $false writes one)
[exit 1]
$ printf '{"Format": "edge-transport EdgeConfig answers", "Version": 1, "Answers": []}' > empty.json
$ edgectl Import-EdgeConfig -Path edge.json -AnswerFile empty.json
! edgectl: Import-EdgeConfig: the configuration was not imported, nothing was changed:
!   ReceiveConnector 'Internet' -Bindings: no answer in empty.json (Import-EdgeConfig -IsImport $false lists every one)
!   ReceiveConnector 'Internet' -Fqdn: no answer in empty.json (Import-EdgeConfig -IsImport $false lists every one)
!   SendConnector 'Outbound' -SourceIPAddress: no answer in empty.json (Import-EdgeConfig -IsImport $false lists every one)
!   SendConnector 'Outbound' -Fqdn: no answer in empty.json (Import-EdgeConfig -IsImport $false lists every one)
[exit 1]
$ edgectl Import-EdgeConfig -Path edge.json -AnswerFile none.json
! edgectl: Import-EdgeConfig: -AnswerFile: cannot read none.json: No such file or directory (Import-EdgeConfig -IsImport $false writes it)
[exit 1]
$ edgectl Get-SendConnector Outbound -Format List | grep -E '^(Identity|SourceIPAddress|Fqdn) '
Identity                     : Outbound
SourceIPAddress              : 127.0.0.2
Fqdn                         : mx1.contoso.com
# Set-TransportConfig's organisation limits (reference §3.2), with Exchange 2007 SP1's defaults.
$ edgectl Get-TransportConfig | grep -E '^(MaxReceiveSize|MaxSendSize|MaxRecipientEnvelopeLimit|GenerateCopyOfDSNFor) '
MaxReceiveSize             : 10MB
MaxSendSize                : 10MB
MaxRecipientEnvelopeLimit  : 5000
GenerateCopyOfDSNFor       : 5.4.8, 5.4.6, 5.4.4, 5.2.4, 5.2.0, 5.1.4
$ edgectl Set-TransportConfig -MaxReceiveSize 25MB -MaxSendSize unlimited -MaxRecipientEnvelopeLimit 500 -GenerateCopyOfDSNFor 5.4.4,5.1.1
$ edgectl Get-TransportConfig | grep -E '^(MaxReceiveSize|MaxSendSize|MaxRecipientEnvelopeLimit|GenerateCopyOfDSNFor) '
MaxReceiveSize             : 25MB
MaxSendSize                : unlimited
MaxRecipientEnvelopeLimit  : 500
GenerateCopyOfDSNFor       : 5.4.4, 5.1.1
$ edgectl Set-TransportConfig -GenerateCopyOfDSNFor 4.4.7
! edgectl: Set-TransportConfig: -GenerateCopyOfDSNFor: '4.4.7' is not valid; expected enhanced status codes of NDRs such as 5.4.4 (5.x.y)
[exit 1]
$ edgectl Set-TransportConfig -MaxRecipientEnvelopeLimit 0
! edgectl: Set-TransportConfig: -MaxRecipientEnvelopeLimit: '0' is not valid; expected a whole number from 1 to 2147483647, or unlimited
[exit 1]
$ edgectl Set-TransportConfig -MaxReceiveSize 1KB
! edgectl: Set-TransportConfig: -MaxReceiveSize: '1KB' is not valid; expected a size such as 10MB, 500KB or 65536 bytes, from 65536 to 2147483647, or unlimited
[exit 1]
# They travel with a clone.
$ edgectl Export-EdgeConfig -Path again.json && grep -E '"(MaxReceiveSize|GenerateCopyOfDSNFor)"' again.json
        "MaxReceiveSize": "26214400",
        "GenerateCopyOfDSNFor": "5.4.4,5.1.1"
