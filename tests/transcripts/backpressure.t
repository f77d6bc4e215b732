# Get-BackPressure shows what the running server's monitor last measured: asked live
# over the server's status socket, else read from BackPressure.status, which is shown
# Stale when older than 10 s (a full queue volume stops the server from rewriting it).
# Here a lock stands for the server, so the socket never answers.
$ edgectl Get-BackPressure
! edgectl: Get-BackPressure: the server is not running on {DATA}; back pressure is measured by the running server
[exit 1]
% server-running
$ edgectl Get-BackPressure
! edgectl: Get-BackPressure: the server has not written a back-pressure sample yet; try again in a few seconds
[exit 1]
% write BackPressure.status
Format=1
Level=High
PreviousLevel=Normal
Since=1795428000000000000
SampledAt=1795428002000000000
MonitoringEnabled=true
Resource=Name=Queue database and disk space;Value=97.4;Unit=%25;Normal=93;Medium=95;High=97;Level=High;SampleFailed=false;Detail=/var/lib/edge-transport;Failure=;StorageFullReported=false
Resource=Name=Queue database map usage;Value=1.5;Unit=%25;Normal=91;Medium=93;High=95;Level=Normal;SampleFailed=false;Detail=;Failure=;StorageFullReported=false
Resource=Name=Private bytes;Value=2.25;Unit=%25;Normal=71;Medium=73;High=75;Level=Normal;SampleFailed=false;Detail=;Failure=;StorageFullReported=false
Resource=Name=Submission queue length;Value=0;Unit=;Normal=2000;Medium=10000;High=15000;Level=Normal;SampleFailed=false;Detail=;Failure=;StorageFullReported=false
End=4
% end
$ edgectl Get-BackPressure
Resource                      Level Reading NormalThreshold MediumThreshold HighThreshold Since
--------                      ----- ------- --------------- --------------- ------------- -----
Overall                       Stale                                                       2026-11-23 10:00:00
Queue database and disk space Stale     97%             93%             95%           97%
Queue database map usage      Stale      1%             91%             93%           95%
Private bytes                 Stale      2%             71%             73%           75%
Submission queue length       Stale       0            2000           10000         15000
# Older than 10 s and no answer from the server: every level is Stale, and the
# details say what it was, when, and why it could not be refreshed.
$ edgectl Get-BackPressure -Filter "Resource -eq 'Overall'" -Format List
Resource        : Overall
Level           : Stale
Reading         : 
Unit            : 
NormalThreshold : 
MediumThreshold : 
HighThreshold   : 
SampleFailed    : False
Detail          : Stale: the status file was last written at SampledAt, more than 10 s ago, with the level High; the server did not answer on its status socket (connect: Connection refused)
Since           : 2026-11-23 10:00:00
SampledAt       : 2026-11-23 10:00:02
$ edgectl Get-BackPressure -Filter "Resource -eq 'Queue database and disk space'" -Format List
Resource        : Queue database and disk space
Level           : Stale
Reading         : 97%
Unit            : %
NormalThreshold : 93%
MediumThreshold : 95%
HighThreshold   : 97%
SampleFailed    : False
Detail          : /var/lib/edge-transport; stale: High when last sampled
Since           : 
SampledAt       : 2026-11-23 10:00:02
$ edgectl Get-BackPressure -Json | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r[0]["Level"], r[1]["Reading"], r[1]["HighThreshold"], r[0]["Since"])'
Stale 97 97 2026-11-23T10:00:00Z
# A file as fresh as the server's (its SampledAt is in the future here: this
# transcript's clock does not move) is shown as it is, saying where it came from.
% write BackPressure.status
Format=1
Level=Medium
PreviousLevel=Normal
Since=4102444800000000000
SampledAt=4102444800000000000
MonitoringEnabled=true
Resource=Name=Queue database and disk space;Value=68.5;Unit=%25;Normal=66;Medium=68;High=70;Level=Medium;SampleFailed=false;Detail=/var/lib/edge-transport;Failure=;StorageFullReported=false
End=1
% end
$ edgectl Get-BackPressure
Resource                      Level  Reading NormalThreshold MediumThreshold HighThreshold Since
--------                      -----  ------- --------------- --------------- ------------- -----
Overall                       Medium                                                       2100-01-01 00:00:00
Queue database and disk space Medium     68%             66%             68%           70%
$ edgectl Get-BackPressure -Filter "Resource -eq 'Overall'" -Format List
Resource        : Overall
Level           : Medium
Reading         : 
Unit            : 
NormalThreshold : 
MediumThreshold : 
HighThreshold   : 
SampleFailed    : False
Detail          : EnableResourceMonitoring is $true; from the status file (no answer on the status socket: connect: Connection refused)
Since           : 2100-01-01 00:00:00
SampledAt       : 2100-01-01 00:00:00
