# The milters (issue 19): New-/Get-/Set-/Remove-MilterServer, ours after Postfix's
# smtpd_milters and its defaults (milter_connect_timeout, milter_command_timeout 30 s,
# milter_default_action tempfail). The Milter Agent asks the enabled ones in Priority order.
$ edgectl New-MilterServer rspamd -Address 127.0.0.1:11332
$ edgectl New-MilterServer clamav -Address unix:/run/clamav/clamav-milter.ctl -DefaultAction Accept
$ edgectl New-MilterServer opendkim -Address inet:LocalHost:8891 -VerdictHandling ContentFilter -Priority 1
$ edgectl Get-MilterServer
Identity Address                            Priority DefaultAction VerdictHandling Enabled
-------- -------                            -------- ------------- --------------- -------
clamav   unix:/run/clamav/clamav-milter.ctl        2 Accept        Apply           True
opendkim localhost:8891                            1 TempFail      ContentFilter   True
rspamd   127.0.0.1:11332                           1 TempFail      Apply           True
$ edgectl Get-MilterServer rspamd -Format List
Identity        : rspamd
Name            : rspamd
Address         : 127.0.0.1:11332
Protocol        : 6
ConnectTimeout  : 00:00:30
CommandTimeout  : 00:00:30
DefaultAction   : TempFail
VerdictHandling : Apply
Enabled         : True
Priority        : 1
$ edgectl Set-MilterServer rspamd -CommandTimeout 00:00:05 -VerdictHandling ContentFilter -Enabled '$false'
$ edgectl Get-MilterServer rspamd -Format List
Identity        : rspamd
Name            : rspamd
Address         : 127.0.0.1:11332
Protocol        : 6
ConnectTimeout  : 00:00:30
CommandTimeout  : 00:00:05
DefaultAction   : TempFail
VerdictHandling : ContentFilter
Enabled         : False
Priority        : 1
$ edgectl Set-MilterServer clamav -Address [::1]:7357
$ edgectl Get-MilterServer clamav -Format List
Identity        : clamav
Name            : clamav
Address         : [::1]:7357
Protocol        : 6
ConnectTimeout  : 00:00:30
CommandTimeout  : 00:00:30
DefaultAction   : Accept
VerdictHandling : Apply
Enabled         : True
Priority        : 2
# Bad input: each refused with what is expected, nothing written.
$ edgectl New-MilterServer bad -Address nowhere
! edgectl: New-MilterServer: -Address: 'nowhere' is not valid; expected host:port (127.0.0.1:11332, [::1]:11332, localhost:8891) or unix:/path
[exit 1]
$ edgectl New-MilterServer bad -Address unix:relative/path
! edgectl: New-MilterServer: -Address: 'unix:relative/path' is not valid; expected host:port (127.0.0.1:11332, [::1]:11332, localhost:8891) or unix:/path
[exit 1]
$ edgectl New-MilterServer bad -Address 127.0.0.1:70000
! edgectl: New-MilterServer: -Address: '127.0.0.1:70000' is not valid; expected host:port (127.0.0.1:11332, [::1]:11332, localhost:8891) or unix:/path
[exit 1]
$ edgectl New-MilterServer bad -Address 127.0.0.1:1 -Protocol 2
! edgectl: New-MilterServer: -Protocol: '2' is not valid; expected a whole number from 6 to 6
[exit 1]
$ edgectl New-MilterServer bad -Address 127.0.0.1:1 -ConnectTimeout -00:00:01
! edgectl: New-MilterServer: -ConnectTimeout: '-00:00:01' is not valid; expected a time span [d.]hh:mm:ss from 00:00:01 to 01:00:00
[exit 1]
$ edgectl New-MilterServer bad -Address 127.0.0.1:1 -CommandTimeout 00:00:00
! edgectl: New-MilterServer: -CommandTimeout: '00:00:00' is not valid; expected a time span [d.]hh:mm:ss from 00:00:01 to 01:00:00
[exit 1]
$ edgectl New-MilterServer bad -Address 127.0.0.1:1 -DefaultAction Discard
! edgectl: New-MilterServer: -DefaultAction: 'Discard' is not valid; expected one of Accept,TempFail,Reject
[exit 1]
$ edgectl New-MilterServer bad -Address 127.0.0.1:1 -VerdictHandling Maybe
! edgectl: New-MilterServer: -VerdictHandling: 'Maybe' is not valid; expected one of Apply,ContentFilter
[exit 1]
$ edgectl New-MilterServer rspamd -Address 127.0.0.1:1
! edgectl: New-MilterServer: -Name: a MilterServer named 'rspamd' already exists
[exit 1]
$ edgectl New-MilterServer nameless
! edgectl: New-MilterServer: -Address is required (Where the milter listens: host:port, [IPv6]:port, or unix:/path (Postfix's inet:host:port is taken too))
[exit 2]
$ edgectl Remove-MilterServer missing
! edgectl: Remove-MilterServer: no MilterServer named 'missing'; 'edgectl Get-MilterServer' lists them
[exit 1]
$ edgectl Remove-MilterServer opendkim
$ edgectl Get-MilterServer
Identity Address         Priority DefaultAction VerdictHandling Enabled
-------- -------         -------- ------------- --------------- -------
clamav   [::1]:7357             2 Accept        Apply           True
rspamd   127.0.0.1:11332        1 TempFail      ContentFilter   False
