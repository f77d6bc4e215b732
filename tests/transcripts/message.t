# Messages. Identity <SERVER>\<queue>\<number>.
% enqueue from=alice@example.net to=bob@contoso.com subject="Quarterly report" size=3000
% enqueue from=dave@example.net to=erin@fabrikam.com,bob@contoso.com subject="Lunch" size=700
% enqueue from=frank@example.net to=gina@fabrikam.com subject="Invoice 42" size=12000
$ edgectl Get-Message
Identity            FromAddress       Status  Size Queue
--------            -----------       ------  ---- -----
{SERVER}\contoso.com\1  alice@example.net Ready   3000 {SERVER}\contoso.com
{SERVER}\contoso.com\2  dave@example.net  Ready    700 {SERVER}\contoso.com
{SERVER}\fabrikam.com\2 dave@example.net  Ready    700 {SERVER}\fabrikam.com
{SERVER}\fabrikam.com\3 frank@example.net Ready  12000 {SERVER}\fabrikam.com
$ edgectl Get-Message -Queue '{SERVER}\fabrikam.com'
Identity            FromAddress       Status  Size Queue
--------            -----------       ------  ---- -----
{SERVER}\fabrikam.com\2 dave@example.net  Ready    700 {SERVER}\fabrikam.com
{SERVER}\fabrikam.com\3 frank@example.net Ready  12000 {SERVER}\fabrikam.com
$ edgectl Get-Message '{SERVER}\contoso.com\1' -Format List | grep -E '^(Identity|Subject|InternetMessageId|FromAddress|Status|Size|MessageSourceName|SourceIP|Recipients|Queue) '
Identity              : {SERVER}\contoso.com\1
Subject               : Quarterly report
InternetMessageId     : <1@transcript.test>
FromAddress           : alice@example.net
Status                : Ready
Size                  : 3000
MessageSourceName     : Default internal receive connector
SourceIP              : 127.0.0.2
Recipients            : bob@contoso.com
Queue                 : {SERVER}\contoso.com
# -Filter over any property, typed: sizes, text, lists.
$ edgectl Get-Message -Filter "Size -gt 2KB"
Identity            FromAddress       Status  Size Queue
--------            -----------       ------  ---- -----
{SERVER}\contoso.com\1  alice@example.net Ready   3000 {SERVER}\contoso.com
{SERVER}\fabrikam.com\3 frank@example.net Ready  12000 {SERVER}\fabrikam.com
$ edgectl Get-Message -Filter "Size -gt 2KB -and FromAddress -like 'frank@*'"
Identity            FromAddress       Status  Size Queue
--------            -----------       ------  ---- -----
{SERVER}\fabrikam.com\3 frank@example.net Ready  12000 {SERVER}\fabrikam.com
$ edgectl Get-Message -Filter "Subject -like '*report*' -or Recipients -eq 'gina@fabrikam.com'"
Identity            FromAddress       Status  Size Queue
--------            -----------       ------  ---- -----
{SERVER}\contoso.com\1  alice@example.net Ready   3000 {SERVER}\contoso.com
{SERVER}\fabrikam.com\3 frank@example.net Ready  12000 {SERVER}\fabrikam.com
$ edgectl Get-Message -Filter "DateReceived -lt '2000-01-01'"
# Pages, with Exchange's paging parameters: a page reads only its own messages, so a
# queue of a million is read a page at a time.
$ edgectl Get-Message -ResultSize 2 -ReturnPageInfo
Identity           FromAddress       Status Size Queue
--------           -----------       ------ ---- -----
{SERVER}\contoso.com\1 alice@example.net Ready  3000 {SERVER}\contoso.com
{SERVER}\contoso.com\2 dave@example.net  Ready   700 {SERVER}\contoso.com
! edgectl: Get-Message: page info: objects 1 to 2; the next page: -BookmarkObject '{SERVER}\contoso.com\2' -IncludeBookmark '$false' (or -BookmarkIndex 3)
$ edgectl Get-Message -BookmarkObject '{SERVER}\contoso.com\2' -IncludeBookmark '$false'
Identity            FromAddress       Status  Size Queue
--------            -----------       ------  ---- -----
{SERVER}\fabrikam.com\2 dave@example.net  Ready    700 {SERVER}\fabrikam.com
{SERVER}\fabrikam.com\3 frank@example.net Ready  12000 {SERVER}\fabrikam.com
$ edgectl Get-Message -BookmarkIndex 3 -ResultSize 1
Identity            FromAddress      Status Size Queue
--------            -----------      ------ ---- -----
{SERVER}\fabrikam.com\2 dave@example.net Ready   700 {SERVER}\fabrikam.com
$ edgectl Get-Message -SearchForward '$false' -ResultSize 2 -ReturnPageInfo
Identity            FromAddress       Status  Size Queue
--------            -----------       ------  ---- -----
{SERVER}\fabrikam.com\3 frank@example.net Ready  12000 {SERVER}\fabrikam.com
{SERVER}\fabrikam.com\2 dave@example.net  Ready    700 {SERVER}\fabrikam.com
! edgectl: Get-Message: page info: 2 object(s); the next page: -BookmarkObject '{SERVER}\fabrikam.com\2' -IncludeBookmark '$false'
$ edgectl Get-Message -Queue fabrikam.com -BookmarkObject 3 -SearchForward '$false'
Identity            FromAddress       Status  Size Queue
--------            -----------       ------  ---- -----
{SERVER}\fabrikam.com\3 frank@example.net Ready  12000 {SERVER}\fabrikam.com
{SERVER}\fabrikam.com\2 dave@example.net  Ready    700 {SERVER}\fabrikam.com
$ edgectl Get-Message -Filter "Size -lt 1KB" -BookmarkIndex 2
Identity            FromAddress      Status Size Queue
--------            -----------      ------ ---- -----
{SERVER}\fabrikam.com\2 dave@example.net Ready   700 {SERVER}\fabrikam.com
$ edgectl Get-Message -BookmarkIndex 0
! edgectl: Get-Message: -BookmarkIndex: '0' is not valid; expected a position from 1 (the first object)
[exit 2]
$ edgectl Get-Message -BookmarkIndex 9
$ edgectl Get-Message -BookmarkObject '{SERVER}\contoso.com\3'
! edgectl: Get-Message: -BookmarkObject: {SERVER}\contoso.com\3 is not there (any more)
[exit 1]
$ edgectl Get-Message -BookmarkIndex 2 -BookmarkObject 1
! edgectl: Get-Message: give -BookmarkIndex or -BookmarkObject, not both
[exit 2]
$ edgectl Get-Message -BookmarkObject 'contoso.com\x'
! edgectl: Get-Message: -BookmarkObject: 'contoso.com\x' is not a message identity; expected <SERVER>\<queue>\<number> or the number
[exit 2]
$ edgectl Get-Queue -ResultSize 1 -ReturnPageInfo
Identity        DeliveryType Status MessageCount NextHopDomain
--------        ------------ ------ ------------ -------------
{SERVER}\Submission Undefined    Ready             0 Submission
! edgectl: Get-Queue: page info: objects 1 to 1; the next page: -BookmarkObject '{SERVER}\Submission' -IncludeBookmark '$false' (or -BookmarkIndex 2)
# Suspend-Message and Resume-Message: in one queue, or (bare number) in every queue.
$ edgectl Suspend-Message '{SERVER}\fabrikam.com\2'
$ edgectl Get-Message 2
Identity            FromAddress      Status    Size Queue
--------            -----------      ------    ---- -----
{SERVER}\contoso.com\2  dave@example.net Ready      700 {SERVER}\contoso.com
{SERVER}\fabrikam.com\2 dave@example.net Suspended  700 {SERVER}\fabrikam.com
$ edgectl Resume-Message 2
$ edgectl Suspend-Message -Filter "FromAddress -eq 'frank@example.net'"
$ edgectl Get-Message -Filter "Status -eq 'Suspended'"
Identity            FromAddress       Status     Size Queue
--------            -----------       ------     ---- -----
{SERVER}\fabrikam.com\3 frank@example.net Suspended 12000 {SERVER}\fabrikam.com
# Export-Message writes the message as queued, byte for byte.
$ edgectl Export-Message '{SERVER}\fabrikam.com\3' -Path {DATA}/out.eml
$ cmp {DATA}/out.eml {DATA}/msg-3.eml && echo identical
identical
$ stat -c %a {DATA}/out.eml
600
# It never replaces a file, nor writes through a symlink at -Path.
$ edgectl Export-Message '{SERVER}\fabrikam.com\3' -Path {DATA}/out.eml
! edgectl: Export-Message: -Path: {DATA}/out.eml already exists; Export-Message does not replace files
[exit 1]
# Remove-Message: silently with -WithNDR $false; by default the server sends an NDR.
$ edgectl Remove-Message 1 -WithNDR '$false'
$ edgectl Remove-Message '{SERVER}\fabrikam.com\3'
! edgectl: Remove-Message: the server sends the NDR and then deletes the message (Status PendingRemove until then)
$ edgectl Get-Message
Identity            FromAddress       Status         Size Queue
--------            -----------       ------         ---- -----
{SERVER}\contoso.com\2  dave@example.net  Ready           700 {SERVER}\contoso.com
{SERVER}\fabrikam.com\3 frank@example.net PendingRemove 12000 {SERVER}\fabrikam.com
{SERVER}\fabrikam.com\2 dave@example.net  Ready           700 {SERVER}\fabrikam.com
# -Json parses.
$ edgectl Get-Message -Json | python3 -c 'import json,sys; m=json.load(sys.stdin); print(len(m), m[0]["Identity"].split(chr(92))[1:], m[0]["Size"], m[0]["Recipients"], m[0]["LastError"])'
3 ['contoso.com', '2'] 700 ['bob@contoso.com'] None
# Bad input.
$ edgectl Get-Message abc
! edgectl: Get-Message: -Identity: 'abc' is not a message identity; expected <SERVER>\<queue>\<number> or the number
[exit 2]
$ edgectl Get-Message '{SERVER}\contoso.com\99'
! edgectl: Get-Message: no message {SERVER}\contoso.com\99; 'edgectl Get-Message' lists them
[exit 1]
$ edgectl Suspend-Message
! edgectl: Suspend-Message: give a message -Identity or a -Filter (one of them)
[exit 2]
$ edgectl Suspend-Message 2 -Filter "Size -gt 1"
! edgectl: Suspend-Message: give a message -Identity or a -Filter (one of them)
[exit 2]
$ edgectl Export-Message 2
! edgectl: Export-Message: give the message Identity and -Path FILE
[exit 2]
$ edgectl Export-Message 2 -Path /nonexistent/dir/x.eml
! edgectl: Export-Message: -Path: cannot write /nonexistent/dir/x.eml: No such file or directory
[exit 1]
$ edgectl Remove-Message 99
! edgectl: Remove-Message: no message 99; 'edgectl Get-Message' lists them
[exit 1]
$ edgectl Get-Message -Filter "Size -gt lots"
! edgectl: Get-Message: -Filter: Size is a size, and 'lots' at position 10 is not one (such as 10MB, 500KB, 65536 or unlimited)
[exit 2]
$ edgectl Get-Message -Queue 'a\b\c'
! edgectl: Get-Message: -Queue: no server 'a' here; this is {SERVER}
[exit 1]
