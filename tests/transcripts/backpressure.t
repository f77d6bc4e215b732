# Get-BackPressure shows what the running server's monitor last measured.
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
Resource                      Level  Reading NormalThreshold MediumThreshold HighThreshold Since
--------                      -----  ------- --------------- --------------- ------------- -----
Overall                       High                                                         2026-11-23 10:00:00
Queue database and disk space High       97%             93%             95%           97%
Queue database map usage      Normal      1%             91%             93%           95%
Private bytes                 Normal      2%             71%             73%           75%
Submission queue length       Normal       0            2000           10000         15000
$ edgectl Get-BackPressure -Filter "Level -eq 'High'" -Format List
Resource        : Overall
Level           : High
Reading         : 
Unit            : 
NormalThreshold : 
MediumThreshold : 
HighThreshold   : 
SampleFailed    : False
Detail          : EnableResourceMonitoring is $true
Since           : 2026-11-23 10:00:00
SampledAt       : 2026-11-23 10:00:02

Resource        : Queue database and disk space
Level           : High
Reading         : 97%
Unit            : %
NormalThreshold : 93%
MediumThreshold : 95%
HighThreshold   : 97%
SampleFailed    : False
Detail          : /var/lib/edge-transport
Since           : 
SampledAt       : 2026-11-23 10:00:02
$ edgectl Get-BackPressure -Json | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r[0]["Level"], r[1]["Reading"], r[1]["HighThreshold"], r[0]["Since"])'
High 97 97 2026-11-23T10:00:00Z
