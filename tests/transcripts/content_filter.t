# The Content Filter (issue 19, reference §9.2): Exchange's names and defaults, reject on
# at SCL 7 as 2007's console had it, and ours for the scanner milters' mapping.
$ edgectl Get-ContentFilterConfig
$ edgectl Set-ContentFilterConfig -SCLRejectThreshold 6 -BypassedSenders Friend@Partner.Example -BypassedSenderDomains '*.Trusted.Example' -RejectionResponse 'Spam is not welcome here' -MaxScannedMessageSize 20MB
$ edgectl Get-ContentFilterConfig -Json | python3 -c 'import json,sys; c=json.load(sys.stdin)[0]; print(c["SCLRejectThreshold"], c["BypassedSenders"], c["BypassedSenderDomains"], c["RejectionResponse"], c["MaxScannedMessageSize"])'
# Quarantine needs a mailbox, and the actions that are on keep delete > reject > quarantine.
$ edgectl Set-ContentFilterConfig -SCLQuarantineEnabled '$true'
$ edgectl Set-ContentFilterConfig -SCLQuarantineEnabled '$true' -SCLQuarantineThreshold 7 -QuarantineMailbox quarantine@contoso.com
$ edgectl Set-ContentFilterConfig -SCLQuarantineEnabled '$true' -SCLQuarantineThreshold 5 -QuarantineMailbox quarantine@contoso.com
$ edgectl Set-ContentFilterConfig -SCLDeleteEnabled '$true' -SCLDeleteThreshold 6
# Bad input; nothing changes.
$ edgectl Set-ContentFilterConfig -SCLRejectThreshold 10
$ edgectl Set-ContentFilterConfig -SCLRejectThreshold -1
$ edgectl Set-ContentFilterConfig -QuarantineMailbox 'not an address'
$ edgectl Set-ContentFilterConfig -RejectionResponse 'Spam überall'
$ edgectl Set-ContentFilterConfig -RejectionResponse 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'
$ edgectl Set-ContentFilterConfig -ScannerScoreThresholds 1,2,3
$ edgectl Set-ContentFilterConfig -ScannerScoreThresholds 0,1,2,3,4,6,8,10,ten
$ edgectl Set-ContentFilterConfig -ScannerScoreThresholds 0,1,2,3,4,6,8,15,10
$ edgectl Set-ContentFilterConfig -MilterRejectScl 11
$ edgectl Set-ContentFilterConfig -BypassedSenderDomains 'bad..domain'
$ edgectl Set-ContentFilterConfig -ScannerScoreThresholds '-5,0,2.5,3,4,6,8,10,15' -MilterTempFailScl 4
$ edgectl Get-ContentFilterConfig -Json | python3 -c 'import json,sys; c=json.load(sys.stdin)[0]; print(c["SCLRejectThreshold"], c["SCLQuarantineEnabled"], c["SCLQuarantineThreshold"], c["ScannerScoreThresholds"], c["MilterTempFailScl"])'
# Custom phrases: whole words, any case; at most 800.
$ edgectl Add-ContentFilterPhrase -Phrase 'Free Money' -Influence BadWord
$ edgectl Add-ContentFilterPhrase 'project falcon' -Influence GoodWord
$ edgectl Get-ContentFilterPhrase
$ edgectl Get-ContentFilterPhrase 'FREE MONEY' -Format List
$ edgectl Add-ContentFilterPhrase -Phrase 'free money' -Influence GoodWord
$ edgectl Add-ContentFilterPhrase -Phrase '!!!' -Influence BadWord
$ edgectl Add-ContentFilterPhrase -Phrase 'cheap' -Influence Neutral
$ edgectl Add-ContentFilterPhrase -Phrase 'cheap'
$ edgectl Add-ContentFilterPhrase -Influence BadWord
$ edgectl Remove-ContentFilterPhrase -Phrase 'no such phrase'
$ edgectl Remove-ContentFilterPhrase
$ edgectl Remove-ContentFilterPhrase -Phrase 'FREE money'
$ edgectl Get-ContentFilterPhrase
