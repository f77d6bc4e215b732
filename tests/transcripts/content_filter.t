# The Content Filter (issue 19, reference §9.2): Exchange's names and defaults, reject on
# at SCL 7 as 2007's console had it, and ours for the scanner milters' mapping.
$ edgectl Get-ContentFilterConfig
Identity                    : ContentFilterConfig
Enabled                     : True
ExternalMailEnabled         : True
InternalMailEnabled         : False
SCLDeleteEnabled            : False
SCLDeleteThreshold          : 9
SCLRejectEnabled            : True
SCLRejectThreshold          : 7
SCLQuarantineEnabled        : False
SCLQuarantineThreshold      : 9
QuarantineMailbox           : 
RejectionResponse           : Message rejected as spam by Content Filtering
BypassedRecipients          : 
BypassedSenders             : 
BypassedSenderDomains       : 
MaxScannedMessageSize       : 11MB
MilterRejectScl             : 9
MilterDiscardScl            : 9
MilterQuarantineScl         : 8
MilterTempFailScl           : 5
ScannerSpamFlagScl          : 6
ScannerScoreThresholds      : 0, 1, 2, 3, 4, 6, 8, 10, 15
DmarcQuarantineSclIncrease  : 5
SenderIdSoftFailSclIncrease : 1
$ edgectl Set-ContentFilterConfig -SCLRejectThreshold 6 -BypassedSenders Friend@Partner.Example -BypassedSenderDomains '*.Trusted.Example' -RejectionResponse 'Spam is not welcome here' -MaxScannedMessageSize 20MB
$ edgectl Get-ContentFilterConfig -Json | python3 -c 'import json,sys; c=json.load(sys.stdin)[0]; print(c["SCLRejectThreshold"], c["BypassedSenders"], c["BypassedSenderDomains"], c["RejectionResponse"], c["MaxScannedMessageSize"])'
6 ['Friend@partner.example'] ['*.trusted.example'] Spam is not welcome here 20971520
# Quarantine needs a mailbox, and the actions that are on keep delete > reject > quarantine.
$ edgectl Set-ContentFilterConfig -SCLQuarantineEnabled '$true'
! edgectl: Set-ContentFilterConfig: -SCLQuarantineEnabled $true needs -QuarantineMailbox (where quarantined messages go)
[exit 1]
$ edgectl Set-ContentFilterConfig -SCLQuarantineEnabled '$true' -SCLQuarantineThreshold 7 -QuarantineMailbox quarantine@contoso.com
! edgectl: Set-ContentFilterConfig: -SCLRejectThreshold (6) must be greater than -SCLQuarantineThreshold (7) when both are enabled
[exit 1]
$ edgectl Set-ContentFilterConfig -SCLQuarantineEnabled '$true' -SCLQuarantineThreshold 5 -QuarantineMailbox quarantine@contoso.com
$ edgectl Set-ContentFilterConfig -SCLDeleteEnabled '$true' -SCLDeleteThreshold 6
! edgectl: Set-ContentFilterConfig: -SCLDeleteThreshold (6) must be greater than -SCLRejectThreshold (6) when both are enabled
[exit 1]
# Bad input; nothing changes.
$ edgectl Set-ContentFilterConfig -SCLRejectThreshold 10
! edgectl: Set-ContentFilterConfig: -SCLRejectThreshold: '10' is not valid; expected a whole number from 0 to 9
[exit 1]
$ edgectl Set-ContentFilterConfig -SCLRejectThreshold -1
! edgectl: Set-ContentFilterConfig: -SCLRejectThreshold: '-1' is not valid; expected a whole number from 0 to 9
[exit 1]
$ edgectl Set-ContentFilterConfig -QuarantineMailbox 'not an address'
! edgectl: Set-ContentFilterConfig: -QuarantineMailbox: 'not an address' is not valid; expected an e-mail address such as postmaster@contoso.com
[exit 1]
$ edgectl Set-ContentFilterConfig -RejectionResponse 'Spam überall'
! edgectl: Set-ContentFilterConfig: -RejectionResponse: expected printable ASCII text on one line (it is sent in the 550 reply)
[exit 1]
$ edgectl Set-ContentFilterConfig -RejectionResponse 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'
! edgectl: Set-ContentFilterConfig: -RejectionResponse: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' is not valid; expected at most 240 characters
[exit 1]
$ edgectl Set-ContentFilterConfig -ScannerScoreThresholds 1,2,3
! edgectl: Set-ContentFilterConfig: -ScannerScoreThresholds: expected nine ascending scores such as 0,1,2,3,4,6,8,10,15 (SCL 1 to 9 from each)
[exit 1]
$ edgectl Set-ContentFilterConfig -ScannerScoreThresholds 0,1,2,3,4,6,8,10,ten
! edgectl: Set-ContentFilterConfig: -ScannerScoreThresholds: expected nine ascending scores such as 0,1,2,3,4,6,8,10,15 (SCL 1 to 9 from each)
[exit 1]
$ edgectl Set-ContentFilterConfig -ScannerScoreThresholds 0,1,2,3,4,6,8,15,10
! edgectl: Set-ContentFilterConfig: -ScannerScoreThresholds: expected nine ascending scores such as 0,1,2,3,4,6,8,10,15 (SCL 1 to 9 from each)
[exit 1]
$ edgectl Set-ContentFilterConfig -MilterRejectScl 11
! edgectl: Set-ContentFilterConfig: -MilterRejectScl: '11' is not valid; expected a whole number from 0 to 9
[exit 1]
$ edgectl Set-ContentFilterConfig -BypassedSenderDomains 'bad..domain'
! edgectl: Set-ContentFilterConfig: -BypassedSenderDomains: 'bad..domain' is not valid; expected no empty label (two dots together, or a leading dot) in 'bad..domain'
[exit 1]
$ edgectl Set-ContentFilterConfig -ScannerScoreThresholds '-5,0,2.5,3,4,6,8,10,15' -MilterTempFailScl 4
$ edgectl Get-ContentFilterConfig -Json | python3 -c 'import json,sys; c=json.load(sys.stdin)[0]; print(c["SCLRejectThreshold"], c["SCLQuarantineEnabled"], c["SCLQuarantineThreshold"], c["ScannerScoreThresholds"], c["MilterTempFailScl"])'
6 True 5 ['-5', '0', '2.5', '3', '4', '6', '8', '10', '15'] 4
# Custom phrases: whole words, any case; at most 800.
$ edgectl Add-ContentFilterPhrase -Phrase 'Free Money' -Influence BadWord
Phrase     Influence
------     ---------
Free Money BadWord
$ edgectl Add-ContentFilterPhrase 'project falcon' -Influence GoodWord
Phrase         Influence
------         ---------
project falcon GoodWord
$ edgectl Get-ContentFilterPhrase
Phrase         Influence
------         ---------
Free Money     BadWord
project falcon GoodWord
$ edgectl Get-ContentFilterPhrase 'FREE MONEY' -Format List
Identity  : free money
Phrase    : Free Money
Influence : BadWord
$ edgectl Add-ContentFilterPhrase -Phrase 'free money' -Influence GoodWord
! edgectl: Add-ContentFilterPhrase: the phrase 'free money' is already there (phrases are compared in any case)
[exit 1]
$ edgectl Add-ContentFilterPhrase -Phrase '!!!' -Influence BadWord
! edgectl: Add-ContentFilterPhrase: -Phrase: '!!!' holds no letter or digit; phrases are matched as whole words
[exit 1]
$ edgectl Add-ContentFilterPhrase -Phrase 'cheap' -Influence Neutral
! edgectl: Add-ContentFilterPhrase: -Influence: 'Neutral' is not valid; expected one of GoodWord,BadWord
[exit 1]
$ edgectl Add-ContentFilterPhrase -Phrase 'cheap'
! edgectl: Add-ContentFilterPhrase: -Influence is required: GoodWord (SCL 0) or BadWord (SCL 9)
[exit 1]
$ edgectl Add-ContentFilterPhrase -Influence BadWord
! edgectl: Add-ContentFilterPhrase: -Phrase is required: the word or words to look for
[exit 1]
$ edgectl Remove-ContentFilterPhrase -Phrase 'no such phrase'
! edgectl: Remove-ContentFilterPhrase: no ContentFilterPhrase 'no such phrase'; 'edgectl Get-ContentFilterPhrase' lists them
[exit 1]
$ edgectl Remove-ContentFilterPhrase
! edgectl: Remove-ContentFilterPhrase: which phrase? give -Phrase (or -Identity); 'edgectl Get-ContentFilterPhrase' lists them
[exit 2]
$ edgectl Remove-ContentFilterPhrase -Phrase 'FREE money'
$ edgectl Get-ContentFilterPhrase
Phrase         Influence
------         ---------
project falcon GoodWord
