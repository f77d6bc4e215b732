# The Attachment Filtering Agent (issue 19): its configuration, one object shown as a
# list, and its list of entries. A fresh edge has the list Exchange ships: 10 content
# types and 60 file name patterns.
$ edgectl Get-AttachmentFilterListConfig
Identity            : AttachmentFilterListConfig
Action              : Reject
RejectResponse      : Message rejected due to unacceptable attachments
AdminMessage        : This attachment was removed.
ExceptionConnectors : 
MaxMimeDepth        : 30
MaxMimeParts        : 1000
$ edgectl Get-AttachmentFilterEntry | head -4
Type        Name                     Identity
----        ----                     --------
ContentType application/x-msdownload ContentType:application/x-msdownload
ContentType message/partial          ContentType:message/partial
$ edgectl Get-AttachmentFilterEntry -Filter "Type -eq 'FileName'" | grep -c FileName:
60
$ edgectl Get-AttachmentFilterEntry FileName:*.EXE
Type     Name  Identity
----     ----  --------
FileName *.exe FileName:*.exe
$ edgectl Add-AttachmentFilterEntry -Name BadFile.doc -Type FileName
Type     Name        Identity
----     ----        --------
FileName BadFile.doc FileName:BadFile.doc
$ edgectl Add-AttachmentFilterEntry -Name image/jpeg -Type ContentType
Type        Name       Identity
----        ----       --------
ContentType image/jpeg ContentType:image/jpeg
$ edgectl Remove-AttachmentFilterEntry ContentType:message/partial
$ edgectl Get-AttachmentFilterEntry | grep -c ':'
71
$ edgectl Get-AttachmentFilterEntry ContentType:message/partial
! edgectl: Get-AttachmentFilterEntry: no attachment filter entry 'ContentType:message/partial'; 'edgectl Get-AttachmentFilterEntry' lists them
[exit 1]
$ edgectl Set-AttachmentFilterListConfig -Action Strip -AdminMessage 'Removed by the edge: executables are not delivered.' -RejectResponse 'Executables are not accepted here'
$ edgectl New-ReceiveConnector Partners -Bindings 0.0.0.0:2525 -RemoteIPRanges 192.0.2.0/24 -PermissionGroups AnonymousUsers,Partners
$ edgectl Set-AttachmentFilterListConfig -ExceptionConnectors partners
$ edgectl Get-AttachmentFilterListConfig -Json | python3 -c 'import json,sys; c=json.load(sys.stdin)[0]; print(c["Action"], c["AdminMessage"], c["ExceptionConnectors"], c["MaxMimeDepth"], c["MaxMimeParts"])'
Strip Removed by the edge: executables are not delivered. ['partners'] 30 1000
# Bad input; nothing changes.
$ edgectl Add-AttachmentFilterEntry -Name '*.exe' -Type FileName
! edgectl: Add-AttachmentFilterEntry: the attachment filter entry 'FileName:*.exe' already exists
[exit 1]
$ edgectl Add-AttachmentFilterEntry -Name 'bad*.exe' -Type FileName
! edgectl: Add-AttachmentFilterEntry: -Name: 'bad*.exe': a wildcard is allowed only as *.extension (*.exe)
[exit 1]
$ edgectl Add-AttachmentFilterEntry -Name 'C:\temp\x.exe' -Type FileName
! edgectl: Add-AttachmentFilterEntry: -Name: 'C:\temp\x.exe' holds a path; expected a file name (BadFile.exe) or *.extension
[exit 1]
$ edgectl Add-AttachmentFilterEntry -Name 'image/' -Type ContentType
! edgectl: Add-AttachmentFilterEntry: -Name: 'image/' is not a MIME content type; expected type/subtype, such as image/jpeg
[exit 1]
$ edgectl Add-AttachmentFilterEntry -Name '*.exe' -Type Extension
! edgectl: Add-AttachmentFilterEntry: -Type: 'Extension' is not one of FileName, ContentType
[exit 1]
$ edgectl Add-AttachmentFilterEntry -Name '*.exe'
! edgectl: Add-AttachmentFilterEntry: -Name and -Type are required (Add-AttachmentFilterEntry -Name *.exe -Type FileName)
[exit 2]
$ edgectl Remove-AttachmentFilterEntry FileName:*.nothing
! edgectl: Remove-AttachmentFilterEntry: no attachment filter entry 'FileName:*.nothing'; 'edgectl Get-AttachmentFilterEntry' lists them
[exit 1]
$ edgectl Remove-AttachmentFilterEntry '*.exe'
! edgectl: Remove-AttachmentFilterEntry: -Identity: '*.exe' is not an attachment filter entry; expected FileName:<name> or ContentType:<type/subtype> ('edgectl Get-AttachmentFilterEntry' lists them)
[exit 2]
$ edgectl Set-AttachmentFilterListConfig -Action Quarantine
! edgectl: Set-AttachmentFilterListConfig: -Action: 'Quarantine' is not valid; expected one of Reject,Strip,SilentDelete
[exit 1]
$ edgectl Set-AttachmentFilterListConfig -ExceptionConnectors 'No Such Connector'
! edgectl: Set-AttachmentFilterListConfig: -ExceptionConnectors: no Receive connector named 'No Such Connector'; 'edgectl Get-ReceiveConnector' lists them
[exit 1]
$ edgectl Set-AttachmentFilterListConfig -MaxMimeDepth 1000
! edgectl: Set-AttachmentFilterListConfig: -MaxMimeDepth: '1000' is not valid; expected a whole number from 2 to 100
[exit 1]
$ edgectl Set-AttachmentFilterListConfig -MaxMimeParts 5
! edgectl: Set-AttachmentFilterListConfig: -MaxMimeParts: '5' is not valid; expected a whole number from 10 to 100000
[exit 1]
$ edgectl Get-AttachmentFilterListConfig -Format List
Identity            : AttachmentFilterListConfig
Action              : Strip
RejectResponse      : Executables are not accepted here
AdminMessage        : Removed by the edge: executables are not delivered.
ExceptionConnectors : partners
MaxMimeDepth        : 30
MaxMimeParts        : 1000
