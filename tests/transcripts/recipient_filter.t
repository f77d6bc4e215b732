# The Recipient Filter agent's configuration: one object, shown as a list.
$ edgectl Get-RecipientFilterConfig
Identity                   : RecipientFilterConfig
Enabled                    : True
ExternalMailEnabled        : True
InternalMailEnabled        : False
BlockListEnabled           : False
BlockedRecipients          : 
RecipientValidationEnabled : False
$ edgectl Set-RecipientFilterConfig -RecipientValidationEnabled '$true' -BlockListEnabled '$true' -BlockedRecipients ceo@contoso.com,'cfo@contoso.com'
$ edgectl Get-RecipientFilterConfig RecipientFilterConfig -Format List
Identity                   : RecipientFilterConfig
Enabled                    : True
ExternalMailEnabled        : True
InternalMailEnabled        : False
BlockListEnabled           : True
BlockedRecipients          : ceo@contoso.com, cfo@contoso.com
RecipientValidationEnabled : True
$ edgectl Get-RecipientFilterConfig -Json | python3 -c 'import json,sys; c=json.load(sys.stdin)[0]; print(c["BlockedRecipients"], c["RecipientValidationEnabled"], c["InternalMailEnabled"])'
['ceo@contoso.com', 'cfo@contoso.com'] True False
# Bad input; nothing changes.
$ edgectl Set-RecipientFilterConfig -BlockedRecipients 'not an address'
! edgectl: Set-RecipientFilterConfig: -BlockedRecipients: 'not an address' is not valid; expected an e-mail address such as postmaster@contoso.com
[exit 1]
$ edgectl Set-RecipientFilterConfig -RecipientValidationEnabled sometimes
! edgectl: Set-RecipientFilterConfig: -RecipientValidationEnabled: 'sometimes' is not valid; expected $true or $false
[exit 1]
$ edgectl Set-RecipientFilterConfig Other -Enabled '$false'
! edgectl: Set-RecipientFilterConfig: there is one RecipientFilterConfig, named RecipientFilterConfig; not 'Other'
[exit 1]
$ edgectl New-RecipientFilterConfig
! edgectl: there is no cmdlet 'New-RecipientFilterConfig'; 'edgectl help' lists them
[exit 2]
$ edgectl Get-RecipientFilterConfig | grep -E '^(Enabled|BlockedRecipients) '
Enabled                    : True
BlockedRecipients          : ceo@contoso.com, cfo@contoso.com
